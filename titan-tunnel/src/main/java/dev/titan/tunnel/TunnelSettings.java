package dev.titan.tunnel;

import io.netty.handler.codec.http2.Http2Settings;
import java.time.Duration;

/**
 * HTTP/2 settings of a tunnel. Windows are what decide a tunnel's throughput: HTTP/2's default of
 * 64 KiB per stream allows at most 64 KiB in flight per round trip, the classic cause of slow
 * tunnels; the defaults here allow {@code streamWindow} per stream and {@code connectionWindow}
 * over all streams, while one stalled stream still holds at most its own window.
 */
public record TunnelSettings(int streamWindow, int connectionWindow, int maxFrameSize, int maxStreams, Duration pingInterval,
                             Duration pingTimeout, Duration handshakeTimeout) {
    public static final TunnelSettings DEFAULTS = new TunnelSettings(1 << 20, 16 << 20, 1 << 14, 10_000, Duration.ofSeconds(15),
            Duration.ofSeconds(45), Duration.ofSeconds(10));

    public TunnelSettings {
        if (streamWindow < 65_535 || connectionWindow < streamWindow) {
            throw new IllegalArgumentException("tunnel windows: stream window must be >= 65535 and <= the connection window");
        }
        if (maxFrameSize < 16_384 || maxFrameSize > 16_777_215) {
            throw new IllegalArgumentException("tunnel max_frame_size must be in [16384, 16777215], got " + maxFrameSize);
        }
        if (maxStreams < 1) {
            throw new IllegalArgumentException("tunnel max_streams must be >= 1, got " + maxStreams);
        }
    }

    /** {@code http2Server}: the dialling client, which acts as the HTTP/2 server (a server may not send ENABLE_PUSH). */
    Http2Settings http2(boolean http2Server) {
        Http2Settings s = Http2Settings.defaultSettings()
                .initialWindowSize(streamWindow)
                .maxFrameSize(maxFrameSize)
                .maxConcurrentStreams(maxStreams)
                .maxHeaderListSize(8192);
        return http2Server ? s : s.pushEnabled(false);
    }
}

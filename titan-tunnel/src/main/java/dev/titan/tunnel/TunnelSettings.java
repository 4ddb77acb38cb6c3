package dev.titan.tunnel;

import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import java.time.Duration;

/**
 * HTTP/2 settings of a tunnel. Windows are what decide a tunnel's throughput: HTTP/2's default of
 * 64 KiB per stream allows at most 64 KiB in flight per round trip, the classic cause of slow
 * tunnels; the defaults here allow {@code streamWindow} per stream and {@code connectionWindow}
 * over all streams, while one stalled stream still holds at most its own window.
 * {@code maxPendingOpens}: streams a client is still connecting to its local service for; beyond
 * it new streams are refused (503), so a server cannot make a client flood its own network.
 * {@code openTimeout} (server): how long a new stream waits for its client's answer before it goes
 * to another replica; longer than a client's {@code dial_timeout} (5 s by default), after which a
 * client answers 502 itself, so it only decides for a replica that has gone silent.
 */
public record TunnelSettings(int streamWindow, int connectionWindow, int maxFrameSize, int maxStreams, Duration pingInterval,
                             Duration pingTimeout, Duration handshakeTimeout, int maxPendingOpens, Duration openTimeout) {
    public static final TunnelSettings DEFAULTS = new TunnelSettings(1 << 20, 16 << 20, 1 << 14, 10_000, Duration.ofSeconds(15),
            Duration.ofSeconds(45), Duration.ofSeconds(10), 1_000, Duration.ofSeconds(10));

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
        if (openTimeout.isNegative() || openTimeout.isZero()) {
            throw new IllegalArgumentException("tunnel open_timeout must be positive, got " + openTimeout);
        }
        if (maxPendingOpens < 1) {
            throw new IllegalArgumentException("tunnel max_pending_opens must be >= 1, got " + maxPendingOpens);
        }
    }

    /**
     * The HTTP/2 codec of one end of a tunnel ({@code http2Server}: the dialling client). Netty's
     * limits on RST_STREAM frames sent and received (200 per 30 s, against "Rapid Reset" and
     * "MadeYouReset" on public HTTP/2 servers) are off: a tunnel stream is one user connection, so
     * every connection reset at either end is a RST_STREAM, and a stream reset while the peer's
     * window is full draws one RST_STREAM per DATA frame still in flight (up to 64 with the
     * default windows). Under such a limit, four iperf3 streams ending with a reset closed the
     * whole tunnel. Streams are opened only by the tunnel server, after the client has proved its
     * secret, and a reset stream leaves no work running behind it.
     *
     * <p>Streams take turns on the connection a full frame at a time. Netty's default distributor
     * hands out 1 KiB per stream per turn, so with four busy streams a 64 KiB read went out as
     * DATA frames of about 700 bytes each (iperf3 -P 4 ran at half the speed of -P 1).
     *
     * <p>Reads of the tunnel connection are kept as a composite rather than merged: a frame that
     * spans two reads made the codec copy every following read behind the remainder, so each byte
     * through the tunnel was copied once more in user space (profiled under iperf3: the receiving
     * end spent 6% of its CPU in that copy with 16 KiB frames, 14% with 256 KiB frames).
     */
    Http2FrameCodec codec(boolean http2Server) {
        DefaultHttp2Connection connection = new DefaultHttp2Connection(http2Server);
        UniformStreamByteDistributor distributor = new UniformStreamByteDistributor(connection);
        distributor.minAllocationChunk(maxFrameSize);
        connection.remote().flowController(new DefaultHttp2RemoteFlowController(connection, distributor));
        Http2FrameCodec codec = new CodecBuilder(connection).initialSettings(http2(http2Server))
                .decoderEnforceMaxRstFramesPerWindow(0, 0)
                .encoderEnforceMaxRstFramesPerWindow(0, 0)
                .build();
        codec.setCumulator(ByteToMessageDecoder.COMPOSITE_CUMULATOR);
        return codec;
    }

    /**
     * Reads of a tunnel connection of up to 1 MiB at a time, where Netty's default stops at 64 KiB:
     * under bulk traffic each read brings many frames, so the streams they feed flush larger writes
     * to their sockets, a fraction as many, and the far end wakes a fraction as often. Idle and
     * light tunnels keep small reads (the size adapts to what the last reads brought).
     */
    static void reads(io.netty.channel.Channel tunnel) {
        tunnel.config().setRecvByteBufAllocator(new io.netty.channel.AdaptiveRecvByteBufAllocator(64, 16 * 1024, 1 << 20));
    }

    /** Builds a codec over a connection set up beforehand (the builder's way to do so is protected). */
    private static final class CodecBuilder extends Http2FrameCodecBuilder {
        CodecBuilder(DefaultHttp2Connection connection) {
            connection(connection);
        }
    }

    /** {@code http2Server}: the dialling client, which acts as the HTTP/2 server (a server may not send ENABLE_PUSH). */
    private Http2Settings http2(boolean http2Server) {
        Http2Settings s = Http2Settings.defaultSettings()
                .initialWindowSize(streamWindow)
                .maxFrameSize(maxFrameSize)
                .maxConcurrentStreams(maxStreams)
                .maxHeaderListSize(8192);
        return http2Server ? s : s.pushEnabled(false);
    }
}

package dev.titan.tunnel;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import java.time.Duration;
import java.util.Set;
import java.util.function.LongConsumer;

/**
 * Settings of a tunnel's streams. Windows are what decide a tunnel's throughput: HTTP/2's default
 * of 64 KiB per stream allows at most 64 KiB in flight per round trip, the classic cause of slow
 * tunnels; the defaults here allow {@code streamWindow} per stream and up to {@code connectionWindow}
 * over all streams (the tunnel's window starts at one stream's and grows to what the path's
 * bandwidth and round trip need: {@link TunnelWindow}), while one stalled stream still holds at most
 * its own window.
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

    /** The tunnel window this side announces in the handshake: it grows from there up to {@code connectionWindow}. */
    int initialConnectionWindow() {
        return new MuxSession.Windows(streamWindow, connectionWindow).initialConnection();
    }

    /**
     * The stream layer of one end of a tunnel with these settings: this side grants its windows,
     * the peer {@code peers}; {@code acceptor} starts the streams the peer opens (null: it may open
     * none) and {@code owned} tracks every stream.
     */
    MuxSession.Setup mux(MuxSession.Windows peers, LongConsumer rtt, Runnable onGoAway, ChannelHandler acceptor, Set<Channel> owned) {
        return new MuxSession.Setup(new MuxSession.Windows(streamWindow, connectionWindow), peers, maxFrameSize, maxStreams,
                pingInterval.toNanos(), pingTimeout.toNanos(), rtt, onGoAway, acceptor, owned);
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
}

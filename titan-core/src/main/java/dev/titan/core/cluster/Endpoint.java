package dev.titan.core.cluster;

import dev.titan.core.config.HostPort;
import dev.titan.core.config.ScoringConfig;
import dev.titan.core.scoring.EndpointScore;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One destination of a cluster and its live state: score (updated on the cluster's control
 * executor), and counters read and written by every event loop (active connections, peak EWMA of
 * connect time, ejection). An endpoint is an address (a backend the forwarder dials) or a peer
 * known by its id and labels (a tunnel client or an edge, reached through its tunnel, whose
 * connector finds it in the endpoint's {@linkplain #attachment attachment}).
 */
public final class Endpoint {
    private final InetSocketAddress address;
    private final String id;
    private final Map<String, String> labels;
    private final Object attachment;
    private volatile int weight;
    private final EndpointScore score;
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicLong total = new AtomicLong();
    private final AtomicLong picks = new AtomicLong();
    private final java.util.Set<io.netty.channel.Channel> live = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile int cachedFailures;
    private volatile double cachedScore;
    private volatile long ejectedUntilNanos;
    private volatile int ejections;
    private volatile int passiveFailures; // written on the control loop, read anywhere
    private long lastProbeNanos = Long.MIN_VALUE;
    // peak-EWMA of connect latency (ns), decaying towards new samples; updated racily, which is fine
    private volatile double peakEwmaNanos;
    private volatile long peakStampNanos;

    public Endpoint(InetSocketAddress address, int weight, ScoringConfig scoring) {
        this(address, HostPort.format(address), Map.of(), null, weight, scoring);
    }

    /** A peer: reached through {@code attachment} (what its connector needs), not at an address. */
    public static Endpoint peer(String id, Map<String, String> labels, Object attachment, ScoringConfig scoring) {
        return new Endpoint(null, id, labels, Objects.requireNonNull(attachment, "attachment"), 1, scoring);
    }

    private Endpoint(InetSocketAddress address, String id, Map<String, String> labels, Object attachment, int weight,
                     ScoringConfig scoring) {
        this.address = address;
        this.id = Objects.requireNonNull(id, "id");
        this.labels = Map.copyOf(labels);
        this.attachment = attachment;
        this.weight = weight;
        this.score = new EndpointScore(scoring);
    }

    /** The address to dial; null for a peer reached through a tunnel. */
    public InetSocketAddress address() {
        return address;
    }

    /** {@code ip:port}, or a peer's id: the endpoint's name in metrics, logs and the status view. */
    public String id() {
        return id;
    }

    /** What is known about the endpoint (a peer's metadata: region, country, ...); empty for an address. */
    public Map<String, String> labels() {
        return labels;
    }

    /** What a connector needs to reach a peer (its tunnel session), if it is of {@code type}; else null. */
    public <T> T attachment(Class<T> type) {
        return type.isInstance(attachment) ? type.cast(attachment) : null;
    }

    /** The key a cluster tracks the endpoint by: its address, or a peer's id. */
    Object key() {
        return address != null ? address : id;
    }

    public int weight() {
        return weight;
    }

    void weight(int w) {
        weight = w;
    }

    /** The score state; only the cluster's control executor may touch it. */
    EndpointScore scoreState() {
        return score;
    }

    /** The last computed score, safe to read from any thread. */
    public double score() {
        return cachedScore;
    }

    void refreshScore() {
        cachedScore = score.score();
        cachedFailures = score.consecutiveFailures();
    }

    /** Consecutive failed checks (probes and real connections), safe to read from any thread. */
    public int consecutiveFailures() {
        return cachedFailures;
    }

    private final AtomicLong probeSuccesses = new AtomicLong();

    public long probeSuccesses() {
        return probeSuccesses.get();
    }

    void probeSucceeded() {
        probeSuccesses.incrementAndGet();
    }

    /** How many times a balancer chose this endpoint. */
    public long picks() {
        return picks.get();
    }

    void picked() {
        picks.incrementAndGet();
    }

    /** Registers an upstream connection carrying traffic, so a drain can end it; forgets it on close. */
    public void track(io.netty.channel.Channel upstream) {
        live.add(upstream);
        upstream.closeFuture().addListener(f -> live.remove(upstream));
    }

    /** Closes every tracked upstream connection; returns how many. */
    int closeLive() {
        int n = 0;
        for (io.netty.channel.Channel ch : live) {
            ch.close();
            n++;
        }
        return n;
    }

    public int activeConnections() {
        return active.get();
    }

    public long totalConnections() {
        return total.get();
    }

    public void connectionOpened() {
        active.incrementAndGet();
        total.incrementAndGet();
    }

    public void connectionClosed() {
        active.decrementAndGet();
    }

    public boolean isEjected(long nowNanos) {
        return nowNanos - ejectedUntilNanos < 0;
    }

    long ejectedUntil() {
        return ejectedUntilNanos;
    }

    void eject(long untilNanos) {
        ejectedUntilNanos = untilNanos;
        ejections++;
    }

    void clearEjection() {
        ejectedUntilNanos = Long.MIN_VALUE / 2;
        ejections = 0;
    }

    int ejections() {
        return ejections;
    }

    int passiveFailures() {
        return passiveFailures;
    }

    void passiveFailures(int n) {
        passiveFailures = n;
    }

    long lastProbeNanos() {
        return lastProbeNanos;
    }

    void lastProbeNanos(long t) {
        lastProbeNanos = t;
    }

    /**
     * Peak-EWMA cost (Finagle's): the latest sample wins immediately when it is worse, otherwise the
     * average decays towards it with a 10 s time constant. An endpoint with no sample costs 0, so new
     * endpoints are tried.
     */
    public double peakEwmaNanos(long nowNanos) {
        double v = peakEwmaNanos;
        if (v == 0) {
            return 0;
        }
        long elapsed = Math.max(0, nowNanos - peakStampNanos);
        return v * Math.exp(-elapsed / DECAY_NANOS);
    }

    private static final double DECAY_NANOS = 10e9;

    public void recordLatencySample(long sampleNanos, long nowNanos) {
        double current = peakEwmaNanos(nowNanos);
        double next;
        if (sampleNanos > current) {
            next = sampleNanos;
        } else {
            long elapsed = Math.max(0, nowNanos - peakStampNanos);
            double w = Math.exp(-elapsed / DECAY_NANOS);
            next = current * w + sampleNanos * (1 - w);
        }
        peakEwmaNanos = next;
        peakStampNanos = nowNanos;
    }

    @Override
    public String toString() {
        return id;
    }
}

package dev.titan.core.cluster;

import java.util.concurrent.atomic.AtomicLong;

/** Cluster-wide counters, read by metrics. */
public final class ClusterStats {
    private final AtomicLong probesOk = new AtomicLong();
    private final AtomicLong probesFailed = new AtomicLong();
    private final AtomicLong probeNanos = new AtomicLong();
    private final AtomicLong poolHits = new AtomicLong();
    private final AtomicLong poolMisses = new AtomicLong();
    private final AtomicLong ejections = new AtomicLong();
    private final AtomicLong noEndpoint = new AtomicLong();
    private final AtomicLong switches = new AtomicLong();
    private final AtomicLong picks = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private volatile ProbeListener probeListener;

    /** Called for every finished probe (for the probe-duration histogram). */
    public interface ProbeListener {
        void probed(boolean success, long nanos);
    }

    public void probeListener(ProbeListener l) {
        probeListener = l;
    }

    void probe(boolean ok, long nanos) {
        (ok ? probesOk : probesFailed).incrementAndGet();
        if (ok) {
            probeNanos.addAndGet(nanos);
        }
        ProbeListener l = probeListener;
        if (l != null) {
            l.probed(ok, nanos);
        }
    }

    void poolHit() {
        poolHits.incrementAndGet();
    }

    void poolMiss() {
        poolMisses.incrementAndGet();
    }

    void ejected() {
        ejections.incrementAndGet();
    }

    void noEndpoint() {
        noEndpoint.incrementAndGet();
    }

    void selectorSwitched() {
        switches.incrementAndGet();
    }

    void picked(Endpoint e) {
        picks.incrementAndGet();
        e.picked();
    }

    public long probesOk() {
        return probesOk.get();
    }

    public long probesFailed() {
        return probesFailed.get();
    }

    public long poolHits() {
        return poolHits.get();
    }

    public long poolMisses() {
        return poolMisses.get();
    }

    public long ejections() {
        return ejections.get();
    }

    public long noEndpointFailures() {
        return noEndpoint.get();
    }

    public long switches() {
        return switches.get();
    }

    void retried() {
        retries.incrementAndGet();
    }

    /** Connections that an endpoint could not take and that went to another (HAProxy's redispatch). */
    public long retries() {
        return retries.get();
    }

    public long picks() {
        return picks.get();
    }
}

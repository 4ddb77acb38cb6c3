package dev.titan.overlay;

import dev.titan.core.cluster.EndpointStatus;
import dev.titan.core.ingress.ClientHello;
import dev.titan.core.ingress.HttpHead;
import dev.titan.core.ingress.Ingress;
import dev.titan.core.route.DestinationRequest;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The log tags that place a failure within seconds: {@code [NODE_UNSTABLE]} when an edge's jitter,
 * success rate or run of failures crosses its threshold (and {@code [NODE_STABLE]} when it is back),
 * with the figures; and, opt-in, {@code [BROWSER_INFO]} with what a user's client sent first (TLS
 * server name, ALPN and JA3 fingerprint, or the HTTP User-Agent), never payload, so that a failure
 * can be told apart as the client's, the edge's or the target's.
 */
final class Diagnostics {
    private static final Logger log = LoggerFactory.getLogger("dev.titan.overlay.pop");

    /** When an edge counts as unstable: jitter above {@code maxJitterMs}, success below {@code minSuccessRate}, or that many failures in a row. */
    record Thresholds(double maxJitterMs, double minSuccessRate, int maxFailuresInARow) {
        static final Thresholds DEFAULT = new Thresholds(50, 0.95, 3);
    }

    private final Thresholds thresholds;
    private final EdgeThroughput throughput;
    private final Set<String> unstable = new HashSet<>();

    Diagnostics(Thresholds thresholds, EdgeThroughput throughput) {
        this.thresholds = thresholds;
        this.throughput = throughput;
    }

    /** Compares the edges' figures with the thresholds; returns the lines to log for edges that changed state. One caller at a time. */
    synchronized List<String> evaluate(List<EndpointStatus> edges) {
        List<String> lines = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (EndpointStatus e : edges) {
            seen.add(e.endpoint());
            var s = e.score();
            String why = null;
            if (s.checks() >= 5 && s.jitterMs() > thresholds.maxJitterMs()) {
                why = "jitter above " + fmt(thresholds.maxJitterMs()) + " ms";
            } else if (s.checks() >= 5 && s.successRate() < thresholds.minSuccessRate()) {
                why = "success rate below " + fmt(thresholds.minSuccessRate());
            } else if (s.consecutiveFailures() >= thresholds.maxFailuresInARow()) {
                why = s.consecutiveFailures() + " failures in a row";
            } else if (throughput.collapsed(e.endpoint())) {
                why = "throughput below a quarter of the edges' median";
            }
            double mbit = throughput.mbit(e.endpoint());
            String figures = "edge=" + e.endpoint() + " rtt=" + fmt(s.latencyMs()) + "ms jitter=" + fmt(s.jitterMs()) + "ms success="
                    + fmt(s.successRate()) + " failures_in_a_row=" + s.consecutiveFailures()
                    + (mbit < 0 ? "" : " throughput=" + fmt(mbit) + "Mbit/s") + " score=" + fmt(s.score()) + " state=" + e.state();
            if (why != null && unstable.add(e.endpoint())) {
                lines.add("[NODE_UNSTABLE] " + figures + " (" + why + ")");
            } else if (why == null && unstable.remove(e.endpoint())) {
                lines.add("[NODE_STABLE] " + figures);
            }
        }
        unstable.retainAll(seen);
        throughput.forgetAllBut(seen);
        return lines;
    }

    void logAll(List<String> lines) {
        lines.forEach(l -> {
            if (l.startsWith("[NODE_UNSTABLE]")) {
                log.warn(l);
            } else {
                log.info(l);
            }
        });
    }

    /** Edges unstable now. */
    synchronized int unstableCount() {
        return unstable.size();
    }

    /** What {@code request}'s client sent first, in words ({@code head}: its HTTP proxy request, or null). */
    static String browserInfo(DestinationRequest request, HttpHead head, ByteBuf first) {
        StringBuilder b = new StringBuilder("[BROWSER_INFO] user=").append(request.user()).append(" client=")
                .append(request.client() == null ? "-" : request.client().getAddress().getHostAddress()).append(" target=")
                .append(request.targetHost()).append(':').append(request.targetPort());
        if (head != null && head.header("user-agent") != null) {
            b.append(" proxy_ua=\"").append(clean(head.header("user-agent"))).append('"');
        }
        if (first != null && first.isReadable() && ClientHello.startsRecord(first.getByte(first.readerIndex()))) {
            try {
                ClientHello.Fingerprint f = ClientHello.fingerprint(first);
                if (f != null) {
                    return b.append(" tls sni=").append(f.serverName().isEmpty() ? "-" : f.serverName()).append(" alpn=")
                            .append(f.alpn().isEmpty() ? "-" : String.join(",", f.alpn())).append(" ja3=").append(f.ja3Md5()).toString();
                }
                return b.append(" tls (hello incomplete in the first bytes)").toString();
            } catch (Ingress.Malformed m) {
                return b.append(" tls? (").append(m.getMessage()).append(')').toString();
            }
        }
        if (first != null && first.isReadable()) {
            try {
                HttpHead h = HttpHead.read(first.duplicate());
                if (h != null) {
                    String ua = h.header("user-agent");
                    return b.append(" http ").append(h.method()).append(" ua=\"").append(ua == null ? "-" : clean(ua)).append('"').toString();
                }
            } catch (Ingress.Malformed m) {
                // not HTTP: say only how much came
            }
            return b.append(" other (").append(first.readableBytes()).append(" bytes before the connect)").toString();
        }
        return b.append(" nothing before the connect").toString();
    }

    private static String clean(String s) {
        String t = s.length() > 200 ? s.substring(0, 200) : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?").replace('"', '\'');
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }
}

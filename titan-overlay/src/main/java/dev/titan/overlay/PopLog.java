package dev.titan.overlay;

import dev.titan.core.route.DestinationRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The PoP's log lines about users' connections: who, to where, what failed; never credentials or payload. */
final class PopLog {
    private static final Logger log = LoggerFactory.getLogger("dev.titan.overlay.pop");

    private PopLog() {
    }

    static void failed(DestinationRequest r, ProxyFailure f) {
        log.info("[PROXY_FAILED] user={} client={} target={}:{} error={} ({})", r.user(), r.client() == null ? "-" : r.client().getAddress().getHostAddress(),
                r.targetHost(), r.targetPort(), f.error(), f.detail());
    }
}

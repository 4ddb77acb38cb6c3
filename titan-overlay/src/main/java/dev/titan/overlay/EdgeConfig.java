package dev.titan.overlay;

import dev.titan.core.config.Section;
import dev.titan.tunnel.TunnelClientConfig;
import java.util.Objects;

/** An edge: its tunnels to the PoPs (id, secret, labels, transports) and its egress policy. */
public record EdgeConfig(TunnelClientConfig tunnels, EgressPolicy egress) implements Section {
    public EdgeConfig {
        Objects.requireNonNull(tunnels, "tunnels");
        Objects.requireNonNull(egress, "egress");
    }

    @Override
    public String summary() {
        return "edge " + tunnels.id() + ", " + tunnels.connections() + " tunnel(s) to " + tunnels.servers()
                + (tunnels.labels().isEmpty() ? "" : ", labels " + tunnels.labels())
                + (egress.allow().isEmpty() ? "" : ", also allowed " + egress.allow());
    }
}

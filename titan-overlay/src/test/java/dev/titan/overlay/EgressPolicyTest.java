package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.titan.core.net.Cidr;
import java.net.InetAddress;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EgressPolicyTest {
    private static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s);
    }

    @Test
    void theDefaultRefusesPrivateLoopbackMetadataAndMappedAddresses() throws Exception {
        EgressPolicy p = EgressPolicy.allowing(List.of());
        for (String a : List.of("127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254", "224.0.0.1",
                "::1", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "0.0.0.0")) {
            assertThat(p.refuseAddress("h", ip(a), 443)).as(a).isNotNull();
        }
        assertThat(p.refuseAddress("h", ip("93.184.216.34"), 443)).isNull();
        assertThat(p.refuseAddress("h", ip("2606:4700::1111"), 443)).isNull();
        assertThat(p.refuseName("mail.example.com", 25)).as("port 25").contains("port 25");
        assertThat(p.refuseName("example.com", 443)).isNull();
    }

    @Test
    void anAllowedNetworkOpensOnlyItselfAndADeniedOneWinsOverIt() throws Exception {
        EgressPolicy p = new EgressPolicy(List.of(Cidr.parse("127.0.0.0/8")), List.of(Cidr.parse("127.0.0.9/32")), Set.of(),
                List.of(), List.of("Blocked.Example"));
        assertThat(p.refuseAddress("h", ip("127.0.0.1"), 80)).isNull();
        assertThat(p.refuseAddress("h", ip("127.0.0.9"), 80)).contains("denied network");
        assertThat(p.refuseAddress("h", ip("10.0.0.1"), 80)).as("still the default").isNotNull();
        assertThat(p.refuseName("www.blocked.example.", 80)).as("a subdomain, any case, trailing dot").isNotNull();
        assertThat(p.refuseName("notblocked.example", 80)).isNull();
        assertThat(p.refuseName("x.example", 25)).as("no port denied in this policy").isNull();
    }

    @Test
    void cidrParsingNamesWhatIsWrong() throws Exception {
        assertThat(Cidr.parse("10.0.0.0/8").contains(ip("10.255.0.1"))).isTrue();
        assertThat(Cidr.parse("10.0.0.0/8").contains(ip("11.0.0.1"))).isFalse();
        assertThat(Cidr.parse("fe80::/10").contains(ip("febf::1"))).isTrue();
        assertThat(Cidr.parse("1.2.3.4").contains(ip("1.2.3.4"))).isTrue();
        assertThat(Cidr.parse("0.0.0.0/0").contains(ip("::1"))).as("families never mix").isFalse();
        assertThatThrownBy(() -> Cidr.parse("example.com")).hasMessageContaining("not an IP address");
        assertThatThrownBy(() -> Cidr.parse("10.0.0.0/33")).hasMessageContaining("prefix must be 0-32");
    }

    @Test
    void targetsAreHostAndPortWithBracketedIpv6() {
        assertThat(EgressTargets.HostPortTarget.parse("example.com:443")).isEqualTo(new EgressTargets.HostPortTarget("example.com", 443));
        assertThat(EgressTargets.HostPortTarget.parse("[::1]:80")).isEqualTo(new EgressTargets.HostPortTarget("::1", 80));
        assertThat(EgressTargets.HostPortTarget.parse("::1:80")).isNull();
        assertThat(EgressTargets.HostPortTarget.parse("example.com")).isNull();
        assertThat(EgressTargets.HostPortTarget.parse("example.com:0")).isNull();
        assertThat(EgressTargets.HostPortTarget.parse(":80")).isNull();
    }
}

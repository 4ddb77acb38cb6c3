package dev.titan.core.endpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Every line form of seed 001's IP list. */
class AddressListParserTest {
    private static AddressListParser.Result parse(String text) {
        return AddressListParser.parse(text, 80, "ip_list.txt");
    }

    @Test
    void parsesTheSeedExample() {
        AddressListParser.Result r = parse("""
                # backend servers
                192.168.1.10
                192.168.1.11
                192.168.1.12:8080
                # IPv6
                2001:db8::1
                [2001:db8::2]:8080
                # comments and CIDR ranges (default port)
                10.0.0.0/24
                192.168.0.0/16
                """);
        assertThat(r.problems()).isEmpty();
        AddressList l = r.addresses();
        assertThat(l.size()).isEqualTo(5 + 256 + 65_536);
        assertThat(l.get(0)).isEqualTo(new InetSocketAddress("192.168.1.10", 80));
        assertThat(l.get(2)).isEqualTo(new InetSocketAddress("192.168.1.12", 8080));
        assertThat(l.get(3)).isEqualTo(new InetSocketAddress("2001:db8::1", 80));
        assertThat(l.get(4)).isEqualTo(new InetSocketAddress("2001:db8::2", 8080));
        assertThat(l.get(5)).isEqualTo(new InetSocketAddress("10.0.0.0", 80));
        assertThat(l.get(5 + 255)).isEqualTo(new InetSocketAddress("10.0.0.255", 80));
        assertThat(l.get(5 + 256 + 65_535)).isEqualTo(new InetSocketAddress("192.168.255.255", 80));
    }

    @Test
    void aSlash16IsStoredAsOneRangeAndAnsweredByIndex() {
        AddressList l = parse("172.16.0.0/16").addresses();
        assertThat(l.size()).isEqualTo(65_536);
        Set<InetSocketAddress> seen = new HashSet<>();
        for (long i = 0; i < l.size(); i += 997) {
            seen.add(l.get(i));
        }
        assertThat(seen).hasSize((int) ((65_536 + 996) / 997));
        assertThat(l.get(258)).isEqualTo(new InetSocketAddress("172.16.1.2", 80));
        assertThat(l.contains(new InetSocketAddress("172.16.200.7", 80))).isTrue();
        assertThat(l.contains(new InetSocketAddress("172.17.0.1", 80))).isFalse();
        assertThat(l.contains(new InetSocketAddress("172.16.200.7", 81))).isFalse();
    }

    @Test
    void cidrBaseIsMaskedAndIpv6RangesWork() {
        AddressList l = parse("10.1.2.77/30\n2001:db8::ff/126").addresses();
        assertThat(l.size()).isEqualTo(8);
        assertThat(l.get(0)).isEqualTo(new InetSocketAddress("10.1.2.76", 80));
        assertThat(l.get(4)).isEqualTo(new InetSocketAddress("2001:db8::fc", 80));
        assertThat(l.get(7)).isEqualTo(new InetSocketAddress("2001:db8::ff", 80));
    }

    @Test
    void duplicatesAreDroppedAndWeightsKept() {
        AddressList l = parse("10.0.0.1\n10.0.0.1:80\n10.0.0.2 weight=5").addresses();
        assertThat(l.size()).isEqualTo(2);
        assertThat(l.weight(1)).isEqualTo(5);
    }

    @Test
    void hostNamesAreLeftForDns() {
        AddressListParser.Result r = parse("localhost:9000\nbackend.internal");
        assertThat(r.hosts()).containsExactly(new AddressListParser.HostEntry("localhost", 9000, 1),
                new AddressListParser.HostEntry("backend.internal", 80, 1));
    }

    @Test
    void badLinesAreAllReportedWithTheirLineNumbers() {
        AddressListParser.Result r = parse("""
                10.0.0.1
                10.0.0.300
                10.0.0.0/33
                [2001:db8::1:80
                10.0.0.2:99999
                10.0.0.3 weight=0
                ::1/96
                """);
        assertThat(r.problems()).hasSize(6);
        assertThat(r.problems().get(0)).startsWith("ip_list.txt:2:");
        assertThat(r.problems().get(1)).startsWith("ip_list.txt:3:").contains("prefix length");
        assertThat(r.problems().get(2)).startsWith("ip_list.txt:4:").contains("]");
        assertThat(r.problems().get(3)).startsWith("ip_list.txt:5:").contains("port");
        assertThat(r.problems().get(4)).startsWith("ip_list.txt:6:").contains("weight");
        assertThat(r.problems().get(5)).startsWith("ip_list.txt:7:").contains("at most");
    }

    @Test
    void oversizedRangesAreRefused() {
        assertThatThrownBy(() -> new AddressList.Builder().addCidr(java.net.InetAddress.getByName("10.0.0.0"), 7, 80, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most");
    }
}

package dev.titan.core.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class RuleRouterTest {
    private static DestinationRequest request(String protocol, String sni, String host, String user) {
        return new DestinationRequest("l", new InetSocketAddress("127.0.0.1", 5000), null, user, null, 0, sni, host, null, protocol,
                Unpooled.EMPTY_BUFFER);
    }

    @Test
    void globsMatchAnyRunOfCharactersWithoutRegardToCase() {
        assertThat(RouteRule.glob("*.example.org", "a.b.example.org")).isTrue();
        assertThat(RouteRule.glob("*.example.org", "example.org")).as("the dot is part of the pattern").isFalse();
        assertThat(RouteRule.glob("api-*.example.org", "api-eu.example.org")).isTrue();
        assertThat(RouteRule.glob("api-*.example.org", "web-eu.example.org")).isFalse();
        assertThat(RouteRule.glob("*", "")).isTrue();
        assertThat(RouteRule.glob("exact", "exactly")).isFalse();
        assertThat(new RouteRule("*.EXAMPLE.org", null, null, null, "c").matches(request("http", null, "Www.Example.Org", null))).isTrue();
    }

    @Test
    void theFirstMatchingRuleWinsAndClusterIsTheLastRule() {
        List<RouteRule> rules = List.of(
                new RouteRule(null, "*.secure.org", null, "tls", "tls-cluster"),
                new RouteRule(null, null, "alice", null, "premium"),
                RouteRule.any("default"));
        // the matching is the rules' own: check which rule each request meets first
        assertThat(first(rules, request("tls", "a.secure.org", null, "alice"))).isEqualTo("tls-cluster");
        assertThat(first(rules, request("tcp", null, null, "alice"))).isEqualTo("premium");
        assertThat(first(rules, request("tls", "other.org", null, null))).isEqualTo("default");
        assertThat(first(rules, request("http", null, "a.secure.org", null))).as("sni rules look at the SNI only").isEqualTo("default");
    }

    @Test
    void aRuleWithNoMatchingRuleLeftRoutesNowhere() {
        List<RouteRule> rules = List.of(new RouteRule("only.org", null, null, null, "c"));
        assertThat(first(rules, request("http", null, "else.org", null))).isNull();
    }

    private static String first(List<RouteRule> rules, DestinationRequest r) {
        return rules.stream().filter(x -> x.matches(r)).map(RouteRule::cluster).findFirst().orElse(null);
    }
}

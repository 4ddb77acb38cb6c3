package dev.titan.overlay;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * What a proxy username asks for, in the convention commercial proxy networks use: the user's id,
 * then {@code -key-value} pairs. The password stays the user's secret.
 * <pre>
 * alice                                          the user's own routing (auto by default)
 * alice-country-us-city-nyc                      an edge labelled country=us and city=nyc
 * alice-asn-7922                                 an edge labelled asn=7922
 * alice-edge-e1                                  edge e1 only
 * alice-country-us-session-ab12cd-sesstime-30    the same edge for 30 minutes (sticky session)
 * alice-session-ab12cd-sessmode-strict           fail rather than change edge when it goes away
 * </pre>
 * Label keys: {@value #LABEL_KEYS_TEXT}. Values are letters, digits, {@code _} and {@code .}
 * (matched to the edge's labels without regard to case). {@code sesstime} is in minutes, 1 to 1440
 * (default 10); {@code sessmode} is {@code flex} (default: a lost edge is replaced by one that
 * matches the same filter, under the same session id) or {@code strict}. Anything else is refused
 * with a message naming it.
 */
record UserParams(String user, Map<String, String> labels, String edge, String session, Duration sessionTime, boolean strict) {
    static final Set<String> LABEL_KEYS = Set.of("country", "region", "state", "city", "asn", "isp");
    static final String LABEL_KEYS_TEXT = "country, region, state, city, asn, isp";
    static final Duration DEFAULT_SESSION_TIME = Duration.ofMinutes(10);

    /** Parses {@code username}; throws {@link IllegalArgumentException} with a message for the user. */
    static UserParams parse(String username) {
        if (username.indexOf('-') < 0 && !username.isEmpty()) { // the common case, asked several times per connection: no parameters
            return new UserParams(username, Map.of(), null, null, DEFAULT_SESSION_TIME, false);
        }
        String[] parts = username.split("-", -1);
        String user = parts[0];
        if (user.isEmpty()) {
            throw new IllegalArgumentException("the username starts with the user's id, got '" + username + "'");
        }
        if (parts.length % 2 == 0) {
            throw new IllegalArgumentException("username parameter '" + parts[parts.length - 1] + "' has no value (user-key-value-key-value)");
        }
        Map<String, String> labels = new LinkedHashMap<>();
        String edge = null;
        String session = null;
        Duration time = null;
        Boolean strict = null;
        Set<String> seen = new java.util.HashSet<>();
        for (int i = 1; i < parts.length; i += 2) {
            String key = parts[i].toLowerCase(Locale.ROOT);
            String value = parts[i + 1];
            if (!seen.add(key)) {
                throw new IllegalArgumentException("username parameter '" + key + "' is given twice");
            }
            if (value.isEmpty() || !value.matches("[A-Za-z0-9_.]{1,64}")) {
                throw new IllegalArgumentException("username parameter '" + key + "' has an invalid value '" + value
                        + "' (letters, digits, '_' and '.', at most 64)");
            }
            if (LABEL_KEYS.contains(key)) {
                labels.put(key, value.toLowerCase(Locale.ROOT));
                continue;
            }
            switch (key) {
                case "edge" -> edge = value;
                case "session" -> session = value;
                case "sesstime" -> {
                    int minutes;
                    try {
                        minutes = Integer.parseInt(value);
                    } catch (NumberFormatException e) {
                        minutes = -1;
                    }
                    if (minutes < 1 || minutes > 1440) {
                        throw new IllegalArgumentException("sesstime is in minutes, 1 to 1440, got '" + value + "'");
                    }
                    time = Duration.ofMinutes(minutes);
                }
                case "sessmode" -> {
                    String m = value.toLowerCase(Locale.ROOT);
                    if (!m.equals("flex") && !m.equals("strict")) {
                        throw new IllegalArgumentException("sessmode is flex or strict, got '" + value + "'");
                    }
                    strict = m.equals("strict");
                }
                default -> throw new IllegalArgumentException("unknown username parameter '" + key + "' (known: " + LABEL_KEYS_TEXT
                        + ", edge, session, sesstime, sessmode)");
            }
        }
        if (session == null && (time != null || strict != null)) {
            throw new IllegalArgumentException("sesstime and sessmode need a session (user-session-ID-...)");
        }
        return new UserParams(user, Map.copyOf(labels), edge, session, time == null ? DEFAULT_SESSION_TIME : time, strict != null && strict);
    }
}

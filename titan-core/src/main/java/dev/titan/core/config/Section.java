package dev.titan.core.config;

/** A module's configuration section that can say what it sets up, in one line, for {@code titan check}. */
public interface Section {
    /** What this section sets up, e.g. "listening on 0.0.0.0:7000 for 2 users (id1, id2)"; no secret, ever. */
    String summary();
}

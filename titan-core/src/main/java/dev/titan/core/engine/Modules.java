package dev.titan.core.engine;

import dev.titan.core.config.ConfigLoader;
import dev.titan.core.config.SectionReader;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The modules of one process, and what they register together: sections, listener protocols, and so the configuration loader. */
public record Modules(List<Module> all) {
    public Modules {
        all = List.copyOf(all);
        Map<String, String> owners = new LinkedHashMap<>();
        for (Module m : all) {
            for (String key : m.sections().keySet()) {
                claim(owners, "section " + key, m);
            }
            for (String key : m.listeners().keySet()) {
                claim(owners, "listener protocol " + key, m);
            }
        }
    }

    private static void claim(Map<String, String> owners, String what, Module m) {
        String other = owners.putIfAbsent(what, m.name());
        if (other != null) {
            throw new IllegalArgumentException(what + " is registered by both " + other + " and " + m.name());
        }
    }

    public static Modules of(Module... modules) {
        return new Modules(List.of(modules));
    }

    public Map<String, SectionReader> sections() {
        Map<String, SectionReader> out = new LinkedHashMap<>();
        all.forEach(m -> out.putAll(m.sections()));
        return out;
    }

    public Map<String, ListenerFactory> listeners() {
        Map<String, ListenerFactory> out = new LinkedHashMap<>();
        all.forEach(m -> out.putAll(m.listeners()));
        return out;
    }

    /** A loader that knows every registered section and listener protocol. */
    public ConfigLoader configLoader() {
        return new ConfigLoader(sections(), List.copyOf(listeners().keySet()));
    }
}

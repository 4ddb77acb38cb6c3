package dev.titan.l4;

import dev.titan.core.config.ConfigLoader;
import dev.titan.core.config.TitanConfig;
import dev.titan.core.engine.Engine;
import dev.titan.core.engine.Modules;
import dev.titan.core.net.Transport;
import dev.titan.core.time.Clock;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Starts a real engine from YAML on a chosen transport, and helps tests talk to it. */
final class Harness implements AutoCloseable {
    /** Prepended to every test config: no metrics or admin listeners unless a test asks for them. */
    static final String QUIET = """
            metrics: { enabled: false }
            admin: { enabled: false }
            drain_timeout: 1s
            """;

    final Transport transport;
    Engine engine;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    Harness(Transport.Kind kind) {
        transport = Transport.create(kind, 2);
    }

    Engine start(String yaml) {
        return start(loader().parse("test.yaml", yaml));
    }

    Engine start(TitanConfig config) {
        engine = new Engine(transport, new L4Module().listeners(), Clock.SYSTEM);
        engine.start(config);
        return engine;
    }

    /** The loader of a process with the forwarder alone. */
    static ConfigLoader loader() {
        return Modules.of(new L4Module()).configLoader();
    }

    <T extends AutoCloseable> T add(T c) {
        closeables.add(c);
        return c;
    }

    InetSocketAddress address(String listener) {
        return engine.listener(listener).boundAddress();
    }

    /** One HTTP/1.1 request on a new connection; returns the body. */
    static String httpGet(InetSocketAddress addr) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(addr, 2000);
            s.setSoTimeout(5000);
            return httpGet(s, true);
        }
    }

    /** One request on an open connection; the response has a Content-Length. */
    static String httpGet(Socket s, boolean close) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(("GET / HTTP/1.1\r\nHost: t\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            head.append((char) c);
            if (head.toString().endsWith("\r\n\r\n")) {
                break;
            }
        }
        String h = head.toString();
        int i = h.indexOf("Content-Length: ");
        if (i < 0) {
            throw new IOException("no response (got '" + h + "')");
        }
        int len = Integer.parseInt(h.substring(i + 16, h.indexOf("\r\n", i)).trim());
        byte[] body = in.readNBytes(len);
        return new String(body, StandardCharsets.US_ASCII);
    }

    /** Sends {@code payload} on a new connection and reads back as many bytes. */
    static byte[] echo(InetSocketAddress addr, byte[] payload) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(addr, 2000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(payload);
            s.getOutputStream().flush();
            return s.getInputStream().readNBytes(payload.length);
        }
    }

    @Override
    public void close() throws Exception {
        if (engine != null) {
            engine.stop(Duration.ZERO);
        }
        for (AutoCloseable c : closeables) {
            c.close();
        }
        transport.close();
    }
}

package dev.titan.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Single HTTP requests to tell whether a system answers: once, a few times to warm it, or until a tunnel is up. */
final class Probe {
    private Probe() {
    }

    /** Twenty requests through a freshly started system, each retried a few times while it settles. */
    static void warmUp(int port) throws Exception {
        for (int i = 0; i < 20; i++) {
            for (int attempt = 1; ; attempt++) {
                try {
                    httpOnce(port, "b");
                    break;
                } catch (Exception e) {
                    if (attempt == 5) {
                        throw new IllegalStateException("no answer through port " + port + " after 5 attempts: " + e, e);
                    }
                    Thread.sleep(200L * attempt);
                }
            }
        }
    }

    /** One request with {@code host}; throws unless it is answered 200. */
    static void httpOnce(int port, String host) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(2000);
            s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String res = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            if (!res.startsWith("HTTP/1.1 200")) {
                throw new IllegalStateException("unexpected response");
            }
        }
    }

    /** Waits until a request with {@code host} through {@code port} is answered 200 (the tunnel is up); at most {@code timeoutMillis}. */
    static void awaitHttp(int port, String host, long timeoutMillis) throws Exception {
        long end = System.currentTimeMillis() + timeoutMillis;
        while (true) {
            try {
                httpOnce(port, host);
                return;
            } catch (IOException | IllegalStateException e) {
                // not yet
            }
            if (System.currentTimeMillis() > end) {
                throw new IllegalStateException("no 200 through port " + port + " for Host " + host + " within " + timeoutMillis + " ms");
            }
            Thread.sleep(5);
        }
    }
}

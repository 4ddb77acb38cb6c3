package dev.titan.core.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.zip.CRC32;

/**
 * Real backend servers for integration tests, on plain blocking sockets (virtual threads) so that
 * they share no code with what they test.
 */
public final class TestServers {
    private TestServers() {
    }

    /** A TCP server that runs {@code handler} for each accepted socket. */
    public static class TcpServer implements AutoCloseable {
        private final ServerSocket server;
        private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
        private final Set<Socket> open = ConcurrentHashMap.newKeySet();
        private final AtomicLong accepted = new AtomicLong();
        private final String name;

        public TcpServer(String name, InetAddress bind, Handler handler) throws IOException {
            this.name = name;
            this.server = new ServerSocket(0, 1024, bind);
            threads.execute(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket s = server.accept();
                        accepted.incrementAndGet();
                        open.add(s);
                        threads.execute(() -> {
                            try (s) {
                                handler.handle(s);
                            } catch (IOException | RuntimeException e) {
                                // a test client went away; nothing to do
                            } finally {
                                open.remove(s);
                            }
                        });
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        public TcpServer(String name, Handler handler) throws IOException {
            this(name, InetAddress.getLoopbackAddress(), handler);
        }

        public String name() {
            return name;
        }

        public int port() {
            return server.getLocalPort();
        }

        public InetSocketAddress address() {
            return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
        }

        /** {@code host:port} as a config would write it. */
        public String endpoint() {
            String h = server.getInetAddress().getHostAddress();
            return (h.contains(":") ? "[" + h + "]" : h) + ":" + port();
        }

        public long accepted() {
            return accepted.get();
        }

        /** Stops listening and resets every open connection, as a crashed process would. */
        @Override
        public void close() {
            try {
                server.close();
            } catch (IOException ignored) {
                // closing
            }
            for (Socket s : open) {
                try {
                    s.setSoLinger(true, 0);
                    s.close();
                } catch (IOException ignored) {
                    // closing
                }
            }
            threads.shutdownNow();
        }
    }

    /** What a test server does with one connection. */
    @FunctionalInterface
    public interface Handler {
        void handle(Socket s) throws IOException;
    }

    /** Echoes every byte back; half-closes its output when the client half-closes. */
    public static TcpServer echo(String name) throws IOException {
        return new TcpServer(name, TestServers::echoLoop);
    }

    public static TcpServer echo(String name, InetAddress bind) throws IOException {
        return new TcpServer(name, bind, TestServers::echoLoop);
    }

    /** The echo loop, for handlers that first do something else. */
    public static void echoLoopPublic(Socket s) throws IOException {
        echoLoop(s);
    }

    static void echoLoop(Socket s) throws IOException {
        s.setTcpNoDelay(true);
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        byte[] buf = new byte[64 * 1024];
        int n;
        while ((n = in.read(buf)) >= 0) {
            out.write(buf, 0, n);
            out.flush();
        }
        s.shutdownOutput();
    }

    /**
     * Reads everything until the client half-closes, then answers with the byte count and CRC32 of
     * what it read ({@code "<count> <crc>\n"}) and closes. {@code onChunk} runs after each read (a
     * test may stall there to be a slow consumer).
     */
    public static TcpServer checksumSink(String name, Consumer<Long> onChunk) throws IOException {
        return new TcpServer(name, s -> {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[64 * 1024];
            CRC32 crc = new CRC32();
            long total = 0;
            int n;
            while ((n = in.read(buf)) >= 0) {
                crc.update(buf, 0, n);
                total += n;
                onChunk.accept(total);
            }
            OutputStream out = s.getOutputStream();
            out.write((total + " " + crc.getValue() + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
        });
    }

    /**
     * A minimal HTTP/1.1 server: answers every request with {@code 200} and body {@code name}
     * after {@code delayMillis}, keeping the connection alive unless asked to close.
     */
    public static TcpServer http(String name, long delayMillis) throws IOException {
        return new TcpServer(name, s -> {
            s.setTcpNoDelay(true);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            StringBuilder head = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0) {
                head.append((char) c);
                if (head.length() >= 4 && head.substring(head.length() - 4).equals("\r\n\r\n")) {
                    sleep(delayMillis);
                    boolean close = head.toString().toLowerCase().contains("connection: close");
                    byte[] body = name.getBytes(StandardCharsets.US_ASCII);
                    out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\n"
                            + (close ? "Connection: close\r\n" : "") + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(body);
                    out.flush();
                    if (close) {
                        return;
                    }
                    head.setLength(0);
                }
            }
        });
    }

    public static void sleep(long millis) {
        if (millis <= 0) {
            return;
        }
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A UDP server that echoes every datagram, prefixed with {@code name + ":"}. */
    public static final class UdpEcho implements AutoCloseable {
        private final DatagramSocket socket;
        private final Thread thread;

        public UdpEcho(String name) throws SocketException {
            socket = new DatagramSocket(0, InetAddress.getLoopbackAddress());
            byte[] prefix = (name + ":").getBytes(StandardCharsets.US_ASCII);
            thread = Thread.ofVirtual().start(() -> {
                byte[] buf = new byte[65536];
                while (!socket.isClosed()) {
                    try {
                        DatagramPacket p = new DatagramPacket(buf, buf.length);
                        socket.receive(p);
                        byte[] reply = new byte[prefix.length + p.getLength()];
                        System.arraycopy(prefix, 0, reply, 0, prefix.length);
                        System.arraycopy(p.getData(), p.getOffset(), reply, prefix.length, p.getLength());
                        socket.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        public String endpoint() {
            return "127.0.0.1:" + socket.getLocalPort();
        }

        @Override
        public void close() {
            socket.close();
            thread.interrupt();
        }
    }
}

package dev.titan.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A TCP relay that holds every chunk for a fixed one-way delay before passing it on, in order, in
 * both directions: a network round trip of twice that delay between two processes on loopback
 * (netem is not available here). Used between an overlay edge and its PoP.
 */
final class DelayRelay implements AutoCloseable {
    private record Chunk(long due, byte[] bytes) {
    }

    private static final Chunk END = new Chunk(0, null);

    private final ServerSocket server;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final long delayNanos;

    DelayRelay(InetSocketAddress listen, InetSocketAddress target, Duration oneWay) throws IOException {
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(listen);
        this.delayNanos = oneWay.toNanos();
        threads.execute(() -> {
            while (!server.isClosed()) {
                try {
                    Socket a = server.accept();
                    Socket b = new Socket(target.getAddress(), target.getPort());
                    a.setTcpNoDelay(true);
                    b.setTcpNoDelay(true);
                    pump(a, b);
                    pump(b, a);
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    /** Reads {@code from}, queues each chunk with the time it is due, and writes it to {@code to} then. */
    private void pump(Socket from, Socket to) {
        LinkedBlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();
        threads.execute(() -> {
            byte[] buf = new byte[64 << 10];
            try (InputStream in = from.getInputStream()) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    queue.add(new Chunk(System.nanoTime() + delayNanos, Arrays.copyOf(buf, n)));
                }
            } catch (IOException e) {
                // the other side closed: end the copy
            }
            queue.add(END);
        });
        threads.execute(() -> {
            try (OutputStream out = to.getOutputStream()) {
                while (true) {
                    Chunk c = queue.take();
                    if (c == END) {
                        to.shutdownOutput();
                        return;
                    }
                    long wait = c.due() - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                    out.write(c.bytes());
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                // closed
            }
        });
    }

    @Override
    public void close() throws IOException {
        server.close();
        threads.shutdownNow();
    }
}

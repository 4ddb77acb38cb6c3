package dev.titan.core.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps stores' usage counters in a file across restarts: loaded once at start (added to what the
 * stores hold), then written every {@code interval} and at close. A write goes to a temporary file
 * that is synced and renamed over the old one, so the file is always a whole snapshot; a crash
 * loses at most one interval. The file holds one section per named store (a PoP's users, its
 * edges), each user's bytes each way, connections, and the bytes of its current quota period.
 *
 * <pre>{@code
 * UsageFile f = UsageFile.open(Path.of("/var/lib/titan/usage.json"), Map.of("users", store), Duration.ofSeconds(5));
 * ...
 * f.close(); // a last write
 * }</pre>
 */
public final class UsageFile implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(UsageFile.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final Map<String, Store> stores;
    private final ScheduledExecutorService timer;

    private UsageFile(Path file, Map<String, Store> stores, Duration interval) {
        this.file = file;
        this.stores = Map.copyOf(stores);
        this.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("titan-usage-file").factory());
        long ms = Math.max(100, interval.toMillis());
        timer.scheduleWithFixedDelay(this::writeQuietly, ms, ms, TimeUnit.MILLISECONDS);
    }

    /** Loads {@code file} into {@code stores} (by section name; a missing file is an empty one) and starts writing it every {@code interval}. */
    public static UsageFile open(Path file, Map<String, Store> stores, Duration interval) throws IOException {
        if (Files.exists(file)) {
            JsonNode root;
            try {
                root = JSON.readTree(file.toFile());
            } catch (IOException e) {
                throw new IOException("usage file " + file + " is not readable JSON: " + e.getMessage(), e);
            }
            stores.forEach((section, store) -> {
                JsonNode users = root.path(section);
                for (Iterator<Map.Entry<String, JsonNode>> it = users.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> u = it.next();
                    Store.Usage usage = store.usage(u.getKey());
                    JsonNode v = u.getValue();
                    usage.bytesIn.add(v.path("bytes_in").asLong());
                    usage.bytesOut.add(v.path("bytes_out").asLong());
                    usage.connections.add(v.path("connections").asLong());
                    usage.addToPeriod(v.path("period").asText("total"), v.path("period_bytes").asLong());
                }
            });
            log.info("usage loaded from {}", file);
        } else if (file.toAbsolutePath().getParent() != null) {
            Files.createDirectories(file.toAbsolutePath().getParent());
        }
        return new UsageFile(file, stores, interval);
    }

    /** Writes every store's usage now, as a whole snapshot. */
    public synchronized void write() throws IOException {
        ObjectNode root = JSON.createObjectNode();
        stores.forEach((section, store) -> {
            ObjectNode users = root.putObject(section);
            store.usageById().forEach((id, u) -> {
                ObjectNode o = users.putObject(id);
                o.put("bytes_in", u.bytesIn.sum());
                o.put("bytes_out", u.bytesOut.sum());
                o.put("connections", u.connections.sum());
                o.put("period", u.period);
                o.put("period_bytes", u.periodBytes.get());
            });
        });
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private void writeQuietly() {
        try {
            write();
        } catch (IOException | RuntimeException e) {
            log.warn("usage file {}: cannot write: {}", file, e.toString());
        }
    }

    /** Stops the timer and writes a last time. */
    @Override
    public void close() {
        timer.shutdownNow();
        writeQuietly();
    }
}

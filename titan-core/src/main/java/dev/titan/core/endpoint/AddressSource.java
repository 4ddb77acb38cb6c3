package dev.titan.core.endpoint;

import dev.titan.core.config.ClusterConfig;
import dev.titan.core.config.ConfigException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import io.netty.channel.EventLoop;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cluster's addresses from its configuration: the inline list, or an IP-list file (optionally
 * watched for changes). Host names in either are resolved through DNS on every load, repeated every
 * {@code dns_refresh}. Loading blocks (file and DNS I/O): the first load is the caller's (so a bad
 * list refuses the configuration), later ones run on a virtual thread, and a bad reload keeps the
 * current list.
 */
public final class AddressSource implements EndpointSource {
    private static final Logger log = LoggerFactory.getLogger(AddressSource.class);

    private final ClusterConfig.Provider provider;
    private final int defaultPort;
    private FileTime lastModified;
    private long lastSize = -1;
    private volatile boolean hadHostNames;
    private final List<ScheduledFuture<?>> tasks = new ArrayList<>();
    private volatile AddressList initial;
    private ExecutorService blocking;
    private volatile boolean closed;

    public AddressSource(ClusterConfig.Provider provider, int defaultPort) {
        this.provider = provider;
        this.defaultPort = defaultPort;
    }

    /** A source whose first list was already loaded (and so validated) by the caller. */
    public AddressSource(ClusterConfig.Provider provider, int defaultPort, AddressList loaded) {
        this(provider, defaultPort);
        this.initial = loaded;
    }

    /** Delivers the first list (loading it now unless given), then watches the file and refreshes DNS. On the sink's loop. */
    @Override
    public void open(Sink sink) {
        AddressList first = initial != null ? initial : load();
        initial = null;
        sink.replaceAddresses(first);
        blocking = Executors.newVirtualThreadPerTaskExecutor();
        EventLoop loop = sink.executor();
        if (isFile() && provider.watch()) {
            long watch = TimeUnit.SECONDS.toNanos(1);
            tasks.add(loop.scheduleAtFixedRate(() -> {
                if (fileChanged()) {
                    reload(sink, "file changed");
                }
            }, watch, watch, TimeUnit.NANOSECONDS));
        }
        long dns = provider.dnsRefresh().toNanos();
        tasks.add(loop.scheduleAtFixedRate(() -> {
            if (hadHostNames()) {
                reload(sink, "DNS refresh");
            }
        }, dns, dns, TimeUnit.NANOSECONDS));
    }

    private void reload(Sink sink, String why) {
        blocking.execute(() -> {
            try {
                AddressList list = load();
                sink.executor().execute(() -> {
                    if (!closed) {
                        log.info("cluster {}: endpoints reloaded ({}): {} addresses", sink.name(), why, list.size());
                        sink.replaceAddresses(list);
                    }
                });
            } catch (ConfigException e) {
                log.error("cluster {}: endpoint list not reloaded ({}), keeping the current one: {}", sink.name(), why, e.getMessage());
            }
        });
    }

    @Override
    public void close() {
        closed = true;
        tasks.forEach(t -> t.cancel(false));
        tasks.clear();
        if (blocking != null) {
            blocking.shutdownNow();
        }
    }

    public boolean isFile() {
        return provider.type().equals("file");
    }

    /** True when the file changed since the last load (file provider with watch on). */
    public boolean fileChanged() {
        if (!isFile()) {
            return false;
        }
        try {
            Path p = Path.of(provider.filePath());
            return !Files.getLastModifiedTime(p).equals(lastModified) || Files.size(p) != lastSize;
        } catch (IOException e) {
            return false; // a file being replaced; the next check sees the new one
        }
    }

    /** The addresses now, or a {@link ConfigException} naming every bad line. */
    public AddressList load() {
        List<String> lines;
        String origin;
        if (isFile()) {
            Path p = Path.of(provider.filePath());
            origin = p.toString();
            try {
                FileTime mtime = Files.getLastModifiedTime(p);
                lines = Files.readAllLines(p);
                lastModified = mtime;
                lastSize = Files.size(p);
            } catch (IOException e) {
                throw new ConfigException(origin + ": cannot read the IP list: " + e.getMessage());
            }
        } else {
            lines = provider.endpoints();
            origin = "endpoints";
        }
        AddressListParser.Result parsed = AddressListParser.parse(lines, defaultPort, origin);
        List<String> problems = new ArrayList<>(parsed.problems());
        hadHostNames = !parsed.hosts().isEmpty();
        AddressList.Builder b = new AddressList.Builder().addAll(parsed.addresses());
        for (AddressListParser.HostEntry h : parsed.hosts()) {
            try {
                for (InetAddress a : InetAddress.getAllByName(h.host())) {
                    b.add(new InetSocketAddress(a, h.port()), h.weight());
                }
            } catch (UnknownHostException e) {
                problems.add(origin + ": cannot resolve host '" + h.host() + "'");
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        AddressList list = b.build();
        if (list.isEmpty()) {
            throw new ConfigException(origin + ": no addresses");
        }
        return list;
    }

    /** True if the last load had host names, whose DNS answers may change. */
    public boolean hadHostNames() {
        return hadHostNames;
    }
}

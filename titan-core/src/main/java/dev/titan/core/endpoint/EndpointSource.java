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

/**
 * Where a cluster's addresses come from: the inline list of the config, or an IP-list file
 * (optionally watched for changes). Host names in either are resolved through DNS on every load,
 * which the cluster repeats every {@code dns_refresh}. Loading blocks (file and DNS I/O), so
 * callers run it off the event loops.
 */
public final class EndpointSource {
    private final ClusterConfig.Provider provider;
    private final int defaultPort;
    private FileTime lastModified;
    private long lastSize = -1;
    private volatile boolean hadHostNames;

    public EndpointSource(ClusterConfig.Provider provider, int defaultPort) {
        this.provider = provider;
        this.defaultPort = defaultPort;
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

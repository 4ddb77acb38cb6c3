package dev.titan.bench;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code l4-concurrency} scenario: N idle connections held open through each proxy to the
 * backend, and the growth of the proxy's resident set divided by N.
 */
final class IdleConnections {
    private final BenchMain bench;
    private final Systems sys;

    IdleConnections(BenchMain bench, Systems sys) {
        this.bench = bench;
        this.sys = sys;
    }

    void run(LoadGen gen, List<Integer> counts) throws Exception {
        List<InetSocketAddress> sources = new ArrayList<>();
        for (int i = 1; i <= 8; i++) {
            sources.add(new InetSocketAddress(InetAddress.getByName("127.0.0." + i), 0));
        }
        boolean many = counts.stream().anyMatch(n -> n > 20_000);
        try (LoopbackPorts.WidePorts ports = many ? LoopbackPorts.WidePorts.widen() : LoopbackPorts.WidePorts.NONE) {
            if (many && !ports.widened()) {
                System.out.println("  cannot widen net.ipv4.ip_local_port_range (needs root): counts above 20,000 skipped");
                counts = counts.stream().filter(n -> n <= 20_000).toList();
            }
            for (int n : counts) {
                for (Systems.Proxy p : List.of(Systems.TITAN, Systems.HAPROXY, Systems.NGINX)) {
                    Proc proc = sys.start(p);
                    try {
                        Probe.warmUp(p.httpPort()); // a little traffic first, as a running proxy has had
                        Thread.sleep(1000);
                        long before = proc.rssKib();
                        List<io.netty.channel.Channel> conns = gen.idle(sources, new InetSocketAddress("127.0.0.1", p.httpPort()), n);
                        Thread.sleep(bench.quick() ? 1000 : 3000);
                        long after = proc.rssKib();
                        double perConn = (after - before) / (double) Math.max(1, conns.size());
                        System.out.printf("  %-13s %,d connections open: RSS %,d -> %,d KiB, %.2f KiB per connection%n", p.name(),
                                conns.size(), before, after, perConn);
                        bench.results.add("l4-concurrency", "kib_per_conn_" + n, p.name(), perConn);
                        bench.results.add("l4-concurrency", "rss_mib_at_" + n, p.name(), after / 1024.0);
                        bench.results.add("l4-concurrency", "opened_" + n, p.name(), (double) conns.size());
                        for (io.netty.channel.Channel c : conns) {
                            c.close();
                        }
                        Thread.sleep(500);
                    } finally {
                        sys.stop(proc);
                    }
                }
            }
        }
    }

    /**
     * 10,000 and 50,000 where the open-file limit allows; a proxied connection costs the proxy two
     * descriptors, so the largest count is a little under half the hard limit.
     */
    static List<Integer> counts() {
        long limit = openFileLimit();
        long max = (limit - 500) / 2;
        List<Integer> counts = new ArrayList<>();
        for (int n : List.of(10_000, 50_000)) {
            if (n <= max) {
                counts.add(n);
            }
        }
        if (counts.isEmpty()) {
            System.out.printf("  the open-file limit is %d here: 10,000 proxied connections need 20,000+ descriptors;"
                    + " measuring %d and %d instead%n", limit, max / 2, max);
            counts.add((int) (max / 2));
            counts.add((int) max);
        }
        return counts;
    }

    static long openFileLimit() {
        String v = Proc.runQuiet(List.of("sh", "-c", "ulimit -Hn"));
        try {
            return v.equals("unlimited") ? 1_048_576 : Long.parseLong(v);
        } catch (NumberFormatException e) {
            return 20_000;
        }
    }
}

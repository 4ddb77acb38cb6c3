package dev.titan.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts the systems under test with identical conditions: the same backend, the same number of
 * worker threads, the proxy pinned to its own cores and the load generator and backend to the
 * rest. Ports: backend nginx 18080, iperf3 15201; each proxy has a port for each.
 */
final class Systems implements AutoCloseable {
    static final int BACKEND = 18080;
    static final int IPERF = 15201;

    /** A proxy under test and the ports it forwards on. */
    record Proxy(String name, int httpPort, int iperfPort) {
    }

    static final Proxy DIRECT = new Proxy("direct", BACKEND, IPERF);
    static final Proxy TITAN = new Proxy("titan", 18101, 18102);
    static final Proxy HAPROXY = new Proxy("haproxy", 18201, 18202);
    static final Proxy NGINX = new Proxy("nginx-stream", 18301, 18302);

    final Path dir;
    final int threads;
    final String proxyCpus;
    final String loadCpus;
    final Path titanJar;
    private final List<Proc> running = new ArrayList<>();

    Systems(Path dir, int threads, Path titanJar) {
        this.dir = dir;
        this.threads = threads;
        this.titanJar = titanJar;
        int cores = Runtime.getRuntime().availableProcessors();
        // proxy threads on the last cores, load generator and backend on the rest (at least one)
        int proxyCores = Math.max(1, Math.min(threads, cores - 1));
        this.proxyCpus = cores > 1 ? (cores - proxyCores) + "-" + (cores - 1) : null;
        this.loadCpus = cores > 1 ? "0-" + (cores - proxyCores - 1) : null;
    }

    Proc startBackend() throws Exception {
        Path conf = dir.resolve("backend-nginx.conf");
        Files.writeString(conf, """
                daemon off;
                worker_processes 1;
                worker_rlimit_nofile 20000;
                pid %1$s/backend.pid;
                error_log %1$s/backend-error.log warn;
                events { worker_connections 19500; multi_accept on; }
                http {
                  access_log off;
                  keepalive_requests 100000000;
                  keepalive_timeout 600s;
                  client_header_timeout 600s;
                  server {
                    listen 127.0.0.1:%2$d backlog=65535 reuseport;
                    location / { return 200 "hello, world\\n"; }
                  }
                }
                """.formatted(dir, BACKEND));
        Proc p = Proc.start("backend", loadCpus, dir.resolve("backend.log"), List.of("nginx", "-c", conf.toString(), "-p", dir.toString()));
        running.add(p);
        Proc.awaitPort("backend nginx", BACKEND, 10_000);
        return p;
    }

    Proc startIperfServer() throws Exception {
        Proc p = Proc.start("iperf3", loadCpus, dir.resolve("iperf3.log"), List.of("iperf3", "-s", "-B", "127.0.0.1", "-p", Integer.toString(IPERF)));
        running.add(p);
        Proc.awaitPort("iperf3", IPERF, 10_000);
        return p;
    }

    Proc start(Proxy proxy) throws Exception {
        Proc p = switch (proxy.name()) {
            case "titan" -> startTitan();
            case "haproxy" -> startHaproxy();
            case "nginx-stream" -> startNginxStream();
            default -> null;
        };
        if (p != null) {
            running.add(p);
            Proc.awaitPort(proxy.name(), proxy.httpPort(), 60_000);
        }
        return p;
    }

    private Proc startTitan() throws IOException {
        Path conf = dir.resolve("titan.yaml");
        Files.writeString(conf, """
                logging: { level: warn }
                metrics: { enabled: false }
                admin: { enabled: false }
                transport: { type: epoll, worker_threads: %d }
                drain_timeout: 0s
                listeners:
                  - { name: http, listen_addr: "127.0.0.1:%d", cluster: http, backlog: 65535 }
                  - { name: iperf, listen_addr: "127.0.0.1:%d", cluster: iperf, backlog: 65535 }
                clusters:
                  http:
                    endpoints: [ "127.0.0.1:%d" ]
                    pools: { strategy: { type: dynamic, dynamic: { min_size: 20, max_size: 500 } } }
                  iperf:
                    endpoints: [ "127.0.0.1:%d" ]
                    pools: { strategy: { type: static, static: { size_per_remote: 0 } } }
                """.formatted(threads, TITAN.httpPort(), TITAN.iperfPort(), BACKEND, IPERF));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return Proc.start("titan", proxyCpus, dir.resolve("titan.log"), List.of(java, "-XX:+UseParallelGC", "-Xss512k",
                "-XX:ActiveProcessorCount=" + threads, "-jar", titanJar.toString(), "run", "--no-watch", "-c", conf.toString()));
    }

    private Proc startHaproxy() throws IOException {
        Path conf = dir.resolve("haproxy.cfg");
        Files.writeString(conf, """
                global
                  nbthread %d
                  maxconn 9800
                defaults
                  mode tcp
                  timeout connect 5s
                  timeout client 10m
                  timeout server 10m
                frontend http
                  bind 127.0.0.1:%d
                  default_backend http
                backend http
                  server b1 127.0.0.1:%d
                frontend iperf
                  bind 127.0.0.1:%d
                  default_backend iperf
                backend iperf
                  server i1 127.0.0.1:%d
                """.formatted(threads, HAPROXY.httpPort(), BACKEND, HAPROXY.iperfPort(), IPERF));
        return Proc.start("haproxy", proxyCpus, dir.resolve("haproxy.log"), List.of("haproxy", "-db", "-f", conf.toString()));
    }

    private Proc startNginxStream() throws IOException {
        Path conf = dir.resolve("nginx-stream.conf");
        Files.writeString(conf, """
                daemon off;
                worker_processes %2$d;
                worker_rlimit_nofile 20000;
                pid %1$s/stream.pid;
                error_log %1$s/stream-error.log warn;
                load_module /usr/lib/nginx/modules/ngx_stream_module.so;
                events { worker_connections 19500; multi_accept on; }
                stream {
                  server { listen 127.0.0.1:%3$d backlog=65535; proxy_pass 127.0.0.1:%4$d; }
                  server { listen 127.0.0.1:%5$d; proxy_pass 127.0.0.1:%6$d; }
                }
                """.formatted(dir, threads, NGINX.httpPort(), BACKEND, NGINX.iperfPort(), IPERF));
        return Proc.start("nginx-stream", proxyCpus, dir.resolve("nginx-stream.log"),
                List.of("nginx", "-c", conf.toString(), "-p", dir.toString()));
    }

    void stop(Proc p) {
        if (p != null) {
            p.close();
            running.remove(p);
        }
    }

    @Override
    public void close() {
        for (Proc p : List.copyOf(running)) {
            p.close();
        }
        running.clear();
    }
}

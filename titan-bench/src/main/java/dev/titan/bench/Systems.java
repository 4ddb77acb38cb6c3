package dev.titan.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Starts the systems under test with identical conditions: the same backend, the same number of
 * worker threads, the proxy pinned to its own cores and the load generator and backend to the
 * rest. Ports: backend nginx 18080 (and 18081, the same nginx proxying to itself), iperf3 15201;
 * each proxy has a port for each.
 */
final class Systems implements AutoCloseable {
    static final int BACKEND = 18080;
    /**
     * The backend's worker proxying each request to its own port 18080 (upstream keep-alive): about
     * three times its work per request, so that this backend, not a load generator, limits a run.
     */
    static final int SLOW_BACKEND = 18081;
    static final int IPERF = 15201;

    /** A proxy under test and the ports it forwards on. */
    record Proxy(String name, int httpPort, int iperfPort) {
    }

    static final Proxy DIRECT = new Proxy("direct", BACKEND, IPERF);
    static final Proxy SLOW_DIRECT = new Proxy("direct-slow", SLOW_BACKEND, IPERF);
    static final Proxy TITAN = new Proxy("titan", 18101, 18102);
    static final Proxy HAPROXY = new Proxy("haproxy", 18201, 18202);
    static final Proxy NGINX = new Proxy("nginx-stream", 18301, 18302);
    /** Titan's reverse tunnel: server on 18401 (HTTP by Host on the tunnel port), client exposing the backend. */
    static final Proxy TITAN_TUNNEL = new Proxy("titan-tunnel", 18401, 18403);
    /** OpenSSH remote forwarding: {@code ssh -R 18402:backend} through a local sshd on 18422. */
    static final Proxy SSH_R = new Proxy("ssh-R", 18402, 18404);
    static final String TUNNEL_HOST = "bench.localhost";
    private static final String TUNNEL_SECRET = "bench-tunnel-secret";

    final Path dir;
    final int threads;
    final String proxyCpus;
    final String loadCpus;
    /** Every core: where nothing is pinned (the unpinned placement; children would otherwise inherit the runner's pinning). */
    final String allCpus;
    private Proc backend;
    final Path titanJar;
    /** The AOT cache Titan's JVMs start with (bin/titan-jar.sh records it for the jar), or null. */
    final Path titanAotCache;
    /** Titan's {@code transport.type} (auto, epoll, io_uring, nio). */
    final String titanTransport;
    private final List<Proc> running = new CopyOnWriteArrayList<>(); // also read by the shutdown hook

    Systems(Path dir, int threads, Path titanJar, Path titanAotCache, String titanTransport) {
        this.dir = dir;
        this.titanAotCache = titanAotCache;
        this.titanTransport = titanTransport;
        this.threads = threads;
        this.titanJar = titanJar;
        int cores = Runtime.getRuntime().availableProcessors();
        // proxy threads on the last cores, load generator and backend on the rest (at least one)
        int proxyCores = Math.max(1, Math.min(threads, cores - 1));
        this.proxyCpus = cores > 1 ? (cores - proxyCores) + "-" + (cores - 1) : null;
        this.loadCpus = cores > 1 ? "0-" + (cores - proxyCores - 1) : null;
        this.allCpus = cores > 1 ? "0-" + (cores - 1) : null;
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
                  upstream self { server 127.0.0.1:%2$d; keepalive 200; keepalive_requests 100000000; }
                  server {
                    listen 127.0.0.1:%2$d backlog=65535 reuseport;
                    location / { return 200 "hello, world\\n"; }
                  }
                  server {
                    listen 127.0.0.1:%3$d backlog=65535 reuseport;
                    location / { proxy_pass http://self; proxy_http_version 1.1; proxy_set_header Connection ""; }
                  }
                }
                """.formatted(dir, BACKEND, SLOW_BACKEND));
        Proc p = Proc.start("backend", loadCpus, dir.resolve("backend.log"), List.of("nginx", "-c", conf.toString(), "-p", dir.toString()));
        running.add(p);
        Proc.awaitPort("backend nginx", BACKEND, 10_000);
        backend = p;
        return p;
    }

    /** Moves the backend (nginx) to {@code cpus}: every core for the unpinned placement, {@link #loadCpus} again after. */
    void pinBackend(String cpus) {
        if (backend != null) {
            backend.pin(cpus);
        }
    }

    Proc startIperfServer() throws Exception {
        Proc p = Proc.start("iperf3", loadCpus, dir.resolve("iperf3.log"), List.of("iperf3", "-s", "-B", "127.0.0.1", "-p", Integer.toString(IPERF)));
        running.add(p);
        Proc.awaitPort("iperf3", IPERF, 10_000);
        return p;
    }

    /** microsocks (SOCKS5) and tinyproxy (HTTP CONNECT, allowed to the backend's port only), on the proxy cores. */
    List<Proc> startForwardProxies() throws Exception {
        Proc socks = Proc.start("microsocks", proxyCpus, dir.resolve("microsocks.log"),
                List.of("microsocks", "-i", "127.0.0.1", "-p", Integer.toString(MICROSOCKS.httpPort())));
        running.add(socks);
        Path conf = dir.resolve("tinyproxy.conf");
        Files.writeString(conf, """
                User nobody
                Group nogroup
                Port %d
                Listen 127.0.0.1
                Timeout 600
                MaxClients 1024
                Allow 127.0.0.1
                ConnectPort %d
                DisableViaHeader Yes
                LogLevel Critical
                """.formatted(TINYPROXY.httpPort(), BACKEND));
        Proc http = Proc.start("tinyproxy", proxyCpus, dir.resolve("tinyproxy.log"), List.of("tinyproxy", "-d", "-c", conf.toString()));
        running.add(http);
        Proc.awaitPort("microsocks", MICROSOCKS.httpPort(), 10_000);
        Proc.awaitPort("tinyproxy", TINYPROXY.httpPort(), 10_000);
        return List.of(socks, http);
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
                transport: { type: %s, worker_threads: %d }
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
                """.formatted(titanTransport, threads, TITAN.httpPort(), TITAN.iperfPort(), BACKEND, IPERF));
        List<String> cmd = titanJvm();
        cmd.addAll(List.of("run", "--no-watch", "-c", conf.toString()));
        return Proc.start("titan", proxyCpus, dir.resolve("titan.log"), cmd);
    }

    /**
     * The command line of a Titan JVM up to its arguments: the options {@code ./titan} runs it with
     * (bin/titan-jar.sh), the proxy's CPU count, the AOT cache if there is one, and
     * {@code TITAN_BENCH_JVM_OPTS}.
     */
    private List<String> titanJvm() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseParallelGC", "-Xss512k", "-XX:ActiveProcessorCount=" + threads));
        if (titanAotCache != null) {
            cmd.add("-XX:AOTCache=" + titanAotCache);
        }
        cmd.addAll(extraJvmOptions());
        cmd.addAll(List.of("-jar", titanJar.toString()));
        return cmd;
    }

    /** {@code TITAN_BENCH_JVM_OPTS}: extra JVM options for the Titan under test (e.g. GC logging), split on spaces. */
    static List<String> extraJvmOptions() {
        String opts = System.getenv("TITAN_BENCH_JVM_OPTS");
        return opts == null || opts.isBlank() ? List.of() : List.of(opts.trim().split("\\s+"));
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

    /** A TCP-mapped port to the backend through each tunnel (for idle streams, which HTTP by Host does not open). */
    static final int TITAN_TUNNEL_TCP = 18405;
    static final int SSH_R_TCP = 18406;
    static final int SSHD = 18422;
    /** Peer forward proxies, as the overlay's ingress will be measured against: SOCKS5 and HTTP CONNECT. */
    static final Proxy MICROSOCKS = new Proxy("microsocks", 18501, -1);
    /** microsocks with a login ({@code -u}/{@code -P}, the overlay's user): the same RFC 1929 exchange as Titan's PoP. */
    static final Proxy MICROSOCKS_LOGIN = new Proxy("microsocks-login", 18503, -1);
    static final Proxy TINYPROXY = new Proxy("tinyproxy", 18502, -1);
    /** The overlay's SOCKS5 entrances: Titan's PoP (its edge in a second process), dante, and ssh's reverse dynamic forwarding. */
    static final Proxy TITAN_OVERLAY = new Proxy("titan-overlay", 18601, -1);
    static final Proxy TITAN_OVERLAY_0RTT_OFF = new Proxy("titan-overlay-0rtt-off", 18605, -1);
    /** The same PoP for clients from {@link #OVERLAY_SOURCE}: admitted by their address, no login (as microsocks without one). */
    static final Proxy TITAN_OVERLAY_BY_SOURCE = new Proxy("titan-overlay-by-source", TITAN_OVERLAY.httpPort(), -1);
    static final java.net.InetAddress OVERLAY_SOURCE = new InetSocketAddress("127.0.0.3", 0).getAddress(); // a literal: no lookup
    static final Proxy DANTE = new Proxy("dante", 18602, -1);
    static final Proxy SSH_R_DYNAMIC = new Proxy("ssh-R-dynamic", 18604, -1);
    /** Where the PoP's edges dial in, and where a delay relay in front of it listens. */
    static final int POP_EDGES = 18603;
    static final int POP_EDGES_DELAYED = 18606;
    static final String OVERLAY_USER = "bench";
    static final String OVERLAY_PASSWORD = "bench-overlay-password";

    /** The fixed ports this runner listens on that something else already holds on 127.0.0.1. */
    static List<Integer> busyPorts() {
        List<Integer> busy = new ArrayList<>();
        List<Integer> ports = new ArrayList<>(List.of(TITAN_TUNNEL_TCP, SSH_R_TCP, SSHD, MICROSOCKS.httpPort(), TINYPROXY.httpPort(),
                TITAN_OVERLAY.httpPort(), TITAN_OVERLAY_0RTT_OFF.httpPort(), DANTE.httpPort(), SSH_R_DYNAMIC.httpPort(), POP_EDGES, POP_EDGES_DELAYED));
        for (Proxy p : List.of(DIRECT, TITAN, HAPROXY, NGINX, TITAN_TUNNEL, SSH_R)) {
            ports.add(p.httpPort());
            ports.add(p.iperfPort());
        }
        for (int port : ports) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress("127.0.0.1", port));
            } catch (IOException e) {
                busy.add(port);
            }
        }
        return busy;
    }

    /**
     * Titan tunnel server and client, both on the proxy cores: the backend by Host on the tunnel
     * port, iperf3 and the backend again on mapped TCP ports; returns both processes.
     */
    List<Proc> startTitanTunnel() throws Exception {
        return startTitanTunnel(proxyCpus, proxyCpus);
    }

    /**
     * As {@link #startTitanTunnel()}, with the tunnel server on {@code serverCpus} and the client on
     * {@code clientCpus} (beside the service: loadCpus; unpinned: allCpus for both).
     */
    List<Proc> startTitanTunnel(String serverCpus, String clientCpus) throws Exception {
        List<String> jvm = titanJvm();
        String common = titanCommon();
        Path serverYaml = dir.resolve("tunnel-server.yaml");
        Files.writeString(serverYaml, common + """
                tunnel_server:
                  listen_addr: "127.0.0.1:%d"
                  expose_host: "127.0.0.1"
                  users: [ { id: bench, secret: "%s", ports: [ "%d", "%d" ] } ]
                """.formatted(TITAN_TUNNEL.httpPort(), TUNNEL_SECRET, TITAN_TUNNEL.iperfPort(), TITAN_TUNNEL_TCP));
        Path clientYaml = dir.resolve("tunnel-client.yaml");
        Files.writeString(clientYaml, common + """
                tunnel_client:
                  servers: [ "tcp://127.0.0.1:%d" ]
                  id: bench
                  secret: "%s"
                  services:
                    - { name: web, local: "http://127.0.0.1:%d" }
                    - { name: iperf, local: "tcp://127.0.0.1:%d", remote_port: %d }
                    - { name: web-tcp, local: "tcp://127.0.0.1:%d", remote_port: %d }
                """.formatted(TITAN_TUNNEL.httpPort(), TUNNEL_SECRET, BACKEND, IPERF, TITAN_TUNNEL.iperfPort(), BACKEND, TITAN_TUNNEL_TCP));
        List<String> server = new ArrayList<>(jvm);
        server.addAll(List.of("server", "--no-watch", "-c", serverYaml.toString()));
        List<String> client = new ArrayList<>(jvm);
        client.addAll(List.of("client", "--no-watch", "-c", clientYaml.toString()));
        Proc s = Proc.start("titan-tunnel-server", serverCpus, dir.resolve("tunnel-server.log"), server);
        running.add(s);
        Proc.awaitPort("titan tunnel server", TITAN_TUNNEL.httpPort(), 60_000);
        Proc c = Proc.start("titan-tunnel-client", clientCpus, dir.resolve("tunnel-client.log"), client);
        running.add(c);
        Proc.awaitPort("titan tunnel (mapped port)", TITAN_TUNNEL_TCP, 60_000);
        return List.of(s, c);
    }

    /**
     * Titan's overlay: a PoP (SOCKS5 on TITAN_OVERLAY, and with 0-RTT off on TITAN_OVERLAY_0RTT_OFF)
     * on {@code popCpus} (two processes, their edge ports on 127.0.0.1 and 127.0.0.2), and one edge on
     * {@code edgeCpus} holding a tunnel to each, on {@code edgeDialPort} (the PoPs' edge port, or a
     * delay relay in front of each) and allowed to reach loopback; returns the three processes.
     */
    List<Proc> startOverlay(String popCpus, String edgeCpus, int edgeDialPort) throws Exception {
        List<String> jvm = titanJvm();
        String common = titanCommon();
        Path popYaml = dir.resolve("pop.yaml");
        Files.writeString(popYaml, common + """
                pop:
                  socks: "127.0.0.1:%d"
                  users: [ { id: %s, password: "%s" } ]
                  sources: [ { network: %s/32, user: %s } ]
                  edges: { listen_addr: "127.0.0.1:%d", users: [ { id: e1, secret: "%s" } ] }
                """.formatted(TITAN_OVERLAY.httpPort(), OVERLAY_USER, OVERLAY_PASSWORD, OVERLAY_SOURCE.getHostAddress(), OVERLAY_USER,
                POP_EDGES, TUNNEL_SECRET));
        Path popOffYaml = dir.resolve("pop-0rtt-off.yaml");
        Files.writeString(popOffYaml, common + """
                pop:
                  socks: "127.0.0.1:%d"
                  zero_rtt: { socks: false }
                  users: [ { id: %s, password: "%s" } ]
                  edges: { listen_addr: "127.0.0.2:%d", users: [ { id: e1, secret: "%s" } ] }
                """.formatted(TITAN_OVERLAY_0RTT_OFF.httpPort(), OVERLAY_USER, OVERLAY_PASSWORD, POP_EDGES, TUNNEL_SECRET));
        Path edgeYaml = dir.resolve("edge.yaml");
        Files.writeString(edgeYaml, common + """
                edge:
                  servers: [ "tcp://127.0.0.1:%d", "tcp://127.0.0.2:%d" ]
                  id: e1
                  secret: "%s"
                  connections: 2
                  egress: { allow: [ 127.0.0.0/8 ] }
                """.formatted(edgeDialPort, edgeDialPort, TUNNEL_SECRET));
        Proc pop = startTitanProcess("titan-pop", popCpus, jvm, "pop", popYaml);
        Proc popOff = startTitanProcess("titan-pop-0rtt-off", popCpus, jvm, "pop", popOffYaml);
        Proc.awaitPort("titan pop", TITAN_OVERLAY.httpPort(), 60_000);
        Proc.awaitPort("titan pop (0-RTT off)", TITAN_OVERLAY_0RTT_OFF.httpPort(), 60_000);
        Proc edge = startTitanProcess("titan-edge", edgeCpus, jvm, "edge", edgeYaml);
        return List.of(pop, popOff, edge);
    }

    /** What every Titan the benchmark starts from a file shares: quiet logs, no metrics or admin port, the transport and threads under test. */
    private String titanCommon() {
        return """
                logging: { level: warn }
                metrics: { enabled: false }
                admin: { enabled: false }
                transport: { type: %s, worker_threads: %d }
                """.formatted(titanTransport, threads);
    }

    private Proc startTitanProcess(String name, String cpus, List<String> jvm, String command, Path yaml) throws IOException {
        List<String> cmd = new ArrayList<>(jvm);
        cmd.addAll(List.of(command, "--no-watch", "-c", yaml.toString()));
        Proc p = Proc.start(name, cpus, dir.resolve(name + ".log"), cmd);
        running.add(p);
        return p;
    }

    /** dante (SOCKS5, no authentication, loopback only) on {@code cpus}. */
    Proc startDante(String cpus) throws Exception {
        Path conf = dir.resolve("danted.conf");
        Files.writeString(conf, """
                logoutput: stderr
                internal: 127.0.0.1 port = %d
                external: 127.0.0.1
                socksmethod: none
                clientmethod: none
                user.privileged: root
                user.unprivileged: nobody
                client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
                socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
                """.formatted(DANTE.httpPort()));
        Proc d = Proc.start("dante", cpus, dir.resolve("dante.log"), List.of("/usr/sbin/danted", "-f", conf.toString()));
        running.add(d);
        Proc.awaitPort("dante", DANTE.httpPort(), 10_000);
        return d;
    }

    /** microsocks (SOCKS5, no authentication) alone, on {@code cpus}. */
    Proc startMicrosocks(String cpus) throws Exception {
        return startMicrosocks(cpus, MICROSOCKS, List.of());
    }

    /** microsocks on {@code cpus} as {@link #MICROSOCKS_LOGIN}: only the overlay's user and password are admitted. */
    Proc startMicrosocksWithLogin(String cpus) throws Exception {
        return startMicrosocks(cpus, MICROSOCKS_LOGIN, List.of("-u", OVERLAY_USER, "-P", OVERLAY_PASSWORD));
    }

    private Proc startMicrosocks(String cpus, Proxy as, List<String> login) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("microsocks", "-i", "127.0.0.1", "-p", Integer.toString(as.httpPort())));
        cmd.addAll(login);
        Proc socks = Proc.start(as.name(), cpus, dir.resolve(as.name() + ".log"), cmd);
        running.add(socks);
        Proc.awaitPort(as.name(), as.httpPort(), 10_000);
        return socks;
    }

    /** A private sshd on 127.0.0.1:18422 with fresh keys, and {@code ssh -N -R} forwarding SSH_R's port to the backend. */
    List<Proc> startSshTunnel() throws Exception {
        return startSshTunnel(proxyCpus, proxyCpus);
    }

    /** As {@link #startSshTunnel()}, with sshd on {@code serverCpus} and the {@code ssh -R} client on {@code clientCpus}. */
    List<Proc> startSshTunnel(String serverCpus, String clientCpus) throws Exception {
        return startSsh(serverCpus, clientCpus, "ssh-R", List.of("-R", "127.0.0.1:" + SSH_R.httpPort() + ":127.0.0.1:" + BACKEND,
                "-R", "127.0.0.1:" + SSH_R.iperfPort() + ":127.0.0.1:" + IPERF, "-R", "127.0.0.1:" + SSH_R_TCP + ":127.0.0.1:" + BACKEND),
                SSH_R.httpPort());
    }

    /**
     * {@code ssh -R PORT} without a destination: OpenSSH's reverse dynamic forwarding, a SOCKS
     * listener on sshd's side whose connections leave from the ssh client's side, the PoP → edge
     * topology of the overlay.
     */
    List<Proc> startSshDynamic(String serverCpus, String clientCpus) throws Exception {
        return startSsh(serverCpus, clientCpus, "ssh-R-dynamic", List.of("-R", "127.0.0.1:" + SSH_R_DYNAMIC.httpPort()), SSH_R_DYNAMIC.httpPort());
    }

    private List<Proc> startSsh(String serverCpus, String clientCpus, String name, List<String> forwards, int awaitPort) throws Exception {
        return SshPeer.start(dir, running, serverCpus, clientCpus, name, forwards, awaitPort);
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

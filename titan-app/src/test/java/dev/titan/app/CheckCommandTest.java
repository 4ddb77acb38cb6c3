package dev.titan.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code titan check}: exit codes and the problems it prints. */
class CheckCommandTest {
    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int code = Main.execute(args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void aValidConfigPasses(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("ok.yaml");
        Files.writeString(f, """
                listeners: [ { listen_addr: "127.0.0.1:0", cluster: web } ]
                clusters: { web: { endpoints: [ "127.0.0.1:9", "10.0.0.0/30" ] } }
                """);
        Run r = run("check", "-c", f.toString());
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("OK (1 listeners, 1 clusters, 5 endpoint addresses)");
    }

    @Test
    void everyProblemIsPrintedWithItsPathAndTheExitCodeIs2(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, """
                listeners: [ { listen_addr: "127.0.0.1:0", cluster: web, max_conections: 5 } ]
                clusters:
                  web:
                    endpoints: [ "127.0.0.1:9" ]
                    probing: { interval: fast }
                    selector: { active_set_size: -1 }
                """);
        Run r = run("check", "-c", f.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("3 problems",
                "listeners[0].max_conections: unknown key",
                "clusters.web.probing.interval: 'fast' is not a duration",
                "clusters.web.selector.active_set_size: must be in [1, 100000], got -1");
    }

    @Test
    void badLinesOfAnIpListAreReportedWithTheirLineNumbers(@TempDir Path dir) throws Exception {
        Path list = dir.resolve("ips.txt");
        Files.writeString(list, "10.0.0.1\n10.0.0.999\n");
        Path f = dir.resolve("file.yaml");
        Files.writeString(f, """
                listeners: [ { listen_addr: "127.0.0.1:0", cluster: web } ]
                clusters: { web: { provider: { type: file, file: { path: "%s" } } } }
                """.formatted(list));
        Run r = run("check", "-c", f.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains(list + ":2: '10.0.0.999'");
    }

    @Test
    void aMissingFileIsAClearError(@TempDir Path dir) {
        Run r = run("check", "-c", dir.resolve("nope.yaml").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("nope.yaml: cannot read");
    }

    @Test
    void usageErrorsExitWith2() {
        assertThat(run("check").code()).isEqualTo(2);
        assertThat(run("frobnicate").code()).isEqualTo(2);
        assertThat(run("--version").out()).contains("titan ");
    }

    @Test
    void aTunnelOnlyConfigReportsItsTunnelSections(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("server.yaml");
        Files.writeString(f, """
                tunnel_server:
                  listen_addr: "127.0.0.1:7000"
                  users: [ { id: alice, secret: "a-secret-of-some-length" }, { id: bob, secret: "another-secret-here" } ]
                """);
        Run r = run("check", "-c", f.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("tunnel_server: listening on 127.0.0.1:7000 for 2 client id(s) [alice, bob]")
                .doesNotContain("a-secret");
    }

    @Test
    void runExits2ForAnInvalidEndpointWithItsFullKey(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, """
                listeners: [ { listen_addr: "127.0.0.1:0", cluster: c } ]
                clusters: { c: { endpoints: [ "127.0.0.1:9", "300.1.2.3:80" ] } }
                """);
        Run r = run("run", "-c", f.toString(), "--no-watch");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("clusters.c.endpoints[1]: '300.1.2.3:80'");
    }
}

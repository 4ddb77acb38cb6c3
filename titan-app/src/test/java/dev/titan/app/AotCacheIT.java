package dev.titan.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's private jar copies and AOT cache (bin/titan-jar.sh, used by ./titan and
 * bench/run), driven through sh with this JVM's JDK as JAVA_HOME: the cache is recorded by a real
 * {@code titan aot-training} run and then used by a new JVM.
 */
class AotCacheIT {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path JAR = Path.of(System.getProperty("titan.jar", "target/titan.jar")).toAbsolutePath();
    private static final String JAVA_HOME = System.getProperty("java.home");
    private static final String OPTS = "-XX:+UseParallelGC -Xss512k -Dio.netty.leakDetection.level=paranoid";

    private record Result(int exit, List<String> out, String err) {
    }

    /** The shells that source the scripts, as strict as their callers: ./titan (sh) and bench/run (bash). */
    private static final List<List<String>> SHELLS = List.of(List.of("sh", "-eu"), List.of("bash", "-euo", "pipefail"));

    /** Sources the launcher's scripts and runs {@code body} in sh; its stdout lines and stderr. */
    private static Result sh(String body, Map<String, String> env, String... args) throws Exception {
        return shell(SHELLS.getFirst(), body, env, args);
    }

    private static Result shell(List<String> shell, String body, Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(shell);
        cmd.addAll(List.of("-c", ". \"$ROOT/bin/find-jdk.sh\"; . \"$ROOT/bin/titan-jar.sh\"; " + body, "sh"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("ROOT", ROOT.toString());
        pb.environment().put("JAVA_HOME", JAVA_HOME);
        pb.environment().remove("TITAN_AOT");
        pb.environment().remove("TITAN_JDK_MAJOR");
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] err = p.getErrorStream().readAllBytes();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(180, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out.lines().toList(), new String(err, StandardCharsets.UTF_8));
    }

    @Test
    void privateCopiesAreNamedByContentAndTheTwoNewestOthersAreKept(@TempDir Path dir) throws Exception {
        for (List<String> shell : SHELLS) {
            privateCopies(shell, Files.createDirectories(dir.resolve(shell.getFirst())));
        }
    }

    private static void privateCopies(List<String> shell, Path dir) throws Exception {
        Path target = Files.createDirectories(dir.resolve("target"));
        Path jar = target.resolve("titan.jar");
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Files.writeString(jar, "build " + i);
            Result r = shell(shell, "titan_run_jar \"$1\"; echo \"$TITAN_RUN_JAR\"", Map.of(), jar.toString());
            assertThat(r.exit()).as("%s: %s", shell, r.err()).isZero();
            Path copy = Path.of(r.out().getFirst());
            assertThat(copy.getParent()).isEqualTo(target.resolve("run"));
            assertThat(Files.readString(copy)).isEqualTo("build " + i);
            names.add(copy.getFileName().toString());
            Files.setLastModifiedTime(copy, FileTime.fromMillis(System.currentTimeMillis() - 60_000L * (5 - i)));
        }
        assertThat(names).doesNotHaveDuplicates();
        Files.writeString(jar, "build 1"); // an older build again: same content, same copy
        Result again = shell(shell, "titan_run_jar \"$1\"; echo \"$TITAN_RUN_JAR\"", Map.of(), jar.toString());
        assertThat(Path.of(again.out().getFirst()).getFileName().toString()).isEqualTo(names.get(1));
        try (var files = Files.list(target.resolve("run"))) {
            assertThat(files.map(p -> p.getFileName().toString()).toList())
                    .containsExactlyInAnyOrder(names.get(1), names.get(3), names.get(4));
        }
    }

    @Test
    void aCacheIsRecordedOnceByATrainingRunAndANewJvmLoadsTitanFromIt(@TempDir Path dir) throws Exception {
        assumeTrue(Runtime.version().feature() >= 25, "AOT caches need JDK 25");
        Path jar = Files.copy(JAR, Files.createDirectories(dir.resolve("target")).resolve("titan.jar"));
        String body = "titan_run_jar \"$1\"; titan_aot_cache \"$2\" 1; echo \"$TITAN_AOT_CACHE\"; echo \"$TITAN_AOT_OPTS\"";
        Result first = sh(body, Map.of(), jar.toString(), OPTS);
        assertThat(first.exit()).as(first.err()).isZero();
        assertThat(first.err()).contains("recording an AOT cache");
        Path cache = Path.of(first.out().get(0));
        assertThat(cache).isRegularFile();
        assertThat(first.out().get(1)).isEqualTo("-XX:AOTCache=" + cache);
        String log = Files.readString(Path.of(cache + ".log"));
        assertThat(log).contains("forwarder, keep-alive", "tunnel by Host, keep-alive", "tunnel mapped port, bulk")
                .doesNotContain("LEAK:").doesNotContainPattern("[1-9][0-9]* failed");
        assertThat(log.lines().filter(l -> l.startsWith("aot-training:")).count()).isEqualTo(7);

        Result second = sh(body, Map.of(), jar.toString(), OPTS);
        assertThat(second.err()).doesNotContain("recording");
        assertThat(second.out().getFirst()).isEqualTo(cache.toString());

        Path runJar = cache.resolveSibling(cache.getFileName().toString().replaceFirst("\\.jdk-.*", ".jar"));
        Process p = new ProcessBuilder(Path.of(JAVA_HOME, "bin", "java").toString(), "-XX:+UseParallelGC", "-Xss512k",
                "-XX:AOTCache=" + cache, "-Xlog:class+load=info", "-jar", runJar.toString(), "--version").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(out).containsPattern("dev\\.titan\\.app\\.Main source: shared objects file")
                .containsPattern("io\\.netty\\.util\\.[A-Za-z.]+ source: shared objects file");
        assertThat(p.exitValue()).isZero();

        Result off = sh(body, Map.of("TITAN_AOT", "off"), jar.toString(), OPTS);
        assertThat(off.out()).containsExactly("", "");
    }

    @Test
    void aFailedTrainingRunLeavesNoCacheAndSaysWhere(@TempDir Path dir) throws Exception {
        assumeTrue(Runtime.version().feature() >= 25, "AOT caches need JDK 25");
        Path jar = Files.writeString(Files.createDirectories(dir.resolve("target")).resolve("titan.jar"), "not a jar");
        Result r = shell(SHELLS.getLast(), "titan_run_jar \"$1\"; titan_aot_cache \"$2\" 1; echo \"cache=$TITAN_AOT_CACHE\"", Map.of(),
                jar.toString(), OPTS);
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).containsExactly("cache=");
        assertThat(r.err()).contains("recording the AOT cache failed (see ").contains("running without it");
        try (var files = Files.list(dir.resolve("target/run"))) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".aot") || n.contains(".aot.tmp")).toList()).isEmpty();
        }
    }

    @Test
    void thePackagedJarIsReproducibleSoARebuildOfTheSameSourcesKeepsItsCache() throws Exception {
        // the cache is named by the jar's content: Titan's entries stamped with the build's time would make every build a
        // new jar (and cost a new 30-s recording); the parent pom fixes project.build.outputTimestamp, and the shaded jar
        // keeps it (the dependencies' entries keep the times of their own jars, as fixed as their versions)
        java.time.Instant fixed = java.time.Instant.parse(java.util.Objects.requireNonNull(
                System.getProperty("titan.outputTimestamp"), "titan.outputTimestamp (set by titan-app/pom.xml from project.build.outputTimestamp)"));
        try (var zip = new java.util.zip.ZipFile(JAR.toFile())) {
            List<? extends java.util.zip.ZipEntry> own = zip.stream()
                    .filter(e -> e.getName().startsWith("dev/titan/") || e.getName().equals("META-INF/MANIFEST.MF")).toList();
            assertThat(own).hasSizeGreaterThan(100);
            assertThat(own).filteredOn(e -> !e.getLastModifiedTime().toInstant().equals(fixed))
                    .as("Titan's entries with another time than project.build.outputTimestamp").isEmpty();
        }
    }
}

package dev.titan.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Base64;
import java.util.concurrent.TimeUnit;

/** Real certificates for tests, made with the JDK's keytool: a PKCS#12 store and the same as PEM files. */
record TestCerts(KeyStore store, Path p12, Path certPem, Path keyPem) {
    static final char[] PASS = "changeit".toCharArray();

    /** A self-signed EC certificate for {@code cn} with the given subject alternative names (e.g. {@code dns:x,ip:127.0.0.1}). */
    static TestCerts make(Path dir, String cn, String san) throws IOException, InterruptedException, GeneralSecurityException {
        Files.createDirectories(dir);
        Path p12 = dir.resolve(cn + ".p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-genkeypair",
                "-alias", "key", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + cn, "-ext", "SAN=" + san,
                "-validity", "2", "-storetype", "PKCS12", "-keystore", p12.toString(), "-storepass", new String(PASS))
                .redirectErrorStream(true).start();
        String out = new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(keytool.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(keytool.exitValue()).as(out).isZero();
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            store.load(in, PASS);
        }
        Path cert = dir.resolve(cn + ".crt");
        Path key = dir.resolve(cn + ".key");
        Files.writeString(cert, pem("CERTIFICATE", store.getCertificate("key").getEncoded()));
        Files.writeString(key, pem("PRIVATE KEY", store.getKey("key", PASS).getEncoded())); // PKCS#8
        return new TestCerts(store, p12, cert, key);
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}

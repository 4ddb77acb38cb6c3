package dev.titan.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** OpenSSH as the tunnels' peer: a private sshd on 127.0.0.1 with fresh keys, and an {@code ssh -N} client with remote forwards. */
final class SshPeer {
    private SshPeer() {
    }

    /**
     * sshd on {@code serverCpus} (its keys made once in {@code dir}/ssh) and {@code ssh -N} with
     * {@code forwards} on {@code clientCpus}, named {@code name}; both join {@code running}. Returns
     * once {@code awaitPort} accepts connections.
     */
    static List<Proc> start(Path dir, List<Proc> running, String serverCpus, String clientCpus, String name, List<String> forwards,
                            int awaitPort) throws Exception {
        Path ssh = Files.createDirectories(dir.resolve("ssh"));
        for (String key : List.of("host_key", "user_key")) {
            if (!Files.exists(ssh.resolve(key))) {
                Proc.run(List.of("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ssh.resolve(key).toString()), 30);
            }
        }
        Files.copy(ssh.resolve("user_key.pub"), ssh.resolve("authorized_keys"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path conf = ssh.resolve("sshd_config");
        Files.writeString(conf, """
                Port 18422
                ListenAddress 127.0.0.1
                HostKey %1$s/host_key
                AuthorizedKeysFile %1$s/authorized_keys
                PidFile %1$s/sshd.pid
                PermitRootLogin yes
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                AllowTcpForwarding yes
                """.formatted(ssh));
        Files.createDirectories(Path.of("/run/sshd")); // sshd's privilege-separation directory
        Path log = dir.resolve("sshd-" + System.nanoTime() + ".log");
        Proc d = Proc.start("sshd", serverCpus, log, List.of("/usr/sbin/sshd", "-D", "-e", "-f", conf.toString()));
        running.add(d);
        try {
            Proc.awaitPort("sshd", Systems.SSHD, 60_000);
        } catch (IllegalStateException e) {
            throw new IllegalStateException(e.getMessage() + "; sshd said: " + String.join(" | ", Files.readAllLines(log)), e);
        }
        List<String> cmd = new ArrayList<>(List.of("ssh", "-N", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", "-i", ssh.resolve("user_key").toString(), "-p", Integer.toString(Systems.SSHD)));
        cmd.addAll(forwards);
        cmd.add(System.getProperty("user.name") + "@127.0.0.1");
        Proc c = Proc.start(name, clientCpus, dir.resolve(name + ".log"), cmd);
        running.add(c);
        Proc.awaitPort(name, awaitPort, 20_000);
        return List.of(d, c);
    }
}

package dev.titan.overlay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.titan.core.net.Transport;
import dev.titan.core.store.Store;
import dev.titan.core.testing.TestServers;
import dev.titan.core.testing.Transports;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/** SOCKS5 UDP ASSOCIATE through the PoP and an edge to a UDP service, on every transport. */
@ParameterizedClass(name = "{0}")
@MethodSource("transports")
class UdpAssociateTest {
    @Parameter
    Transport.Kind kind;

    private Transport transport;
    private TestServers.UdpEcho echo;
    private final List<AutoCloseable> closing = new ArrayList<>();

    static Stream<Transport.Kind> transports() {
        return Transports.available();
    }

    @BeforeEach
    void setUp() throws Exception {
        transport = Transport.create(kind, 2);
        echo = new TestServers.UdpEcho("echo");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
        echo.close();
        transport.close();
    }

    private Pop overlay(List<String> allow, List<Edge> edges) {
        Pop pop = OverlayFixture.startPop(OverlayFixture.config(true, false, false,
                List.of(OverlayFixture.user("alice", "alice-password", Store.Limits.NONE)), Pop.ZeroRtt.DEFAULT, null), transport, closing);
        edges.add(OverlayFixture.startEdge(pop, "e1", Map.of(), allow, transport, closing));
        return pop;
    }

    /** Logs in and asks for a UDP association; returns the control connection and the relay's address. */
    private static Object[] associate(Pop pop) throws Exception {
        Socket control = new Socket("127.0.0.1", pop.address("socks").getPort());
        control.setSoTimeout(5_000);
        OutputStream out = control.getOutputStream();
        DataInputStream in = new DataInputStream(control.getInputStream());
        out.write(new byte[] {5, 1, 2});
        assertThat(in.readNBytes(2)).containsExactly(5, 2);
        ByteArrayOutputStream login = new ByteArrayOutputStream();
        login.write(new byte[] {1, 5});
        login.writeBytes("alice".getBytes(StandardCharsets.US_ASCII));
        login.write(14);
        login.writeBytes("alice-password".getBytes(StandardCharsets.US_ASCII));
        out.write(login.toByteArray());
        assertThat(in.readNBytes(2)).containsExactly(1, 0);
        out.write(new byte[] {5, 3, 0, 1, 0, 0, 0, 0, 0, 0}); // UDP ASSOCIATE, from 0.0.0.0:0 (not known yet)
        byte[] reply = in.readNBytes(10);
        assertThat(reply[1]).as("UDP ASSOCIATE granted").isEqualTo((byte) 0);
        InetAddress bound = InetAddress.getByAddress(Arrays.copyOfRange(reply, 4, 8));
        int port = ((reply[8] & 0xFF) << 8) | (reply[9] & 0xFF);
        return new Object[] {control, new InetSocketAddress(bound, port)};
    }

    private static byte[] datagram(byte[] address, int port, String payload) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0);
        b.write(0);
        b.write(0);
        b.writeBytes(address);
        b.write(port >> 8);
        b.write(port & 0xFF);
        b.writeBytes(payload.getBytes(StandardCharsets.US_ASCII));
        return b.toByteArray();
    }

    private int echoPort() {
        String e = echo.endpoint();
        return Integer.parseInt(e.substring(e.lastIndexOf(':') + 1));
    }

    @Test
    void datagramsGoThroughTheEdgeAndBackWithTheirSourceByAddressAndByName() throws Exception {
        Pop pop = overlay(List.of("127.0.0.0/8", "::1/128"), new ArrayList<>());
        Object[] a = associate(pop);
        try (Socket control = (Socket) a[0]; DatagramSocket udp = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            udp.setSoTimeout(5_000);
            InetSocketAddress relay = (InetSocketAddress) a[1];
            byte[] toIp = datagram(new byte[] {1, 127, 0, 0, 1}, echoPort(), "hello");
            udp.send(new DatagramPacket(toIp, toIp.length, relay));
            DatagramPacket back = new DatagramPacket(new byte[2048], 2048);
            udp.receive(back);
            byte[] got = Arrays.copyOf(back.getData(), back.getLength());
            assertThat(Arrays.copyOf(got, 10)).as("RSV FRAG ATYP 127.0.0.1 and the echo's port")
                    .containsExactly(0, 0, 0, 1, 127, 0, 0, 1, echoPort() >> 8, echoPort() & 0xFF);
            assertThat(new String(got, 10, got.length - 10, StandardCharsets.US_ASCII)).isEqualTo("echo:hello");

            byte[] name = "localhost".getBytes(StandardCharsets.US_ASCII);
            byte[] addr = new byte[2 + name.length];
            addr[0] = 3;
            addr[1] = (byte) name.length;
            System.arraycopy(name, 0, addr, 2, name.length);
            byte[] toName = datagram(addr, echoPort(), "by-name");
            udp.send(new DatagramPacket(toName, toName.length, relay));
            DatagramPacket back2 = new DatagramPacket(new byte[2048], 2048);
            udp.receive(back2);
            assertThat(new String(back2.getData(), 0, back2.getLength(), StandardCharsets.US_ASCII)).endsWith("echo:by-name");
        }
    }

    @Test
    void theEdgesPolicyDropsDatagramsToRefusedAddressesAndTheAssociationEndsWithItsControlConnection() throws Exception {
        List<Edge> edges = new ArrayList<>();
        Pop pop = overlay(List.of(), edges); // the default policy: no loopback
        Object[] a = associate(pop);
        try (DatagramSocket udp = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            udp.setSoTimeout(1_000);
            byte[] d = datagram(new byte[] {1, 127, 0, 0, 1}, echoPort(), "refused");
            udp.send(new DatagramPacket(d, d.length, (InetSocketAddress) a[1]));
            await().atMost(Duration.ofSeconds(5)).until(() -> edges.getFirst().refusedTargets() >= 1);
            DatagramPacket none = new DatagramPacket(new byte[2048], 2048);
            boolean answered;
            try {
                udp.receive(none);
                answered = true;
            } catch (SocketTimeoutException e) {
                answered = false;
            }
            assertThat(answered).as("nothing reached the echo, nothing came back").isFalse();
            ((Socket) a[0]).close();
            await().atMost(Duration.ofSeconds(5)).until(() -> edges.getFirst().activeStreams() == 0);
        }
    }
}

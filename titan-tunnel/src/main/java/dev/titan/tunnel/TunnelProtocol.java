package dev.titan.tunnel;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The tunnel's handshake, before its streams ({@link MuxSession}) take over the connection:
 * <pre>
 * client → server   "TTUN" version(1 byte)                   (lets a shared port tell tunnels apart)
 * server → client   Challenge {version, nonce}
 * client → server   Auth {id, proof = HMAC-SHA256(secret, "titan-tunnel/1" | nonce | id), labels, services,
 *                         stream_window, connection_window}
 * server → client   Result {ok, reason, retry_after_ms, stream_window, connection_window}
 * </pre>
 * Messages after the magic are a 2-byte length and a JSON body of at most {@value #MAX_MESSAGE}
 * bytes. The secret itself never crosses the wire. The windows are what each side takes in flight,
 * per stream and, at first, over the tunnel (WINDOW frames may grow the tunnel's later). After an ok Result the server opens one stream per user
 * connection (an OPEN naming the client's service, or an edge's target).
 */
public final class TunnelProtocol {
    static final byte[] MAGIC = {'T', 'T', 'U', 'N'};
    static final int VERSION = 2;
    static final int MAX_MESSAGE = 8192;
    static final int NONCE_BYTES = 32;

    /** Header naming the user's address on a stream (for X-Forwarded-For or the PROXY protocol). */
    static final String CLIENT_ADDRESS_HEADER = "titan-client-address";

    /** Header naming the server address the user connected to (the PROXY protocol's destination). */
    static final String SERVER_ADDRESS_HEADER = "titan-server-address";

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false); // newer peers may add fields
    private static final SecureRandom RANDOM = new SecureRandom();

    private TunnelProtocol() {
    }

    /** Server → client: the nonce the client must sign. */
    public record Challenge(int version, String nonce) {
    }

    /** A service a client publishes: {@code type} tcp (a server port) or http (by Host). */
    public record Service(String name, String type, Integer remotePort, List<String> hosts) {
    }

    /** Client → server: who it is, proof it holds the secret, and what it publishes. */
    public record Auth(int version, String id, String proof, Map<String, String> labels, List<Service> services,
                       Integer streamWindow, Integer connectionWindow) {
        @Override
        public String toString() { // never the proof
            return "Auth[id=" + id + ", services=" + services + "]";
        }
    }

    /** Server → client: accepted, or refused with a reason and when to try again. */
    public record Result(boolean ok, String reason, Long retryAfterMs, Integer streamWindow, Integer connectionWindow) {
        static Result accepted(TunnelSettings settings) {
            return new Result(true, null, null, settings.streamWindow(), settings.initialConnectionWindow());
        }

        static Result refused(String reason, long retryAfterMs) {
            return new Result(false, reason, retryAfterMs, null, null);
        }
    }

    /** The windows a peer announced (HTTP/2's 64 KiB where it announced none). */
    static MuxSession.Windows windows(Integer stream, Integer connection) {
        int s = stream == null || stream < 1 ? 65_535 : stream;
        return new MuxSession.Windows(s, connection == null || connection < s ? s : connection);
    }

    static String newNonce() {
        byte[] b = new byte[NONCE_BYTES];
        RANDOM.nextBytes(b);
        return Base64.getEncoder().encodeToString(b);
    }

    /** HMAC-SHA256 over the protocol label, the nonce and the id, keyed by the secret; Base64. */
    static String proof(byte[] secret, String nonce, String id) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.length == 0 ? new byte[1] : secret, "HmacSHA256"));
            mac.update("titan-tunnel/1".getBytes(StandardCharsets.US_ASCII));
            mac.update((byte) 0);
            mac.update(nonce.getBytes(StandardCharsets.US_ASCII));
            mac.update((byte) 0);
            mac.update(id.getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(mac.doFinal());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    /** Constant-time comparison of a received proof with the expected one. */
    static boolean proofMatches(byte[] secret, String nonce, String id, String received) {
        byte[] expected = proof(secret, nonce, id).getBytes(StandardCharsets.US_ASCII);
        byte[] got = received == null ? new byte[0] : received.getBytes(StandardCharsets.US_ASCII);
        return MessageDigest.isEqual(expected, got);
    }

    /** A length-prefixed JSON message. */
    static ByteBuf encode(ByteBufAllocator alloc, Object message) {
        ByteBuf buf = alloc.buffer(256);
        try {
            buf.writeShort(0);
            try (ByteBufOutputStream out = new ByteBufOutputStream(buf)) {
                JSON.writeValue((java.io.OutputStream) out, message);
            }
            int len = buf.readableBytes() - 2;
            if (len > MAX_MESSAGE) {
                throw new IllegalArgumentException("handshake message of " + len + " bytes exceeds " + MAX_MESSAGE);
            }
            buf.setShort(0, len);
            return buf;
        } catch (IOException | RuntimeException e) {
            buf.release();
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
        }
    }

    /**
     * Reads one message from {@code in} if it is complete; null if more bytes are needed.
     * Throws {@link HandshakeException} for an oversized or malformed message.
     */
    static <T> T decode(ByteBuf in, Class<T> type) {
        if (in.readableBytes() < 2) {
            return null;
        }
        int len = in.getUnsignedShort(in.readerIndex());
        if (len > MAX_MESSAGE) {
            throw new HandshakeException("handshake message of " + len + " bytes exceeds " + MAX_MESSAGE);
        }
        if (in.readableBytes() < 2 + len) {
            return null;
        }
        in.skipBytes(2);
        ByteBuf body = in.readSlice(len);
        try (ByteBufInputStream is = new ByteBufInputStream(body)) {
            T value = JSON.readValue((java.io.InputStream) is, type);
            if (value == null) {
                throw new HandshakeException("empty " + type.getSimpleName());
            }
            return value;
        } catch (IOException e) {
            throw new HandshakeException("malformed " + type.getSimpleName() + ": " + e.getClass().getSimpleName());
        }
    }

    /** A handshake that cannot go on; closes that connection only. */
    static final class HandshakeException extends RuntimeException {
        HandshakeException(String message) {
            super(message, null, false, false);
        }
    }
}

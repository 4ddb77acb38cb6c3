package dev.titan.tunnel;

import dev.titan.core.ingress.HttpHead;
import dev.titan.core.ingress.Ingress;
import dev.titan.core.net.TimedDecoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

/**
 * The {@code ws} and {@code wss} tunnel transports: an HTTP/1.1 upgrade to WebSocket (RFC 6455) on
 * the server's tunnel path, then the tunnel's bytes in binary frames, so that a tunnel passes
 * networks and CDNs that carry only HTTP. The upgrade is done by hand on both ends (a request, a
 * 101 with the accept key) and only the frame codec is Netty's.
 */
final class WebSockets {
    /** Where tunnels upgrade unless the server's {@code ws_path} says otherwise. */
    static final String DEFAULT_PATH = "/_titan/tunnel";
    private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    private static final SecureRandom RANDOM = new SecureRandom();

    private WebSockets() {
    }

    /** {@code Sec-WebSocket-Accept} for a request's {@code Sec-WebSocket-Key}. */
    static String accept(String key) {
        try {
            byte[] sha1 = MessageDigest.getInstance("SHA-1").digest((key + GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(sha1);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is required of every JDK", e);
        }
    }

    /**
     * Frames from now on: binary frames in and out after handler {@code after}. The client masks
     * what it sends and the server expects masked frames, as RFC 6455 requires; a frame larger than
     * {@code maxFrame} closes the connection.
     */
    static void install(ChannelPipeline p, String after, boolean client, int maxFrame) {
        WebSocketDecoderConfig dc = WebSocketDecoderConfig.newBuilder()
                .expectMaskedFrames(!client)
                .allowMaskMismatch(false)
                .maxFramePayloadLength(maxFrame)
                .allowExtensions(false)
                .closeOnProtocolViolation(true)
                .build();
        p.addAfter(after, "ws-decoder", new WebSocket13FrameDecoder(dc));
        p.addAfter("ws-decoder", "ws-encoder", new WebSocket13FrameEncoder(client));
        p.addAfter("ws-encoder", "ws-bytes", FRAMES_TO_BYTES);
    }

    /** Largest frame a tunnel end accepts: a DATA frame of the largest allowed size and its header, with room to spare. */
    static int maxFrame(TunnelSettings s) {
        return Math.max(1 << 20, s.maxFrameSize() + (64 << 10));
    }

    private static final ChannelHandler FRAMES_TO_BYTES = new FramesToBytes();

    /** Binary (and continuation) frames in become bytes; bytes out become binary frames; control frames are answered. */
    @ChannelHandler.Sharable
    private static final class FramesToBytes extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof BinaryWebSocketFrame || msg instanceof ContinuationWebSocketFrame) {
                ctx.fireChannelRead(((io.netty.buffer.ByteBufHolder) msg).content());
            } else if (msg instanceof PingWebSocketFrame ping) {
                ctx.writeAndFlush(new PongWebSocketFrame(ping.content()));
            } else if (msg instanceof CloseWebSocketFrame) {
                ReferenceCountUtil.release(msg);
                ctx.close();
            } else {
                ReferenceCountUtil.release(msg); // pong: nothing to do; text: not part of the tunnel
                if (!(msg instanceof PongWebSocketFrame)) {
                    ctx.close();
                }
            }
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            ctx.write(msg instanceof ByteBuf buf ? new BinaryWebSocketFrame(buf) : msg, promise);
        }
    }

    /**
     * The client's side of the upgrade: sends the request, waits for {@code 101} with the right
     * accept key, installs the frame codec, then runs {@code upgraded} (which starts the tunnel
     * handshake). Anything else closes the connection, and the client tries its next transport.
     */
    static final class ClientUpgrade extends TimedDecoder {
        private final String hostHeader;
        private final String path;
        private final int maxFrame;
        private final Runnable upgraded;
        private String key;

        ClientUpgrade(String hostHeader, String path, Duration timeout, int maxFrame, Runnable upgraded) {
            super(timeout);
            this.hostHeader = hostHeader;
            this.path = path;
            this.maxFrame = maxFrame;
            this.upgraded = upgraded;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            super.handlerAdded(ctx);
            byte[] nonce = new byte[16];
            RANDOM.nextBytes(nonce);
            key = Base64.getEncoder().encodeToString(nonce);
            String request = "GET " + path + " HTTP/1.1\r\nHost: " + hostHeader + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: titan-tunnel\r\n\r\n";
            ctx.writeAndFlush(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
        }

        @Override
        protected void timedOut(ChannelHandlerContext ctx) {
            // closed by the caller's deadline; the client moves on to its next transport
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            HttpHead head;
            try {
                head = HttpHead.readResponse(in);
            } catch (Ingress.Malformed e) {
                throw new TunnelProtocol.HandshakeException("WebSocket upgrade: " + e.getMessage());
            }
            if (head == null) {
                return;
            }
            in.skipBytes(head.length());
            if (head.status() != 101) {
                throw new TunnelProtocol.HandshakeException("WebSocket upgrade refused: " + head.startLine());
            }
            if (!accept(key).equals(head.header("sec-websocket-accept"))) {
                throw new TunnelProtocol.HandshakeException("WebSocket upgrade: wrong Sec-WebSocket-Accept");
            }
            stopClock();
            install(ctx.pipeline(), ctx.name(), true, maxFrame);
            upgraded.run();
            ctx.pipeline().remove(this); // any bytes after the head go on to the frame decoder
        }
    }
}

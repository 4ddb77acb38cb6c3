package dev.titan.core.testing;

import java.nio.ByteBuffer;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/** Real TLS ClientHellos, from the JDK's TLS client, for tests of what reads them. */
public final class ClientHellos {
    private ClientHellos() {
    }

    /** The first flight of a JDK TLS client naming {@code name} in its SNI (none when null). */
    public static byte[] of(String name) throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine(name, 443);
        engine.setUseClientMode(true);
        if (name != null) {
            SSLParameters p = engine.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(name)));
            engine.setSSLParameters(p);
        }
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }
}

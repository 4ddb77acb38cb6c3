package dev.titan.tunnel;

import dev.titan.core.net.Relay;
import java.util.concurrent.atomic.LongAdder;

/**
 * Streams and bytes each way of one client id, fed by the relays of its streams: on the server
 * "to client" is from users, on the client it is towards its local services.
 */
final class ClientMeters implements Relay.Stats {
    final LongAdder streams = new LongAdder();
    /** Streams a replica could not take, passed to another (server only). */
    final LongAdder redispatched = new LongAdder();
    /** Bytes from users towards the client's services. */
    final LongAdder bytesToClient = new LongAdder();
    /** Bytes from the client's services back to users. */
    final LongAdder bytesFromClient = new LongAdder();

    @Override
    public void bytesFromA(long n) {
        bytesToClient.add(n);
    }

    @Override
    public void bytesFromB(long n) {
        bytesFromClient.add(n);
    }

    @Override
    public void closed(Relay relay) {
    }
}

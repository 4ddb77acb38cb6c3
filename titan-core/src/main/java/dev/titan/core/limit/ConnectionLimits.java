package dev.titan.core.limit;

import io.netty.channel.Channel;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts open connections per key (a listener, a client IP, a user) and admits a new one only
 * while its key is below its limit; a connection is counted until it closes. Keys whose count
 * falls to zero are forgotten, so a flood of client addresses costs nothing once it is gone.
 *
 * <pre>{@code
 * ConnectionLimits<InetAddress> perIp = new ConnectionLimits<>();
 * if (!perIp.admit(ip, 100, channel)) { channel.close(); }
 * }</pre>
 */
public final class ConnectionLimits<K> {
    private final ConcurrentHashMap<K, AtomicInteger> open = new ConcurrentHashMap<>();

    /** Counts {@code ch} under {@code key} until it closes, unless {@code max} (0: no limit) are open already. */
    public boolean admit(K key, int max, Channel ch) {
        if (!tryAcquire(key, max)) {
            return false;
        }
        ch.closeFuture().addListener(f -> release(key));
        return true;
    }

    /** Takes a place under {@code key} for something that calls {@link #release} itself; false at the limit. */
    public boolean tryAcquire(K key, int max) {
        while (true) {
            AtomicInteger n = open.computeIfAbsent(key, k -> new AtomicInteger());
            int now = n.incrementAndGet();
            if (now <= 0) { // a count that reached zero and is being forgotten: take a fresh one
                continue;
            }
            if (max > 0 && now > max) {
                release(key, n);
                return false;
            }
            return true;
        }
    }

    public void release(K key) {
        AtomicInteger n = open.get(key);
        if (n != null) {
            release(key, n);
        }
    }

    private void release(K key, AtomicInteger n) {
        if (n.decrementAndGet() == 0 && n.compareAndSet(0, Integer.MIN_VALUE / 2)) {
            open.remove(key, n);
        }
    }

    /** Connections open under {@code key} now. */
    public int open(K key) {
        AtomicInteger n = open.get(key);
        return n == null ? 0 : Math.max(0, n.get());
    }

    /** How many keys have connections open. */
    public int keys() {
        return open.size();
    }
}

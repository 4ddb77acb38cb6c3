package dev.titan.core.balance;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;

/** 64-bit hashing for hash-based balancers: FNV-1a over the bytes, finished with MurmurHash3's fmix64. */
public final class Hashing {
    private Hashing() {
    }

    public static long hash(byte[] bytes) {
        long h = 0xcbf29ce484222325L;
        for (byte b : bytes) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix(h);
    }

    public static long hash(String s) {
        return hash(s.getBytes(StandardCharsets.UTF_8));
    }

    public static long hash(InetAddress address) {
        return address == null ? 0 : hash(address.getAddress());
    }

    public static long mix(long k) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        k *= 0xc4ceb9fe1a85ec53L;
        k ^= k >>> 33;
        return k;
    }
}

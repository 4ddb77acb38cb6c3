package dev.titan.core.endpoint;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * An immutable list of endpoint addresses stored compactly: a CIDR range is one entry whatever its
 * size, so a /16 (65,536 addresses) costs a few bytes until an address is actually used. Addresses
 * are addressed by index in {@code [0, size())}.
 */
public final class AddressList {
    /** The largest range one CIDR entry may expand to. */
    public static final long MAX_RANGE = 1L << 24;

    private final Range[] ranges;
    private final long[] starts;
    private final long size;

    private AddressList(List<Range> ranges) {
        this.ranges = ranges.toArray(new Range[0]);
        this.starts = new long[this.ranges.length];
        long total = 0;
        for (int i = 0; i < this.ranges.length; i++) {
            starts[i] = total;
            total += this.ranges[i].count;
        }
        this.size = total;
    }

    public static final AddressList EMPTY = new AddressList(List.of());

    public long size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    /** The address at {@code index}. */
    public InetSocketAddress get(long index) {
        if (index < 0 || index >= size) {
            throw new IndexOutOfBoundsException(index + " of " + size);
        }
        int i = Arrays.binarySearch(starts, index);
        if (i < 0) {
            i = -i - 2;
        }
        return ranges[i].get(index - starts[i]);
    }

    /** True if {@code address} is one of the list's addresses. */
    public boolean contains(InetSocketAddress address) {
        byte[] raw = address.getAddress().getAddress();
        BigInteger v = null;
        for (Range r : ranges) {
            if (r.port != address.getPort() || r.base.length != raw.length) {
                continue;
            }
            if (r.count == 1) {
                if (Arrays.equals(r.base, raw)) {
                    return true;
                }
                continue;
            }
            if (v == null) {
                v = new BigInteger(1, raw);
            }
            BigInteger offset = v.subtract(new BigInteger(1, r.base));
            if (offset.signum() >= 0 && offset.compareTo(BigInteger.valueOf(r.count)) < 0) {
                return true;
            }
        }
        return false;
    }

    /** The weight of the address at {@code index} (1 unless the list gave one). */
    public int weight(long index) {
        int i = Arrays.binarySearch(starts, index);
        if (i < 0) {
            i = -i - 2;
        }
        return ranges[i].weight;
    }

    /** Every address, for small lists; callers check {@link #size()} first. */
    public List<InetSocketAddress> toList() {
        if (size > MAX_RANGE) {
            throw new IllegalStateException("list too large to expand: " + size);
        }
        List<InetSocketAddress> out = new ArrayList<>((int) size);
        for (long i = 0; i < size; i++) {
            out.add(get(i));
        }
        return out;
    }

    /** Accumulates entries; single addresses are de-duplicated, ranges are kept as they are. */
    public static final class Builder {
        private final List<Range> ranges = new ArrayList<>();
        private final Set<InetSocketAddress> singles = new LinkedHashSet<>();

        public Builder add(InetSocketAddress address, int weight) {
            if (singles.add(address)) {
                ranges.add(new Range(address.getAddress().getAddress(), 1, address.getPort(), weight));
            }
            return this;
        }

        public Builder add(InetSocketAddress address) {
            return add(address, 1);
        }

        /** Adds {@code base/prefix} on {@code port}; the caller validated the prefix. */
        public Builder addCidr(InetAddress base, int prefix, int port, int weight) {
            byte[] raw = base.getAddress();
            int bits = raw.length * 8;
            long count = 1L << Math.min(62, bits - prefix);
            if (bits - prefix > 24) {
                throw new IllegalArgumentException("/" + prefix + " is larger than /" + (bits - 24)
                        + " (at most " + MAX_RANGE + " addresses per range)");
            }
            byte[] network = mask(raw, prefix);
            ranges.add(new Range(network, count, port, weight));
            return this;
        }

        public Builder addAll(AddressList other) {
            for (Range r : other.ranges) {
                if (r.count == 1) {
                    add(r.get(0), r.weight);
                } else {
                    ranges.add(r);
                }
            }
            return this;
        }

        public AddressList build() {
            return ranges.isEmpty() ? EMPTY : new AddressList(ranges);
        }
    }

    static byte[] mask(byte[] raw, int prefix) {
        byte[] out = raw.clone();
        for (int bit = prefix; bit < out.length * 8; bit++) {
            out[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
        }
        return out;
    }

    private record Range(byte[] base, long count, int port, int weight) {
        InetSocketAddress get(long offset) {
            byte[] addr;
            if (offset == 0) {
                addr = base;
            } else {
                BigInteger v = new BigInteger(1, base).add(BigInteger.valueOf(offset));
                byte[] bytes = v.toByteArray();
                addr = new byte[base.length];
                int copy = Math.min(bytes.length, addr.length);
                System.arraycopy(bytes, bytes.length - copy, addr, addr.length - copy, copy);
            }
            try {
                return new InetSocketAddress(InetAddress.getByAddress(addr), port);
            } catch (UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}

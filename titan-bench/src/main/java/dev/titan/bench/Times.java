package dev.titan.bench;

/** Send times of the requests still waiting for their responses, oldest first, without boxing. */
final class Times {
    private long[] t = new long[4]; // a power of two, so that wrapping is a mask
    private int head;
    private int size;

    void add(long v) {
        if (size == t.length) {
            long[] n = new long[t.length * 2];
            for (int i = 0; i < size; i++) {
                n[i] = t[(head + i) & (t.length - 1)];
            }
            t = n;
            head = 0;
        }
        t[(head + size++) & (t.length - 1)] = v;
    }

    /** Removes and returns the oldest time; call only when not {@link #isEmpty()} (nanoTime values may be negative). */
    long poll() {
        if (size == 0) {
            throw new IllegalStateException("no request is waiting");
        }
        long v = t[head];
        head = (head + 1) & (t.length - 1);
        size--;
        return v;
    }

    boolean isEmpty() {
        return size == 0;
    }
}

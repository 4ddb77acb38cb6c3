package dev.titan.core.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test when Netty's leak detector reports a leaked buffer. Registered for every test
 * through JUnit's extension auto-detection; the build runs tests with
 * {@code -Dio.netty.leakDetection.level=paranoid}, so every buffer is tracked.
 *
 * <p>Leaks are looked for after each test (a quick look: one collection) and again, more
 * thoroughly, after each class. A leak is found when its buffer is collected, so the test it is
 * blamed on is the one that just ran or, when the buffer outlived it, a later one. The failure
 * message ends with the buffer's most recent access, because a CI log often keeps only its tail.
 */
public final class LeakGuard implements BeforeAllCallback, AfterEachCallback, AfterAllCallback {
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();

    static {
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
            @Override
            @SuppressWarnings("deprecation")
            public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval, long maxActive) {
                return new ResourceLeakDetector<>(resource, samplingInterval) {
                    @Override
                    protected void reportTracedLeak(String resourceType, String records) {
                        LEAKS.add(resourceType + " leaked:" + records);
                        super.reportTracedLeak(resourceType, records);
                    }

                    @Override
                    protected void reportUntracedLeak(String resourceType) {
                        LEAKS.add(resourceType + " leaked (untraced)");
                        super.reportUntracedLeak(resourceType);
                    }
                };
            }
        });
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        // the static block above installed the factory before any detector was created
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        check(context, collectLeaks(1));
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        check(context, collectLeaks(3));
    }

    private static void check(ExtensionContext context, List<String> leaks) {
        if (!leaks.isEmpty()) {
            throw new AssertionError(describe(context.getDisplayName(), leaks));
        }
    }

    /** The reports, then a summary naming the test and the first leak's most recent access. */
    static String describe(String test, List<String> leaks) {
        String first = leaks.get(0);
        int from = first.indexOf("#1:");
        String lastAccess = from < 0 ? "(not recorded)" : first.substring(from).lines().skip(1).limit(12).collect(Collectors.joining("\n"));
        return "Netty reported leaked buffers, found after " + test + ":\n" + String.join("\n\n", leaks)
                + "\n\n" + leaks.size() + " leak(s) found after " + test + "; the first one was last accessed at:\n" + lastAccess;
    }

    static List<String> collectLeaks() throws InterruptedException {
        return collectLeaks(3);
    }

    /** Makes the detector look for collected, unreleased buffers now, and returns (and forgets) what it reported. */
    static List<String> collectLeaks(int rounds) throws InterruptedException {
        // leaks are found when a collected buffer's reference is polled, which happens on allocation
        for (int i = 0; i < rounds; i++) {
            System.gc();
            Thread.sleep(rounds == 1 ? 20 : 50);
            for (int j = 0; j < 64; j++) {
                ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(16);
                b.release();
                ByteBuf h = PooledByteBufAllocator.DEFAULT.heapBuffer(16);
                h.release();
            }
        }
        List<String> out = List.copyOf(LEAKS);
        LEAKS.clear();
        return out;
    }
}

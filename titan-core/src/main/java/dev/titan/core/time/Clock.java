package dev.titan.core.time;

/** Monotonic time in nanoseconds; injectable so debounce, ejection and scaling are tested without sleeping. */
@FunctionalInterface
public interface Clock {
    Clock SYSTEM = System::nanoTime;

    long nanos();
}

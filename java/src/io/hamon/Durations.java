package io.hamon;

import java.time.Duration;
import java.util.Objects;

/** Durations as the milliseconds the native side takes. */
final class Durations {
    private Durations() {}

    /**
     * {@code d} in whole milliseconds; saturates at {@code Long.MAX_VALUE}.
     *
     * @throws NullPointerException when {@code d} is null
     * @throws IllegalArgumentException when {@code d} is negative
     */
    static long millis(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isNegative()) {
            throw new IllegalArgumentException(what + " must not be negative: " + d);
        }
        try {
            return d.toMillis();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE;
        }
    }
}

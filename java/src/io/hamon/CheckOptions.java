package io.hamon;

import java.time.Duration;

/**
 * How a check is run and judged: the Java form of the {@code ha.check.*} settings. Options not
 * set take the server's {@code ha.check.*} values (library defaults: interval 1 s, timeout
 * 1 s, rise 2, fall 3, critical, no latency thresholds).
 *
 * <pre>{@code
 * CheckOptions fast = CheckOptions.builder()
 *         .interval(Duration.ofMillis(200))
 *         .timeout(Duration.ofMillis(500))
 *         .rise(1).fall(1)
 *         .importance(CheckOptions.Importance.DEGRADING)
 *         .build();
 * server.addCheck("cache", cache::state, fast);
 * }</pre>
 *
 * <p>Values are checked when the check is added: {@link HaServer#addCheck(String, HealthCheck,
 * CheckOptions)} throws {@link IllegalArgumentException} for a zero interval or timeout, rise
 * or fall outside 1-100, or a latency warning not below the critical latency. Instances are
 * immutable and thread-safe.
 */
public final class CheckOptions {
    /** How much a failing check weighs; the ordinals are the {@code HA_IMPORTANCE_*} numbers. */
    public enum Importance {
        /** A failing check makes the instance DOWN ({@code ha.check.importance=critical}). */
        CRITICAL,
        /** A failing check makes the instance DEGRADED. */
        DEGRADING,
        /** The check is reported but never changes the instance's state. */
        INFO
    }

    /** The value that leaves an option to the server's {@code ha.check.*} setting. */
    static final int UNSET = -1;

    /** Every option from the server's {@code ha.check.*} settings. */
    static final CheckOptions SERVER_DEFAULTS = builder().build();

    final long intervalMs;
    final long timeoutMs;
    final int rise;
    final int fall;
    final int importance;
    final long latencyWarnMs;
    final long latencyCritMs;

    private CheckOptions(Builder b) {
        intervalMs = b.intervalMs;
        timeoutMs = b.timeoutMs;
        rise = b.rise;
        fall = b.fall;
        importance = b.importance;
        latencyWarnMs = b.latencyWarnMs;
        latencyCritMs = b.latencyCritMs;
    }

    /**
     * Starts a set of options with nothing set.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String toString() {
        return "CheckOptions[interval_ms=" + shown(intervalMs) + " timeout_ms=" + shown(timeoutMs)
                + " rise=" + shown(rise) + " fall=" + shown(fall) + " importance="
                + (importance == UNSET ? "default" : Importance.values()[importance])
                + " latency_warn_ms=" + shown(latencyWarnMs)
                + " latency_crit_ms=" + shown(latencyCritMs) + "]";
    }

    private static String shown(long value) {
        return value == UNSET ? "default" : Long.toString(value);
    }

    /** Builds {@link CheckOptions}. Not thread-safe; each setter returns the builder. */
    public static final class Builder {
        private long intervalMs = UNSET;
        private long timeoutMs = UNSET;
        private int rise = UNSET;
        private int fall = UNSET;
        private int importance = UNSET;
        private long latencyWarnMs = UNSET;
        private long latencyCritMs = UNSET;

        private Builder() {}

        /**
         * Time between the starts of two runs ({@code ha.check.interval_ms}), at least 1 ms.
         *
         * @param interval the interval
         * @return this builder
         * @throws IllegalArgumentException when negative
         */
        public Builder interval(Duration interval) {
            intervalMs = Durations.millis(interval, "interval");
            return this;
        }

        /**
         * A run still inside the check after this long counts as failed
         * ({@code ha.check.timeout_ms}), at least 1 ms.
         *
         * @param timeout the timeout
         * @return this builder
         * @throws IllegalArgumentException when negative
         */
        public Builder timeout(Duration timeout) {
            timeoutMs = Durations.millis(timeout, "timeout");
            return this;
        }

        /**
         * Consecutive successes needed to pass again after failing ({@code ha.check.rise}),
         * 1-100.
         *
         * @param rise the count
         * @return this builder
         * @throws IllegalArgumentException when negative
         */
        public Builder rise(int rise) {
            this.rise = count(rise, "rise");
            return this;
        }

        /**
         * Consecutive failures needed to fail after passing ({@code ha.check.fall}), 1-100.
         *
         * @param fall the count
         * @return this builder
         * @throws IllegalArgumentException when negative
         */
        public Builder fall(int fall) {
            this.fall = count(fall, "fall");
            return this;
        }

        /**
         * How much a failing check weighs ({@code ha.check.importance}).
         *
         * @param importance the importance
         * @return this builder
         * @throws NullPointerException when null
         */
        public Builder importance(Importance importance) {
            if (importance == null) {
                throw new NullPointerException("importance");
            }
            this.importance = importance.ordinal();
            return this;
        }

        /**
         * A successful run slower than this makes the check DEGRADED
         * ({@code ha.check.latency_warn_ms}); zero turns it off.
         *
         * @param warn the latency
         * @return this builder
         * @throws IllegalArgumentException when negative
         */
        public Builder latencyWarn(Duration warn) {
            latencyWarnMs = Durations.millis(warn, "latencyWarn");
            return this;
        }

        /**
         * A run slower than this counts as failed ({@code ha.check.latency_crit_ms}); zero
         * turns it off.
         *
         * @param crit the latency
         * @return this builder
         * @throws IllegalArgumentException when negative
         */
        public Builder latencyCrit(Duration crit) {
            latencyCritMs = Durations.millis(crit, "latencyCrit");
            return this;
        }

        /**
         * The options set so far; the others stay the server's.
         *
         * @return the options
         */
        public CheckOptions build() {
            return new CheckOptions(this);
        }

        private static int count(int value, String what) {
            if (value < 0) {
                throw new IllegalArgumentException(what + " must not be negative: " + value);
            }
            return value;
        }
    }
}

package io.hamon;

/**
 * hamon's log records (state changes, checks that time out or are left behind, heartbeat
 * alarms) as records of the {@link System.Logger} named {@code io.hamon}, which the JDK
 * sends to {@code java.util.logging} unless the application plugs in another logging
 * back-end. The levels worth sending are read from that logger once, when the library
 * loads: make {@code io.hamon} more verbose before the first hamon call to see debug records.
 */
final class NativeLog {
    private static final System.Logger LOGGER = System.getLogger("io.hamon");
    /** {@code HA_LOG_ERROR} .. {@code HA_LOG_TRACE} are 1 .. 5, in this order. */
    private static final System.Logger.Level[] LEVELS = {
        System.Logger.Level.ERROR, System.Logger.Level.WARNING, System.Logger.Level.INFO,
        System.Logger.Level.DEBUG, System.Logger.Level.TRACE,
    };

    private NativeLog() {}

    /** Routes hamon's records here, unless the process has another Rust logger already. */
    static void install() {
        int max = 0;
        for (int i = 0; i < LEVELS.length; i++) {
            if (LOGGER.isLoggable(LEVELS[i])) {
                max = i + 1;
            }
        }
        Native.logToJava(max);
    }

    /** Called by the native side, on the hamon thread that logs. */
    static void publish(int level, String message) {
        LOGGER.log(LEVELS[Math.min(Math.max(level, 1), LEVELS.length) - 1], message);
    }
}

package io.hamon;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * hamon's log records (state changes, checks that time out or are left behind, heartbeat
 * alarms) as records of the {@code java.util.logging} logger named {@code io.hamon}; an
 * application on another logging back-end bridges it as it bridges any JDK logging (SLF4J's
 * jul-to-slf4j, Log4j's log4j-jul). hamon's levels map as the JDK maps {@code System.Logger}
 * levels: ERROR to SEVERE, WARNING to WARNING, INFO to INFO, DEBUG to FINE, TRACE to FINER.
 * The levels worth sending are read from that logger once, when the library loads: make
 * {@code io.hamon} more verbose before the first hamon call to see debug records.
 */
final class NativeLog {
    /** Held: java.util.logging keeps its loggers, with their levels, only weakly. */
    private static final Logger LOGGER = Logger.getLogger("io.hamon");
    /** {@code HA_LOG_ERROR} .. {@code HA_LOG_TRACE} are 1 .. 5, in this order. */
    private static final Level[] LEVELS = {
        Level.SEVERE, Level.WARNING, Level.INFO, Level.FINE, Level.FINER,
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

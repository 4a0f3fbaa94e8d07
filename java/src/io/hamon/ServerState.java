package io.hamon;

/**
 * The state of an instance as its HA monitor server reports it to clients (the first word of
 * the {@code check} reply): {@link HaServer#state()} and {@link ProbeResult#state()}.
 *
 * <p>UP, DEGRADED and DOWN come from the checks, pushed states, counters and the watchdog;
 * STARTING, DRAINING, MAINT and STOPPING are lifecycle states that take precedence. The order
 * of the constants is part of hamon's API: their ordinals are the {@code HA_STATE_*} numbers
 * of the C API.
 */
public enum ServerState {
    /** Healthy. */
    UP,
    /** Healthy, but working less well. */
    DEGRADED,
    /** Not healthy. */
    DOWN,
    /** Not ready yet: {@link HaServer#ready()} has not been called. */
    STARTING,
    /** Being drained ({@link AdminState#DRAINING}). */
    DRAINING,
    /** In maintenance ({@link AdminState#MAINT}). */
    MAINT,
    /** Stopping ({@link AdminState#STOPPING}). */
    STOPPING;

    /**
     * Whether a cluster manager should consider the instance healthy: UP or DEGRADED, the
     * states for which {@code ping} answers {@code OK}.
     *
     * @return true for UP and DEGRADED
     */
    public boolean isAvailable() {
        return this == UP || this == DEGRADED;
    }
}

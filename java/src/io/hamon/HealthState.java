package io.hamon;

/**
 * What a {@link HealthCheck} says about the application, and what an application can push
 * with {@link HaServer#pushState}.
 *
 * <p>The order of the constants is part of hamon's API: their ordinals are the
 * {@code HA_CHECK_*} numbers of the C API.
 */
public enum HealthState {
    /** The application does its job. */
    UP,
    /** The application works, but less well (slow, a redundant part lost). */
    DEGRADED,
    /** The application cannot do its job. */
    DOWN
}

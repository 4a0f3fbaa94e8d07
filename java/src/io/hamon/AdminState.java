package io.hamon;

/**
 * A lifecycle state the application or an operator sets with {@link HaServer#setAdminState}; it
 * is shown instead of the state the checks compute. The order of the constants is part of
 * hamon's API: their ordinals are the {@code HA_ADMIN_*} numbers of the C API.
 */
public enum AdminState {
    /** No lifecycle state: clients see the state the checks compute. */
    NONE,
    /** Finishing work in progress and taking no new work. */
    DRAINING,
    /** In maintenance. */
    MAINT,
    /** Going away. */
    STOPPING
}

package io.hamon;

import java.util.Objects;

/**
 * What a {@link DetailedHealthCheck} found: a state and the reason clients see with it (in
 * {@code check NAME}, in a failed {@code check}, and in {@link ProbeResult#reason()}).
 * Immutable.
 */
public final class CheckResult {
    private static final CheckResult UP = new CheckResult(HealthState.UP, "");

    private final HealthState state;
    private final String reason;

    private CheckResult(HealthState state, String reason) {
        this.state = state;
        this.reason = reason;
    }

    /**
     * A result with a state and a reason. A DEGRADED or DOWN result without a reason shows
     * clients {@code the check returned DOWN} (or {@code DEGRADED}).
     *
     * @param state UP, DEGRADED or DOWN
     * @param reason why; null or empty for none
     * @return the result
     * @throws NullPointerException when the state is null
     */
    public static CheckResult of(HealthState state, String reason) {
        return new CheckResult(
                Objects.requireNonNull(state, "state"), reason == null ? "" : reason);
    }

    /**
     * The application does its job.
     *
     * @return UP without a reason
     */
    public static CheckResult up() {
        return UP;
    }

    /**
     * The application works, but less well.
     *
     * @param reason why, e.g. {@code "replica db2 unreachable"}; null for none
     * @return DEGRADED with the reason
     */
    public static CheckResult degraded(String reason) {
        return of(HealthState.DEGRADED, reason);
    }

    /**
     * The application cannot do its job.
     *
     * @param reason why, e.g. {@code "db pool exhausted"}; null for none
     * @return DOWN with the reason
     */
    public static CheckResult down(String reason) {
        return of(HealthState.DOWN, reason);
    }

    /**
     * The state.
     *
     * @return UP, DEGRADED or DOWN
     */
    public HealthState state() {
        return state;
    }

    /**
     * The reason.
     *
     * @return the reason; empty when none was given
     */
    public String reason() {
        return reason;
    }

    @Override
    public String toString() {
        return reason.isEmpty() ? state.toString() : state + " (" + reason + ")";
    }
}

package io.hamon;

import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * What a {@link Heartbeat} node says after a tick: its role, what to do with the application,
 * and when to tick again. Immutable and thread-safe.
 */
public final class HeartbeatTick {
    private final Heartbeat.Role role;
    private final Heartbeat.Action action;
    private final long epoch;
    private final long deadlineLeftMs;
    private final Heartbeat.Maintenance maintenance;
    private final boolean maintenanceReadable;
    private final String switchoverTarget;
    private final List<String> alarms;
    private final long nextTickMs;

    /** Made by the native side only. */
    HeartbeatTick(int role, int action, long epoch, long deadlineLeftMs, int maintenance,
            boolean maintenanceReadable, String switchoverTarget, String[] alarms,
            long nextTickMs) {
        this.role = Codes.of(Heartbeat.Role.values(), role);
        this.action = Codes.of(Heartbeat.Action.values(), action);
        this.epoch = epoch;
        this.deadlineLeftMs = deadlineLeftMs;
        this.maintenance = Codes.of(Heartbeat.Maintenance.values(), maintenance);
        this.maintenanceReadable = maintenanceReadable;
        this.switchoverTarget = switchoverTarget;
        this.alarms = Collections.unmodifiableList(Arrays.asList(alarms));
        this.nextTickMs = nextTickMs;
    }

    /**
     * This node's role now.
     *
     * @return the role
     */
    public Heartbeat.Role role() {
        return role;
    }

    /**
     * What to do with the application now.
     *
     * @return the action
     */
    public Heartbeat.Action action() {
        return action;
    }

    /**
     * The fencing token of this node's current or last term (0 before its first claim); give
     * it to the application it starts.
     *
     * @return the epoch
     */
    public long epoch() {
        return epoch;
    }

    /**
     * Time left on this node's lease, when it holds one.
     *
     * @return the time left
     */
    public Optional<Duration> deadlineLeft() {
        return deadlineLeftMs < 0 ? Optional.empty() : Optional.of(Duration.ofMillis(deadlineLeftMs));
    }

    /**
     * The maintenance mode as last read (FREEZE until read).
     *
     * @return the mode
     */
    public Heartbeat.Maintenance maintenance() {
        return maintenance;
    }

    /**
     * Whether the maintenance record was readable and valid; when not, the node behaves as in
     * FREEZE.
     *
     * @return true when readable
     */
    public boolean maintenanceReadable() {
        return maintenanceReadable;
    }

    /**
     * The target of a SWITCHOVER.
     *
     * @return the node's name during a switchover, else empty
     */
    public Optional<String> switchoverTarget() {
        return switchoverTarget.isEmpty() ? Optional.empty() : Optional.of(switchoverTarget);
    }

    /**
     * The problems an operator must know about that this call raised.
     *
     * @return an unmodifiable list, usually empty
     */
    public List<String> alarms() {
        return alarms;
    }

    /**
     * Sleep this long, then tick again: the node's next timer is due then. Whole
     * milliseconds, at most half of {@code hb.period_ms} and never past the lease's end; zero
     * only when something is due at once.
     *
     * @return the time until the next tick is due
     */
    public Duration nextTickWithin() {
        return Duration.ofMillis(nextTickMs);
    }

    @Override
    public String toString() {
        return "HeartbeatTick[" + role + " " + action + " epoch=" + epoch + " maintenance="
                + maintenance + (alarms.isEmpty() ? "" : " alarms=" + alarms) + "]";
    }
}

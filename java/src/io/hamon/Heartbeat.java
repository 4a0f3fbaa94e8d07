package io.hamon;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Properties;

/**
 * This host's node of a heartbeat cluster, which keeps exactly one node active over a shared
 * directory (NFS or a cluster file system): the node that may run the application.
 *
 * <pre>{@code
 * Heartbeat.initCluster(settings);            // once per start; idempotent
 * try (Heartbeat node = Heartbeat.open(settings)) {
 *     while (running) {
 *         HeartbeatTick t = node.tick();
 *         switch (t.action()) {
 *             case START: app.start(t.epoch()); break;   // epoch: the fencing token
 *             case STOP: app.stop(); t = node.appStopped(); break;
 *             case FENCE: app.kill(); t = node.appStopped(); break;
 *             default: break;                              // KEEP, NONE
 *         }
 *         Thread.sleep(t.nextTickWithin().toMillis());
 *     }
 * }
 * }</pre>
 *
 * <p><b>Settings</b> are the {@code hb.*} keys of hamon's properties files: {@code hb.dir}
 * (the shared directory), {@code hb.node} (this node), {@code hb.nodes} (every node),
 * {@code hb.state_dir} (a local directory), and optionally {@code hb.cluster},
 * {@code hb.preferred} and the timing keys. Other keys are ignored.
 *
 * <p><b>Ticks.</b> The lease is renewed only inside {@link #tick()} and the calls that include
 * one: do what its {@link HeartbeatTick#action()} says, sleep {@link
 * HeartbeatTick#nextTickWithin()} ({@code Thread.sleep} of its milliseconds, as above), and
 * call it again. That sleep lasts until the node's next timer (a renewal, a read, the
 * lease's end) is due: the loop makes about two calls per {@code hb.period_ms} and never
 * sleeps past the lease's end. Waking sooner is harmless; sleeping longer risks the lease.
 * Each call blocks at most {@code hb.io_timeout_ms}.
 *
 * <p><b>Threads.</b> Thread-safe: calls on one node are serialised. {@link #close()} frees the
 * node; a node neither closed nor reachable is freed once the garbage collector finds it, by
 * hamon's daemon thread {@code io.hamon-reaper}. A node freed while active simply stops
 * renewing, and peers take over after {@code hb.takeover_ms}: stop the application and
 * {@link #release()} first for a clean hand-over.
 *
 * <p><b>Errors</b> as for {@link HaServer}: {@link NullPointerException}, {@link
 * IllegalArgumentException}, {@link IllegalStateException} after close, else {@link
 * HamonException}.
 */
public final class Heartbeat implements AutoCloseable {
    /** A node's role, as {@link HeartbeatTick#role()} tells it; ordinals are {@code HB_ROLE_*}. */
    public enum Role {
        /** Neither runs nor claims the application. */
        STANDBY,
        /** Claiming the lease; the application is not started yet. */
        CLAIMING,
        /** Holding the lease: the application runs here. */
        ACTIVE,
        /** The application was told to stop and is not confirmed gone yet. */
        STOPPING
    }

    /** What to do with the application after a tick; ordinals are {@code HB_ACTION_*}. */
    public enum Action {
        /** Nothing runs here and nothing may: make sure it does not. */
        NONE,
        /** Start the application now, with {@link HeartbeatTick#epoch()} as fencing token. */
        START,
        /** The application runs and must keep running. */
        KEEP,
        /** Hand-over: stop it gracefully within {@code hb.kill_budget_ms}, then
         * {@link #appStopped()}. */
        STOP,
        /** The lease is lost: kill it now, then {@link #appStopped()}. */
        FENCE
    }

    /** The cluster's maintenance mode; ordinals are {@code HB_MAINT_*}. */
    public enum Maintenance {
        /** Normal operation. */
        OFF,
        /** No node claims or takes over; the active node keeps its lease. */
        FREEZE,
        /** The active node hands over and the target node claims at once. */
        SWITCHOVER
    }

    /** The state a node wrote in its record; ordinals are {@code HB_STATE_*}. */
    public enum NodeState {
        /** Not running the application. */
        STANDBY,
        /** Claiming the lease. */
        CLAIMING,
        /** Holding the lease. */
        ACTIVE,
        /** Stopping the application. */
        STOPPING,
        /** Handed over on purpose: peers may take over at once. */
        RELEASED
    }

    /** Whether a node's writer is alive, judged on this node's clock; ordinals are
     * {@code HB_LIVENESS_*}. */
    public enum Liveness {
        /** Nothing can be said yet (no read, a failed read, or too little time). */
        UNKNOWN,
        /** The record changed less than {@code hb.takeover_ms} ago. */
        ALIVE,
        /** The record stayed unchanged for {@code hb.takeover_ms}. */
        STALE
    }

    private final NativeHandle handle;

    private Heartbeat(Settings settings) {
        long node = Native.hbOpen(settings.keys, settings.values, settings.origin);
        handle = new NativeHandle(this, node, true, Native::hbClose);
    }

    /**
     * Creates the cluster's shared records in {@code hb.dir} (which must exist) where they are
     * missing, leaving existing ones exactly as they are: safe on every start of every node.
     * Plain blocking file I/O: on a hung mount it hangs too.
     *
     * @param settings the node's {@code hb.*} settings
     * @throws NullPointerException when {@code settings} is null
     * @throws HamonException {@link HamonException#CONFIG_MISSING}, {@link
     *     HamonException#HEARTBEAT_TIMING}, {@link HamonException#HEARTBEAT_STORAGE}
     */
    public static void initCluster(Properties settings) {
        Settings s = Settings.of(settings, "Properties");
        Native.hbInit(s.keys, s.values, s.origin);
    }

    /**
     * Opens this host's node. It starts as STANDBY and touches the shared directory only from
     * the first {@link #tick()} on.
     *
     * @param settings the node's {@code hb.*} settings; copied
     * @return the node
     * @throws NullPointerException when {@code settings} is null
     * @throws HamonException {@link HamonException#CONFIG_MISSING} (a key is missing, or
     *     {@code hb.node} is not in {@code hb.nodes}), {@link HamonException#HEARTBEAT_TIMING}
     *     (the timing could allow two active nodes), {@link HamonException#HEARTBEAT_STATE}
     */
    public static Heartbeat open(Properties settings) {
        return new Heartbeat(Settings.of(settings, "Properties"));
    }

    /**
     * One step: renews or claims the lease, reads the peers and the maintenance record, and
     * says what to do. Blocks at most {@code hb.io_timeout_ms}.
     *
     * @return what to do now and when to tick again
     * @throws IllegalStateException after {@link #close()}
     */
    public HeartbeatTick tick() {
        return handle.call(Native::hbTick);
    }

    /**
     * Tells the node the application is gone: after STOP or FENCE, or because it exited by
     * itself (an active node then releases the lease). Includes a tick.
     *
     * @return what to do now, as after {@link #tick()}
     * @throws IllegalStateException after {@link #close()}
     */
    public HeartbeatTick appStopped() {
        return handle.call(Native::hbAppStopped);
    }

    /**
     * Tells the node the application failed while still running: an active node answers STOP
     * and hands over. Does nothing when the application does not run here. Includes a tick.
     *
     * @param reason for the alarm and the log; null for none
     * @return what to do now, as after {@link #tick()}
     * @throws IllegalStateException after {@link #close()}
     */
    public HeartbeatTick appFailed(String reason) {
        return handle.call(h -> Native.hbAppFailed(h, reason));
    }

    /**
     * Graceful hand-over: an active or claiming node gives up its lease. When the application
     * runs, the action is STOP: stop it, call {@link #appStopped()}, then {@link #tick()} once
     * more so peers see the release at once. Does nothing on a standby node.
     *
     * @return what to do now, as after {@link #tick()}
     * @throws IllegalStateException after {@link #close()}
     */
    public HeartbeatTick release() {
        return handle.call(Native::hbRelease);
    }

    /**
     * Sets the cluster's maintenance mode to OFF or FREEZE (an operator action, seen by every
     * node within about {@code hb.period_ms}); for SWITCHOVER use {@link #switchover}.
     *
     * @param mode OFF or FREEZE
     * @param reason recorded for operators; null for none
     * @throws NullPointerException when {@code mode} is null
     * @throws IllegalArgumentException for SWITCHOVER
     * @throws HamonException {@link HamonException#HEARTBEAT_STORAGE}
     * @throws IllegalStateException after {@link #close()}
     */
    public void setMaintenance(Maintenance mode, String reason) {
        Objects.requireNonNull(mode, "mode");
        if (mode == Maintenance.SWITCHOVER) {
            throw new IllegalArgumentException("a switchover needs a target: use switchover()");
        }
        handle.run(h -> Native.hbSetMaintenance(h, mode.ordinal(), null, reason));
    }

    /**
     * Moves the application to {@code target}: the active node hands over and the target
     * claims at once. {@link #setMaintenance setMaintenance(OFF, ...)} ends it.
     *
     * @param target a node of {@code hb.nodes}
     * @param reason recorded for operators; null for none
     * @throws NullPointerException when {@code target} is null
     * @throws IllegalArgumentException when {@code target} is not in {@code hb.nodes}
     * @throws HamonException {@link HamonException#HEARTBEAT_STORAGE}
     * @throws IllegalStateException after {@link #close()}
     */
    public void switchover(String target, String reason) {
        Objects.requireNonNull(target, "target");
        handle.run(h -> Native.hbSetMaintenance(
                h, Maintenance.SWITCHOVER.ordinal(), target, reason));
    }

    /**
     * Drains a node so it never takes over, or lets it again. A drained active node keeps
     * running.
     *
     * @param node a node of {@code hb.nodes}, this one or another
     * @param drained true to drain, false to undrain
     * @throws NullPointerException when {@code node} is null
     * @throws IllegalArgumentException when {@code node} is not in {@code hb.nodes}
     * @throws HamonException {@link HamonException#HEARTBEAT_STORAGE}
     * @throws IllegalStateException after {@link #close()}
     */
    public void setDrained(String node, boolean drained) {
        handle.run(h -> Native.hbSetDrain(h, node, drained));
    }

    /**
     * Every node of {@code hb.nodes}, this one included, as this node last read it (no I/O).
     *
     * @return an unmodifiable list in the order of {@code hb.nodes}
     * @throws IllegalStateException after {@link #close()}
     */
    public List<NodeStatus> status() {
        Object[] nodes = handle.call(Native::hbStatus);
        List<NodeStatus> list = new ArrayList<>(nodes.length);
        for (Object node : nodes) {
            list.add((NodeStatus) node);
        }
        return Collections.unmodifiableList(list);
    }

    /**
     * Frees the node without touching the shared directory. Idempotent; returns once the node
     * is freed, whichever thread calls it.
     *
     * @throws IllegalStateException when called during another call on this node on the same
     *     thread (from a log handler that hamon's record reached during that call)
     */
    @Override
    public void close() {
        handle.close();
    }
}

package io.hamon;

import java.time.Duration;
import java.util.Optional;

/**
 * One node of a heartbeat cluster as this node last read it ({@link Heartbeat#status()}).
 * Immutable and thread-safe.
 */
public final class NodeStatus {
    private final String name;
    private final boolean self;
    private final boolean known;
    private final Heartbeat.NodeState state;
    private final long epoch;
    private final long seq;
    private final Heartbeat.Liveness liveness;
    private final long changedAgoMs;
    private final boolean preferred;

    /** Made by the native side only. */
    NodeStatus(String name, boolean self, boolean known, int state, long epoch, long seq,
            int liveness, long changedAgoMs, boolean preferred) {
        this.name = name;
        this.self = self;
        this.known = known;
        this.state = Codes.of(Heartbeat.NodeState.values(), state);
        this.epoch = epoch;
        this.seq = seq;
        this.liveness = Codes.of(Heartbeat.Liveness.values(), liveness);
        this.changedAgoMs = changedAgoMs;
        this.preferred = preferred;
    }

    /**
     * The node's name, from {@code hb.nodes}.
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    /**
     * Whether this is the calling node's own entry.
     *
     * @return true for the own entry
     */
    public boolean isSelf() {
        return self;
    }

    /**
     * The state in the node's record, when a valid record was read.
     *
     * @return the state, or empty
     */
    public Optional<Heartbeat.NodeState> state() {
        return known ? Optional.of(state) : Optional.empty();
    }

    /**
     * The epoch in the node's record; 0 when no valid record was read.
     *
     * @return the epoch
     */
    public long epoch() {
        return epoch;
    }

    /**
     * The record's write counter, which grows with every heartbeat of its writer; 0 when no
     * valid record was read.
     *
     * @return the counter
     */
    public long seq() {
        return seq;
    }

    /**
     * Whether the node is alive, judged on this node's clock.
     *
     * @return the liveness
     */
    public Heartbeat.Liveness liveness() {
        return liveness;
    }

    /**
     * How long ago this node saw the record last change, when known.
     *
     * @return the time, or empty
     */
    public Optional<Duration> changedAgo() {
        return changedAgoMs < 0 ? Optional.empty() : Optional.of(Duration.ofMillis(changedAgoMs));
    }

    /**
     * Whether the record says its node is preferred ({@code hb.preferred}).
     *
     * @return true when preferred
     */
    public boolean preferred() {
        return preferred;
    }

    @Override
    public String toString() {
        return "NodeStatus[" + name + (self ? " (self)" : "") + " " + (known ? state : "unknown")
                + " epoch=" + epoch + " seq=" + seq + " " + liveness + "]";
    }
}

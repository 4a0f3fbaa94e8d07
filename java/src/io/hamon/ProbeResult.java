package io.hamon;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What a server answered to {@link HaProbe#probe}: its state, how long the round trip took,
 * and the details of the reply line, for example
 * {@code UP v=1 app=billing checks=3/3 age_ms=412}. Immutable and thread-safe.
 */
public final class ProbeResult {
    private final ServerState state;
    private final Duration roundTrip;
    private final String line;
    private final int checksUp;
    private final int checksTotal;
    private final long ageMs;
    private final Map<String, String> fields;

    /** Made by the native side only. */
    ProbeResult(int state, long rttMicros, String line, int checksUp, int checksTotal,
            long ageMs, String[] keys, String[] values) {
        this.state = Codes.of(ServerState.values(), state);
        this.roundTrip = Duration.ofNanos(rttMicros * 1000);
        this.line = line;
        this.checksUp = checksUp;
        this.checksTotal = checksTotal;
        this.ageMs = ageMs;
        Map<String, String> fields = new LinkedHashMap<>();
        for (int i = 0; i < keys.length; i++) {
            fields.putIfAbsent(keys[i], values[i]);
        }
        this.fields = Collections.unmodifiableMap(fields);
    }

    /**
     * The state the server answered.
     *
     * @return the state
     */
    public ServerState state() {
        return state;
    }

    /**
     * From the successful connect to the complete reply.
     *
     * @return the round trip
     */
    public Duration roundTrip() {
        return roundTrip;
    }

    /**
     * The reply line as received, without its line ending.
     *
     * @return the line
     */
    public String line() {
        return line;
    }

    /**
     * The server's explanation ({@code reason=}), if it gave one.
     *
     * @return the reason
     */
    public Optional<String> reason() {
        return Optional.ofNullable(fields.get("reason"));
    }

    /**
     * How many checks pass ({@code checks=UP/TOTAL}); -1 when the reply does not say (as
     * for one named check).
     *
     * @return the number of passing checks, or -1
     */
    public int checksUp() {
        return checksUp;
    }

    /**
     * How many checks the server has; -1 when the reply does not say.
     *
     * @return the number of checks, or -1
     */
    public int checksTotal() {
        return checksTotal;
    }

    /**
     * How old the server's check results are ({@code age_ms=}), if the reply says.
     *
     * @return the age
     */
    public Optional<Duration> resultAge() {
        return ageMs < 0 ? Optional.empty() : Optional.of(Duration.ofMillis(ageMs));
    }

    /**
     * Every {@code key=value} of the reply, in order, unquoted; the first of a repeated key.
     *
     * @return an unmodifiable map
     */
    public Map<String, String> fields() {
        return fields;
    }

    @Override
    public String toString() {
        return "ProbeResult[" + state + " in " + roundTrip.toNanos() / 1000 + " us: " + line + "]";
    }
}

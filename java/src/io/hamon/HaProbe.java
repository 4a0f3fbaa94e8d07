package io.hamon;

import java.time.Duration;

/**
 * Asks an HA monitor server for its state, the way a monitor script or a load balancer would:
 * sends {@code check} and parses the reply, all within one deadline. Thread-safe: it keeps no
 * state between calls.
 *
 * <pre>{@code
 * ProbeResult r = HaProbe.probe("127.0.0.1", 7001, Duration.ofSeconds(2));
 * if (!r.state().isAvailable()) alert(r.line());
 * }</pre>
 */
public final class HaProbe {
    private HaProbe() {}

    /**
     * Probes the server's overall state. Blocks the calling thread for at most
     * {@code timeout} (connect, write and read together).
     *
     * @param host host name or address
     * @param port TCP port, 1-65535
     * @param timeout the deadline, at least 1 ms
     * @return the state the server answered (DOWN is a valid answer, not an error)
     * @throws NullPointerException when {@code host} or {@code timeout} is null
     * @throws IllegalArgumentException for port 0 or out of range, a zero or negative timeout,
     *     an empty host or one with spaces
     * @throws HamonException when no valid answer came: {@link HamonException#PROBE_REFUSED},
     *     {@link HamonException#PROBE_TIMEOUT}, {@link HamonException#PROBE_BAD_REPLY},
     *     {@link HamonException#PROBE_BUSY}, {@link HamonException#PROBE_IO}, {@link
     *     HamonException#PROBE_RESOLVE}
     */
    public static ProbeResult probe(String host, int port, Duration timeout) {
        return Native.probe(host, port, Durations.millis(timeout, "timeout"), null);
    }

    /**
     * Probes one named check ({@code check NAME}): the result's state is that check's.
     *
     * @param host host name or address
     * @param port TCP port, 1-65535
     * @param timeout the deadline, at least 1 ms
     * @param checkName the check's name
     * @return the state of that check
     * @throws NullPointerException when an argument is null
     * @throws IllegalArgumentException as for {@link #probe(String, int, Duration)}, or for an
     *     empty check name or one with spaces
     * @throws HamonException as for {@link #probe(String, int, Duration)}, and {@link
     *     HamonException#PROBE_UNKNOWN_CHECK} when the server has no such check
     */
    public static ProbeResult probe(String host, int port, Duration timeout, String checkName) {
        if (checkName == null) {
            throw new NullPointerException("checkName");
        }
        return Native.probe(host, port, Durations.millis(timeout, "timeout"), checkName);
    }
}

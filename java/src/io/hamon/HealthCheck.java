package io.hamon;

/**
 * A health check, registered with {@link HaServer#addCheck}; a lambda will do:
 *
 * <pre>{@code
 * server.addCheck("db", () -> pool.isHealthy() ? HealthState.UP : HealthState.DOWN);
 * }</pre>
 *
 * <p><b>Threads.</b> hamon calls {@link #check()} on the check's own native thread, named
 * {@code hamon-check-N} and attached to the JVM as a daemon thread, never concurrently with
 * itself, every interval (see {@link CheckOptions}). Code shared with other threads must be
 * thread-safe.
 *
 * <p><b>Failures.</b> A check that throws counts as {@link HealthState#DOWN}, with the
 * exception's message (else its class name) as the reason clients see; one that returns null
 * counts as DOWN too. A check still running after its timeout counts as failed, and once more
 * every interval while it stays stuck; hamon never interrupts it, and a stuck check blocks
 * only its own thread. When the server closes, a check still running is left to finish on
 * its own.
 */
@FunctionalInterface
public interface HealthCheck {
    /**
     * Tells how the application is doing. Should return well within the check's timeout.
     *
     * @return UP, DEGRADED or DOWN
     * @throws Exception any failure, which makes the check DOWN with its message as reason
     */
    HealthState check() throws Exception;
}

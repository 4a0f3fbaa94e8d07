package io.hamon;

/**
 * A health check, registered with {@link HaServer#addCheck}; a lambda will do:
 *
 * <pre>{@code
 * server.addCheck("db", () -> pool.isHealthy() ? HealthState.UP : HealthState.DOWN);
 * }</pre>
 *
 * <p><b>Threads.</b> hamon calls {@link #check()} on the check's own native thread, named
 * {@code hamon-check-N} (N unique in the process) and attached to the JVM as a daemon thread,
 * never concurrently with itself, every interval (see {@link CheckOptions}). Each run starts
 * with the thread's interrupt status cleared, as a thread pool's task does. Code shared with
 * other threads must be thread-safe. A check may call its own server, even {@link
 * HaServer#close()}.
 *
 * <p><b>Failures.</b> A check that throws counts as {@link HealthState#DOWN}, with the
 * exception's message (else its class name) as the reason clients see; one that returns null
 * counts as DOWN too. Clients see {@code the check returned DOWN} (or {@code DEGRADED}) as the
 * reason of a check that gave none. A check still running after its timeout counts as failed,
 * and once more
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

package io.hamon;

/**
 * A health check that tells why, registered with {@link HaServer#addDetailedCheck}:
 *
 * <pre>{@code
 * server.addDetailedCheck("db", () -> pool.replicasUp() < 2
 *         ? CheckResult.degraded(pool.replicasUp() + " of 2 replicas up")
 *         : CheckResult.up());
 * }</pre>
 *
 * <p>It runs like a {@link HealthCheck} (same threads, timeouts and failures: a check that
 * throws, or returns null, is DOWN with the exception's message as the reason).
 */
@FunctionalInterface
public interface DetailedHealthCheck {
    /**
     * Tells how the application is doing, and why. Should return well within the check's
     * timeout.
     *
     * @return the state and its reason
     * @throws Exception any failure, which makes the check DOWN with its message as reason
     */
    CheckResult check() throws Exception;
}

package io.hamon;

/**
 * What hamon calls for a check of an {@link HaServer}: each run starts with the thread's
 * interrupt status cleared (a check that once interrupted its own thread must not fail every
 * later run that sleeps or waits, as a thread pool clears it between tasks), and while it
 * runs, the thread knows which server the check belongs to, so that {@link HaServer#close()}
 * called from inside the check does not wait for the check itself.
 *
 * <p>Holds the server's {@link NativeHandle}, never the server: a check must not keep its
 * server reachable, or the {@link Reaper} would never stop an unclosed one.
 */
final class CheckRun implements DetailedHealthCheck {
    private static final ThreadLocal<NativeHandle> RUNNING = new ThreadLocal<>();

    private final NativeHandle server;
    private final DetailedHealthCheck check;

    CheckRun(NativeHandle server, DetailedHealthCheck check) {
        this.server = server;
        this.check = check;
    }

    /** Whether the calling thread is running one of the checks of {@code server}. */
    static boolean isRunningFor(NativeHandle server) {
        return RUNNING.get() == server;
    }

    @Override
    public CheckResult check() throws Exception {
        Thread.interrupted();
        RUNNING.set(server);
        try {
            return check.check();
        } finally {
            RUNNING.remove();
        }
    }
}

package io.hamon;

import java.util.Objects;
import java.util.Properties;

/**
 * hamon's HA monitor server embedded in the application: it answers cluster managers and
 * probes on a TCP port ({@code ping}, {@code check}, {@code status}, HTTP {@code /readyz} and
 * more) from the health it computes out of the application's checks, pushed states, counters
 * and watchdog.
 *
 * <pre>{@code
 * Properties settings = new Properties();
 * settings.setProperty("ha.port", "7001");
 * try (HaServer server = HaServer.start(settings)) {
 *     server.addCheck("db", () -> db.ping() ? HealthState.UP : HealthState.DOWN);
 *     server.ready();                          // leaves STARTING
 *     while (running) {
 *         server.heartbeat();                  // feeds ha.watchdog_ms, when set
 *         server.counterAdd("transactions", processBatch());
 *     }
 * }
 * }</pre>
 *
 * <p><b>Settings</b> are the keys of hamon's properties files: {@code ha.*} and their
 * MediationZone aliases {@code mz.ha.*} (an existing pico's settings carry over). Keys outside
 * {@code ha.}, {@code mz.ha.} and {@code hb.} are ignored, so an application's own properties
 * can be passed whole; when a key and its alias are both given, the {@code ha.*} key wins.
 *
 * <p><b>Threads.</b> Every method may be called from any thread at the same time, from checks
 * too. {@link #close()} waits for calls in progress on other threads, then stops the server;
 * a call that comes while it stops, from a check for instance, throws {@link
 * IllegalStateException} at once. A server that is neither closed nor reachable any more is
 * stopped once the garbage collector finds it, by hamon's daemon thread {@code
 * io.hamon-reaper} (a check that refers to its own server keeps it reachable); close it
 * explicitly to free its port at a known time. The server's threads never keep the JVM
 * from exiting.
 *
 * <p><b>Errors.</b> A null argument throws {@link NullPointerException}; an invalid one
 * (a name outside {@code [A-Za-z0-9_.-]{1,64}}, options out of range) {@link
 * IllegalArgumentException}; any call after {@link #close()} {@link IllegalStateException};
 * every other failure {@link HamonException} with the status code of hamon's C API.
 */
public final class HaServer implements AutoCloseable {
    private final NativeHandle handle;

    private HaServer(Settings settings) {
        long server = Native.serverStart(settings.keys, settings.values, settings.origin);
        handle = new NativeHandle(this, server, false, Native::serverStop);
    }

    /**
     * Starts a server: binds {@code ha.host}:{@code ha.port} ({@code ha.port=0} picks a free
     * port, see {@link #port()}). It answers STARTING until {@link #ready()}.
     *
     * @param settings {@code ha.*} and {@code mz.ha.*} settings; copied
     * @return the running server
     * @throws NullPointerException when {@code settings} is null
     * @throws HamonException {@link HamonException#DISABLED} when {@code ha.enabled=false},
     *     {@link HamonException#BIND} when the port is taken, a configuration code for a bad
     *     or missing setting ({@code ha.port} is required)
     */
    public static HaServer start(Properties settings) {
        return new HaServer(Settings.of(settings, "Properties"));
    }

    /**
     * Starts a server from the {@code ha.*} and {@code mz.ha.*} system properties, as a pico
     * started with {@code -Dmz.ha.port=7001} expects.
     *
     * @return the running server
     * @throws HamonException as for {@link #start(Properties)}
     */
    public static HaServer startFromSystemProperties() {
        return new HaServer(Settings.systemProperties("ha.", "mz.ha."));
    }

    /**
     * The TCP port the server listens on: the one picked when {@code ha.port=0}.
     *
     * @return the port
     * @throws IllegalStateException after {@link #close()}
     */
    public int port() {
        return handle.callInt(Native::serverPort);
    }

    /**
     * Registers a check with the server's {@code ha.check.*} options. It runs at once, then
     * every interval, on its own thread (see {@link HealthCheck}).
     *
     * @param name 1-64 of {@code A-Z a-z 0-9 _ . -}, unique in this server
     * @param check the check
     * @throws NullPointerException when an argument is null
     * @throws IllegalArgumentException when the name is invalid
     * @throws HamonException {@link HamonException#DUPLICATE_CHECK}, {@link
     *     HamonException#TOO_MANY_CHECKS} (64)
     * @throws IllegalStateException after {@link #close()}
     */
    public void addCheck(String name, HealthCheck check) {
        addCheck(name, check, CheckOptions.SERVER_DEFAULTS);
    }

    /**
     * Registers a check with its own options; those not set are the server's.
     *
     * @param name 1-64 of {@code A-Z a-z 0-9 _ . -}, unique in this server
     * @param check the check
     * @param options how it runs and how it is judged
     * @throws NullPointerException when an argument is null
     * @throws IllegalArgumentException when the name is invalid or an option out of range
     * @throws HamonException as for {@link #addCheck(String, HealthCheck)}
     * @throws IllegalStateException after {@link #close()}
     */
    public void addCheck(String name, HealthCheck check, CheckOptions options) {
        addDetailedCheck(name, check == null ? null : () -> {
            HealthState state = check.check();
            return state == null ? null : CheckResult.of(state, "");
        }, options);
    }

    /**
     * Registers a check that gives a reason with its state, with the server's
     * {@code ha.check.*} options; otherwise as {@link #addCheck(String, HealthCheck)}.
     *
     * @param name 1-64 of {@code A-Z a-z 0-9 _ . -}, unique in this server
     * @param check the check
     * @throws NullPointerException when an argument is null
     * @throws IllegalArgumentException when the name is invalid
     * @throws HamonException as for {@link #addCheck(String, HealthCheck)}
     * @throws IllegalStateException after {@link #close()}
     */
    public void addDetailedCheck(String name, DetailedHealthCheck check) {
        addDetailedCheck(name, check, CheckOptions.SERVER_DEFAULTS);
    }

    /**
     * Registers a check that gives a reason with its state, with its own options; otherwise
     * as {@link #addCheck(String, HealthCheck, CheckOptions)}.
     *
     * @param name 1-64 of {@code A-Z a-z 0-9 _ . -}, unique in this server
     * @param check the check
     * @param options how it runs and how it is judged
     * @throws NullPointerException when an argument is null
     * @throws IllegalArgumentException when the name is invalid or an option out of range
     * @throws HamonException as for {@link #addCheck(String, HealthCheck)}
     * @throws IllegalStateException after {@link #close()}
     */
    public void addDetailedCheck(String name, DetailedHealthCheck check, CheckOptions options) {
        Objects.requireNonNull(options, "options");
        DetailedHealthCheck run = check == null ? null : new CheckRun(handle, check);
        handle.run(h -> Native.serverAddCheck(h, name, run, options.intervalMs,
                options.timeoutMs, options.rise, options.fall, options.importance,
                options.latencyWarnMs, options.latencyCritMs));
    }

    /**
     * Tells the server the application has started: it leaves STARTING. Idempotent.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public void ready() {
        handle.run(Native::serverReady);
    }

    /**
     * Feeds the application watchdog: with {@code ha.watchdog_ms} set, the instance is DOWN
     * when this has not been called for that long after {@link #ready()}. Call it from the
     * loop whose stall should count as a failure.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public void heartbeat() {
        handle.run(Native::serverHeartbeat);
    }

    /**
     * Adds {@code n} to the counter {@code name} (created on first use). Counters are judged
     * over the window {@code ha.interval} against the {@code ha.counter.NAME.*} and
     * {@code mz.ha.*} thresholds.
     *
     * @param name 1-64 of {@code A-Z a-z 0-9 _ . -}
     * @param n how much to add, not negative
     * @throws NullPointerException when {@code name} is null
     * @throws IllegalArgumentException when the name is invalid or {@code n} negative
     * @throws HamonException {@link HamonException#TOO_MANY_COUNTERS} (256)
     * @throws IllegalStateException after {@link #close()}
     */
    public void counterAdd(String name, long n) {
        handle.run(h -> Native.serverCounterAdd(h, name, n));
    }

    /**
     * Pushes the application's own view, combined with the checks (the worse wins). A pushed
     * DOWN takes effect at once; push UP to clear a pushed DEGRADED or DOWN.
     *
     * @param state the state
     * @param reason why, shown to clients; null for none
     * @throws NullPointerException when {@code state} is null
     * @throws IllegalStateException after {@link #close()}
     */
    public void pushState(HealthState state, String reason) {
        int code = Objects.requireNonNull(state, "state").ordinal();
        handle.run(h -> Native.serverSetState(h, code, reason));
    }

    /**
     * Sets the lifecycle state shown instead of the computed one; {@link AdminState#NONE}
     * clears it.
     *
     * @param admin the lifecycle state
     * @param reason why, shown to clients; null for none
     * @throws NullPointerException when {@code admin} is null
     * @throws IllegalStateException after {@link #close()}
     */
    public void setAdminState(AdminState admin, String reason) {
        int code = Objects.requireNonNull(admin, "admin").ordinal();
        handle.run(h -> Native.serverSetAdmin(h, code, reason));
    }

    /**
     * The state a client would be told now.
     *
     * @return the state
     * @throws IllegalStateException after {@link #close()}
     */
    public ServerState state() {
        return Codes.of(ServerState.values(), handle.callInt(Native::serverState));
    }

    /**
     * Stops the server and frees its port. Waits at most {@code ha.stop_timeout_ms} (default
     * 2 s) for a check still running, then leaves it to finish on its own. Idempotent.
     *
     * <p>Returns once the server has stopped, whichever thread calls it and however many call
     * it at once: a second caller waits for the first. One exception, because a check cannot
     * wait for its own end: called from inside one of this server's checks, it stops the
     * server (port, other checks) without waiting for that check, which ends when it returns;
     * and when another thread is closing the server already, it returns at once, since that
     * thread is waiting for the calling check.
     *
     * @throws IllegalStateException when called during another call on this server on the
     *     same thread (from a log handler that hamon's record reached during that call)
     */
    @Override
    public void close() {
        handle.close(!CheckRun.isRunningFor(handle));
    }
}

package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.contains;
import static io.hamon.tests.Assert.equal;
import static io.hamon.tests.Assert.waitUntil;

import io.hamon.CheckOptions;
import io.hamon.CheckResult;
import io.hamon.HaProbe;
import io.hamon.HaServer;
import io.hamon.HealthCheck;
import io.hamon.HealthState;
import io.hamon.ProbeResult;
import io.hamon.ServerState;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** Java checks called from hamon's native threads, and what clients see of their results. */
public final class CallbackTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);
    private static final CheckOptions FAST = CheckOptions.builder()
            .interval(Duration.ofMillis(30)).rise(1).fall(1).build();

    /** Held: java.util.logging keeps its loggers only weakly. */
    private static final Logger HAMON_LOG = Logger.getLogger("io.hamon");

    private CallbackTest() {}

    public static void testChecksRunOnOneNativeDaemonThreadEach() {
        Thread main = Thread.currentThread();
        Set<Thread> seen = ConcurrentHashMap.newKeySet();
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<String> wrong = new AtomicReference<>();
        try (HaServer server = Servers.start()) {
            server.addCheck("where", () -> {
                Thread t = Thread.currentThread();
                seen.add(t);
                if (t == main || !t.isDaemon() || !t.getName().startsWith("hamon-check-")) {
                    wrong.set(t.getName() + " daemon=" + t.isDaemon());
                }
                runs.incrementAndGet();
                return HealthState.UP;
            }, FAST);
            waitUntil("five runs", PATIENCE, () -> runs.get() >= 5);
        }
        equal(null, wrong.get(), "a check ran on the wrong thread");
        equal(1, seen.size(), "the thread is attached once and stays the same: " + seen);
    }

    /** A throwing check is DOWN with the exception's message, as ping/check/probe show. */
    public static void testAThrowingCheckIsDownWithItsMessage() {
        try (HaServer server = Servers.start()) {
            server.addCheck("db", () -> {
                throw new IllegalStateException("db pool exhausted");
            }, FAST);
            server.ready();
            int port = server.port();
            waitUntil(PATIENCE, () -> server.state() == ServerState.DOWN,
                    () -> Wire.ask(port, "check"));
            equal("FAILED", Wire.ask(port, "ping"), "ping");
            String line = Wire.ask(port, "check db");
            check(line.startsWith("DOWN "), line);
            contains(line, "reason=\"db pool exhausted\"", "check db");
            contains(Wire.ask(port, "check"), "db: db pool exhausted", "check");
            ProbeResult probed = HaProbe.probe("127.0.0.1", port, PATIENCE, "db");
            equal(ServerState.DOWN, probed.state(), "probed state");
            equal("db pool exhausted", probed.reason().orElse(null), "probed reason");
        }
    }

    /** A detailed check's reason reaches clients with DEGRADED and DOWN alike. */
    public static void testADetailedCheckGivesItsReasonWithItsState() {
        AtomicReference<CheckResult> result =
                new AtomicReference<>(CheckResult.degraded("1 of 2 replicas up"));
        try (HaServer server = Servers.start()) {
            server.addDetailedCheck("db", result::get, FAST);
            server.ready();
            int port = server.port();
            waitUntil("DEGRADED", PATIENCE, () -> server.state() == ServerState.DEGRADED);
            equal("OK", Wire.ask(port, "ping"), "DEGRADED is available");
            String line = Wire.ask(port, "check db");
            check(line.startsWith("DEGRADED "), line);
            contains(line, "reason=\"1 of 2 replicas up\"", "check db");
            equal("1 of 2 replicas up", reasonOf(port, "db"), "probed reason");

            result.set(CheckResult.down("both replicas down"));
            expectReason(port, "db", "both replicas down");
            result.set(CheckResult.up());
            waitUntil(PATIENCE, () -> Wire.ask(port, "check db").startsWith("UP"),
                    () -> Wire.ask(port, "check db"));
        }
    }

    /** hamon's log records reach java.util.logging as records of the logger io.hamon. */
    public static void testHamonLogsReachJavaLogging() {
        List<LogRecord> records = new CopyOnWriteArrayList<>();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                records.add(r);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        HAMON_LOG.addHandler(handler);
        try (HaServer server = Servers.start()) {
            String listening = "monitor server listening on 127.0.0.1:" + server.port();
            waitUntil(listening, PATIENCE, () -> records.stream()
                    .anyMatch(r -> r.getMessage().contains(listening)
                            && r.getLevel() == Level.INFO
                            && r.getLoggerName().equals("io.hamon")));
        } finally {
            HAMON_LOG.removeHandler(handler);
        }
    }

    public static void testWhatEveryKindOfFailureSays() {
        try (HaServer server = Servers.start()) {
            server.addCheck("checked", () -> {
                throw new IOException("disk full");
            }, FAST);
            server.addCheck("error", () -> {
                throw new AssertionError("invariant broken");
            }, FAST);
            server.addCheck("nomessage", () -> {
                throw new UnsupportedOperationException();
            }, FAST);
            server.addCheck("null", () -> null, FAST);
            server.ready();
            int port = server.port();
            expectReason(port, "checked", "disk full");
            expectReason(port, "error", "invariant broken");
            expectReason(port, "nomessage", "java.lang.UnsupportedOperationException");
            expectReason(port, "null", "the check returned null");
        }
    }

    private static void expectReason(int port, String check, String reason) {
        waitUntil(PATIENCE, () -> reason.equals(reasonOf(port, check)),
                () -> "reason " + reason + " in " + Wire.ask(port, "check " + check));
        check(Wire.ask(port, "check " + check).startsWith("DOWN "), check + " is DOWN");
    }

    private static String reasonOf(int port, String check) {
        return HaProbe.probe("127.0.0.1", port, PATIENCE, check).reason().orElse("");
    }

    public static void testStatesFollowTheCheckBothWays() {
        AtomicReference<HealthState> state = new AtomicReference<>(HealthState.DEGRADED);
        try (HaServer server = Servers.start()) {
            server.addCheck("flip", state::get, FAST);
            server.ready();
            int port = server.port();
            waitUntil("DEGRADED", PATIENCE, () -> server.state() == ServerState.DEGRADED);
            equal("OK", Wire.ask(port, "ping"), "DEGRADED is available");
            state.set(HealthState.DOWN);
            waitUntil("DOWN", PATIENCE, () -> server.state() == ServerState.DOWN);
            state.set(HealthState.UP);
            waitUntil("UP again", PATIENCE, () -> server.state() == ServerState.UP);
        }
    }

    /** A check may call its own server, e.g. to count what it saw. */
    public static void testACheckMayCallTheServer() {
        AtomicReference<HaServer> self = new AtomicReference<>();
        HealthCheck counting = () -> {
            self.get().counterAdd("check_runs", 1);
            return HealthState.UP;
        };
        try (HaServer server = Servers.start()) {
            self.set(server);
            server.addCheck("counting", counting, FAST);
            waitUntil("counted runs", PATIENCE,
                    () -> Wire.askAll(server.port(), "status").contains("COUNTER check_runs count="));
        }
    }
}

package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.contains;
import static io.hamon.tests.Assert.equal;
import static io.hamon.tests.Assert.raises;
import static io.hamon.tests.Assert.waitUntil;

import io.hamon.AdminState;
import io.hamon.CheckOptions;
import io.hamon.CheckResult;
import io.hamon.HaServer;
import io.hamon.HealthState;
import io.hamon.ServerState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/** Every method of HaServer and CheckOptions, seen through a real socket where it shows. */
public final class ServerApiTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private ServerApiTest() {}

    public static void testStartAnswersStartingUntilReady() {
        try (HaServer server = Servers.start("ha.app_name", "billing")) {
            int port = server.port();
            check(port > 0, "an ephemeral port: " + port);
            equal(ServerState.STARTING, server.state(), "state before ready");
            contains(Wire.ask(port, "check"), "STARTING", "check before ready");
            equal("FAILED", Wire.ask(port, "ping"), "ping before ready");
            server.ready();
            server.ready();
            equal(ServerState.UP, server.state(), "state after ready");
            String line = Wire.ask(port, "check");
            check(line.startsWith("UP "), line);
            contains(line, "app=billing", "ha.app_name");
            equal("OK", Wire.ask(port, "ping"), "ping after ready");
        }
    }

    public static void testStartFromSystemPropertiesReadsHaAndMzHaKeys() {
        System.setProperty("mz.ha.port", "0");
        System.setProperty("mz.ha.host", "127.0.0.1");
        System.setProperty("ha.app_name", "mediation");
        System.setProperty("hb.node", "ignored: only ha.* and mz.ha.* are read");
        try (HaServer server = HaServer.startFromSystemProperties()) {
            server.ready();
            contains(Wire.ask(server.port(), "check"), "app=mediation", "ha.app_name");
        } finally {
            for (String key : new String[] {"mz.ha.port", "mz.ha.host", "ha.app_name", "hb.node"}) {
                System.clearProperty(key);
            }
        }
    }

    public static void testForeignKeysAreIgnoredAndTheHaKeyWinsOverItsAlias() {
        try (HaServer taken = Servers.start()) {
            Properties settings = Servers.settings(
                    "db.url", "jdbc:whatever",
                    "mz.ha.port", Integer.toString(taken.port()));
            // ha.port=0 comes from Servers.settings: it must win over the taken alias.
            try (HaServer server = HaServer.start(settings)) {
                check(server.port() != taken.port(), "ha.port won over mz.ha.port");
            }
        }
    }

    public static void testAddCheckUsesTheServersCheckSettingsOrItsOwnOptions() {
        try (HaServer server = Servers.start("ha.check.importance", "info",
                "ha.check.interval_ms", "50", "ha.check.rise", "1", "ha.check.fall", "1")) {
            server.addCheck("defaults", () -> HealthState.DOWN);
            server.addDetailedCheck("detailed", () -> CheckResult.down("why"));
            CheckOptions options = CheckOptions.builder()
                    .interval(Duration.ofMillis(50))
                    .timeout(Duration.ofMillis(500))
                    .rise(1)
                    .fall(1)
                    .importance(CheckOptions.Importance.DEGRADING)
                    .latencyWarn(Duration.ofMillis(400))
                    .latencyCrit(Duration.ofMillis(450))
                    .build();
            contains(options.toString(), "interval_ms=50", "toString");
            contains(CheckOptions.builder().build().toString(), "rise=default", "toString");
            server.addCheck("own", () -> HealthState.DOWN, options);
            server.ready();
            int port = server.port();
            waitUntil(PATIENCE, () -> server.state() == ServerState.DEGRADED,
                    () -> "DEGRADED from the degrading check: " + Wire.ask(port, "check"));
            contains(Wire.ask(port, "check defaults"), "importance=info", "server's ha.check.*");
            contains(Wire.ask(port, "check detailed"), "importance=info", "detailed, defaults");
            equal("why", CheckResult.down("why").reason(), "reason");
            equal("DEGRADED (x)", CheckResult.degraded("x").toString(), "toString");
            equal(HealthState.UP, CheckResult.up().state(), "up");
            equal("", CheckResult.of(HealthState.UP, "").reason(), "of");
            contains(Wire.ask(port, "check own"), "importance=degrading", "own options");
        }
    }

    public static void testPushStateCombinesWithChecksAndClears() {
        try (HaServer server = Servers.start()) {
            server.ready();
            int port = server.port();
            server.pushState(HealthState.DOWN, "maintenance window");
            equal(ServerState.DOWN, server.state(), "pushed DOWN");
            contains(Wire.ask(port, "check"), "maintenance window", "pushed reason");
            server.pushState(HealthState.DEGRADED, null);
            equal(ServerState.DEGRADED, server.state(), "pushed DEGRADED");
            server.pushState(HealthState.UP, null);
            equal(ServerState.UP, server.state(), "pushed UP clears");
        }
    }

    public static void testAdminStatesShowInsteadOfTheComputedState() {
        try (HaServer server = Servers.start()) {
            server.ready();
            int port = server.port();
            server.setAdminState(AdminState.DRAINING, "draining for an upgrade");
            equal(ServerState.DRAINING, server.state(), "DRAINING");
            equal("FAILED", Wire.ask(port, "ping"), "a draining instance is not available");
            contains(Wire.ask(port, "check"), "draining for an upgrade", "admin reason");
            server.setAdminState(AdminState.MAINT, null);
            equal(ServerState.MAINT, server.state(), "MAINT");
            server.setAdminState(AdminState.STOPPING, "bye");
            equal(ServerState.STOPPING, server.state(), "STOPPING");
            server.setAdminState(AdminState.NONE, null);
            equal(ServerState.UP, server.state(), "NONE clears");
        }
    }

    public static void testHeartbeatFeedsTheWatchdog() throws InterruptedException {
        try (HaServer server = Servers.start("ha.watchdog_ms", "300")) {
            server.ready();
            for (int i = 0; i < 12; i++) {
                server.heartbeat();
                Thread.sleep(50);
                equal(ServerState.UP, server.state(), "fed watchdog, turn " + i);
            }
            waitUntil("DOWN once the watchdog starves", PATIENCE,
                    () -> server.state() == ServerState.DOWN);
        }
    }

    public static void testCountersShowInStatus() {
        try (HaServer server = Servers.start()) {
            server.ready();
            server.counterAdd("transactions", 5);
            server.counterAdd("transactions", 0);
            server.counterAdd("transactions", 37);
            contains(Wire.askAll(server.port(), "status"), "COUNTER transactions count=42",
                    "status");
        }
    }

    public static void testCloseFreesThePortAndIsIdempotent() {
        HaServer server = Servers.start();
        int port = server.port();
        check(Wire.listening(port), "listening before close");
        server.close();
        server.close();
        check(!Wire.listening(port), "port free after close");
    }

    public static void testServerStateAvailability() {
        for (ServerState s : ServerState.values()) {
            equal(s == ServerState.UP || s == ServerState.DEGRADED, s.isAvailable(), s.name());
        }
    }

    /** Many threads call at once while another closes: each call works or sees the close. */
    public static void testConcurrentCallsAndCloseFromAnotherThread() throws Exception {
        HaServer server = Servers.start();
        server.ready();
        AtomicLong added = new AtomicLong();
        AtomicReference<Throwable> unexpected = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            Thread thread = new Thread(() -> {
                try {
                    while (true) {
                        server.counterAdd("calls", 1);
                        added.incrementAndGet();
                        server.state();
                    }
                } catch (IllegalStateException closed) {
                    // the expected end
                } catch (Throwable e) {
                    unexpected.set(e);
                }
            });
            thread.start();
            threads.add(thread);
        }
        waitUntil("calls from every thread", PATIENCE, () -> added.get() > 20_000);
        String status = Wire.askAll(server.port(), "status");
        contains(status, "COUNTER calls count=", "counter");
        server.close();
        for (Thread thread : threads) {
            thread.join(PATIENCE.toMillis());
            check(!thread.isAlive(), "a calling thread saw the close");
        }
        equal(null, unexpected.get(), "unexpected failure in a calling thread");
    }
}

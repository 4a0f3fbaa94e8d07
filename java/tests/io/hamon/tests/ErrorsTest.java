package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.contains;
import static io.hamon.tests.Assert.equal;
import static io.hamon.tests.Assert.raises;

import io.hamon.AdminState;
import io.hamon.CheckOptions;
import io.hamon.CheckResult;
import io.hamon.HaProbe;
import io.hamon.HaServer;
import io.hamon.HamonException;
import io.hamon.HealthCheck;
import io.hamon.HealthState;
import java.time.Duration;
import java.util.Collections;
import java.util.Properties;

/**
 * The exception mapping: null -> NullPointerException, invalid -> IllegalArgumentException,
 * closed -> IllegalStateException, any other status -> HamonException with the C code.
 */
public final class ErrorsTest {
    private static final HealthCheck UP = () -> HealthState.UP;

    private ErrorsTest() {}

    public static void testNullArgumentsAreNullPointerExceptions() {
        try (HaServer server = Servers.start()) {
            raises(NullPointerException.class, () -> HaServer.start(null));
            contains(raises(NullPointerException.class, () -> server.addCheck(null, UP))
                    .getMessage(), "name is null", "from the native side");
            contains(raises(NullPointerException.class, () -> server.addCheck("c", null))
                    .getMessage(), "check is null", "from the native side");
            raises(NullPointerException.class, () -> server.addCheck("c", UP, null));
            contains(raises(NullPointerException.class,
                    () -> server.addDetailedCheck("c", null)).getMessage(),
                    "check is null", "detailed check");
            // A null reason is no reason (see CheckRunTest).
            equal("", CheckResult.degraded(null).reason(), "degraded(null)");
            raises(NullPointerException.class, () -> CheckResult.of(null, "x"));
            contains(raises(NullPointerException.class, () -> server.counterAdd(null, 1))
                    .getMessage(), "name is null", "counter name");
            raises(NullPointerException.class, () -> server.pushState(null, "x"));
            raises(NullPointerException.class, () -> server.setAdminState(null, "x"));
            contains(raises(NullPointerException.class,
                    () -> HaProbe.probe(null, 1, Duration.ofSeconds(1))).getMessage(),
                    "host is null", "probe host");
            raises(NullPointerException.class, () -> HaProbe.probe("localhost", 1, null));
            raises(NullPointerException.class,
                    () -> HaProbe.probe("localhost", 1, Duration.ofSeconds(1), null));
            raises(NullPointerException.class, () -> CheckOptions.builder().interval(null));
            raises(NullPointerException.class, () -> CheckOptions.builder().importance(null));
        }
    }

    public static void testInvalidArgumentsAreIllegalArgumentExceptions() {
        try (HaServer server = Servers.start()) {
            contains(raises(IllegalArgumentException.class, () -> server.addCheck("a b", UP))
                    .getMessage(), "invalid name \"a b\"", "check name");
            raises(IllegalArgumentException.class, () -> server.addCheck("", UP));
            raises(IllegalArgumentException.class, () -> server.counterAdd(String.join("", Collections.nCopies(65, "x")), 1));
            contains(raises(IllegalArgumentException.class, () -> server.counterAdd("n", -1))
                    .getMessage(), "must be >= 0", "negative count");
            contains(raises(IllegalArgumentException.class, () -> server.addCheck("c", UP,
                    CheckOptions.builder().interval(Duration.ZERO).build())).getMessage(),
                    "interval_ms (0) and timeout_ms (1000) must be > 0", "C's message");
            contains(raises(IllegalArgumentException.class, () -> server.addCheck("c", UP,
                    CheckOptions.builder().rise(101).build())).getMessage(),
                    "must be 1-100", "rise");
            raises(IllegalArgumentException.class, () -> server.addCheck("c", UP,
                    CheckOptions.builder().fall(0).build()));
            contains(raises(IllegalArgumentException.class, () -> server.addCheck("c", UP,
                    CheckOptions.builder().latencyWarn(Duration.ofMillis(9))
                            .latencyCrit(Duration.ofMillis(5)).build())).getMessage(),
                    "latency_warn_ms (9) must be below latency_crit_ms (5)", "latencies");
            raises(IllegalArgumentException.class, () -> server.addCheck("c", UP,
                    CheckOptions.builder().timeout(Duration.ofDays(60)).build()));
            raises(IllegalArgumentException.class,
                    () -> CheckOptions.builder().timeout(Duration.ofMillis(-1)));
            raises(IllegalArgumentException.class, () -> CheckOptions.builder().rise(-1));
            raises(IllegalArgumentException.class, () -> CheckOptions.builder().fall(-2));
            int port = server.port();
            Duration second = Duration.ofSeconds(1);
            raises(IllegalArgumentException.class, () -> HaProbe.probe("127.0.0.1", 0, second));
            contains(raises(IllegalArgumentException.class,
                    () -> HaProbe.probe("127.0.0.1", 70_000, second)).getMessage(),
                    "port 70000", "port out of range");
            raises(IllegalArgumentException.class,
                    () -> HaProbe.probe("127.0.0.1", port, Duration.ZERO));
            raises(IllegalArgumentException.class,
                    () -> HaProbe.probe("127.0.0.1", port, Duration.ofSeconds(-1)));
            raises(IllegalArgumentException.class, () -> HaProbe.probe("", port, second));
            raises(IllegalArgumentException.class,
                    () -> HaProbe.probe("127.0.0.1", port, second, "two words"));
            // The check that was refused every time was never added.
            server.addCheck("c", UP);
        }
    }

    public static void testCallsAfterCloseAreIllegalStateExceptions() {
        HaServer server = Servers.start();
        server.close();
        String message = raises(IllegalStateException.class, server::port).getMessage();
        equal("this HaServer is closed", message, "message");
        raises(IllegalStateException.class, () -> server.addCheck("c", UP));
        raises(IllegalStateException.class,
                () -> server.addCheck("c", UP, CheckOptions.builder().build()));
        raises(IllegalStateException.class, server::ready);
        raises(IllegalStateException.class, server::heartbeat);
        raises(IllegalStateException.class, () -> server.counterAdd("n", 1));
        raises(IllegalStateException.class, () -> server.pushState(HealthState.UP, null));
        raises(IllegalStateException.class, () -> server.setAdminState(AdminState.NONE, null));
        raises(IllegalStateException.class, server::state);
    }

    public static void testOtherFailuresAreHamonExceptionsWithTheCCode() {
        try (HaServer taken = Servers.start()) {
            HamonException bind = raises(HamonException.class,
                    () -> Servers.start("ha.port", Integer.toString(taken.port())));
            equal(HamonException.BIND, bind.code(), "bind code");
            equal("cannot listen on the configured address", bind.statusText(), "status text");
            contains(bind.getMessage(), "cannot listen on 127.0.0.1:" + taken.port(), "detail");
            contains(bind.toString(), "[3002 cannot listen on the configured address]",
                    "toString");

            HamonException duplicate = raises(HamonException.class, () -> {
                taken.addCheck("same", UP);
                taken.addCheck("same", UP);
            });
            equal(HamonException.DUPLICATE_CHECK, duplicate.code(), "duplicate");
            contains(duplicate.getMessage(), "\"same\" is already registered", "detail");
            HamonException tooMany = raises(HamonException.class, () -> {
                for (int i = 0; i < 64; i++) {
                    taken.addCheck("c" + i, UP);
                }
            });
            equal(HamonException.TOO_MANY_CHECKS, tooMany.code(), "65th check");
            HamonException counters = raises(HamonException.class, () -> {
                for (int i = 0; i <= 256; i++) {
                    taken.counterAdd("n" + i, 1);
                }
            });
            equal(HamonException.TOO_MANY_COUNTERS, counters.code(), "257th counter");
        }
        Properties typo = new Properties();
        typo.setProperty("ha.prot", "7001");
        HamonException unknown = raises(HamonException.class, () -> HaServer.start(typo));
        equal(HamonException.CONFIG_UNKNOWN_KEY, unknown.code(), "unknown key");
        equal("Properties: ha.prot: unknown key (did you mean ha.port?)", unknown.getMessage(),
                "the detail C gives");
        equal(HamonException.CONFIG_BAD_VALUE,
                raises(HamonException.class, () -> Servers.start("ha.port", "seven")).code(),
                "bad value");
        HamonException missing = raises(HamonException.class, () -> HaServer.start(new Properties()));
        equal(HamonException.CONFIG_MISSING, missing.code(), "no port");
        contains(missing.getMessage(), "ha.port is not set", "detail");
        equal(HamonException.DISABLED,
                raises(HamonException.class, () -> Servers.start("mz.ha.enabled", "false")).code(),
                "disabled");
        System.setProperty("mz.ha.port", "none");
        try {
            HamonException system = raises(HamonException.class, HaServer::startFromSystemProperties);
            contains(system.getMessage(), "system properties: mz.ha.port: bad value", "origin");
        } finally {
            System.clearProperty("mz.ha.port");
        }
    }
}

package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.contains;
import static io.hamon.tests.Assert.equal;
import static io.hamon.tests.Assert.waitUntil;

import io.hamon.CheckOptions;
import io.hamon.CheckResult;
import io.hamon.HaProbe;
import io.hamon.HaServer;
import io.hamon.HealthState;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Each run of a check starts clean (no interrupt left from an earlier run), on a thread whose
 * name no other check thread in the process has; what clients see says why; and a check
 * closed before its first run leaves nothing behind in the JVM.
 */
public final class CheckRunTest {
    /** Held: java.util.logging keeps its loggers only weakly, with their levels. */
    private static final Logger HAMON_LOG = Logger.getLogger("io.hamon");
    private static final Duration PATIENCE = Duration.ofSeconds(10);
    private static final CheckOptions FAST = CheckOptions.builder()
            .interval(Duration.ofMillis(20)).rise(1).fall(1).build();

    private CheckRunTest() {}

    /** A check that once interrupts its own thread does not fail every later run. */
    public static void testTheInterruptStatusIsClearedBeforeEachRun() {
        AtomicInteger runs = new AtomicInteger();
        List<Integer> startedInterrupted = new CopyOnWriteArrayList<>();
        AtomicReference<String> failed = new AtomicReference<>();
        try (HaServer server = Servers.start()) {
            server.addCheck("interrupts", () -> {
                int run = runs.incrementAndGet();
                if (Thread.currentThread().isInterrupted()) {
                    startedInterrupted.add(run);
                }
                if (run == 1) {
                    Thread.currentThread().interrupt();
                    return HealthState.UP;
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    failed.set("run " + run + " was interrupted");
                    throw e;
                }
                return HealthState.UP;
            }, FAST);
            waitUntil("ten runs", PATIENCE, () -> runs.get() >= 10);
        }
        equal(Collections.emptyList(), startedInterrupted, "runs that started interrupted");
        equal(null, failed.get(), "a sleeping run");
    }

    public static void testANullReasonIsNoReason() {
        equal("", CheckResult.of(HealthState.DOWN, null).reason(), "of(DOWN, null)");
        equal("", CheckResult.of(HealthState.DEGRADED, null).reason(), "of(DEGRADED, null)");
        equal("DOWN", CheckResult.of(HealthState.DOWN, null).toString(), "toString");
        try (HaServer server = Servers.start()) {
            server.addDetailedCheck("detailed", () -> CheckResult.of(HealthState.DOWN, null),
                    FAST);
            server.addDetailedCheck("empty", () -> CheckResult.down(""), FAST);
            server.addCheck("plain", () -> HealthState.DOWN, FAST);
            server.addDetailedCheck("degraded",
                    () -> CheckResult.of(HealthState.DEGRADED, null), FAST);
            int port = server.port();
            for (String name : Arrays.asList("detailed", "empty", "plain")) {
                waitUntil(PATIENCE, () -> "the check returned DOWN".equals(reasonOf(port, name)),
                        () -> Wire.ask(port, "check " + name));
            }
            waitUntil(PATIENCE,
                    () -> "the check returned DEGRADED".equals(reasonOf(port, "degraded")),
                    () -> Wire.ask(port, "check degraded"));
        }
    }

    private static String reasonOf(int port, String check) {
        return HaProbe.probe("127.0.0.1", port, PATIENCE, check).reason().orElse("");
    }

    /**
     * A stuck check counts as failed once its timeout passed, and once more every interval
     * after: every time, the reason names the configured timeout.
     */
    public static void testTheTimeoutReasonNamesTheConfiguredTimeout() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CheckOptions options = CheckOptions.builder().interval(Duration.ofMillis(200))
                .timeout(Duration.ofMillis(100)).rise(1).fall(1).build();
        try (HaServer server = Servers.start()) {
            server.addCheck("stuck", () -> {
                release.await();
                return HealthState.UP;
            }, options);
            int port = server.port();
            AtomicReference<String> line = new AtomicReference<>("");
            // Counted as failed at least three times: 100 ms, 300 ms and 500 ms into the run.
            waitUntil(PATIENCE, () -> {
                line.set(Wire.ask(port, "check stuck"));
                return failures(line.get()) >= 3;
            }, () -> "three timeouts counted: " + line.get());
            contains(line.get(), "reason=\"timeout: no answer after 100 ms", "the reason");
            // Returns before the close, which need not wait for it.
            release.countDown();
        } finally {
            release.countDown();
        }
    }

    private static int failures(String checkLine) {
        for (String field : checkLine.split(" ")) {
            if (field.startsWith("failures=")) {
                return Integer.parseInt(field.substring("failures=".length()));
            }
        }
        return -1;
    }

    /** Two servers' check threads have names of their own. */
    public static void testCheckThreadNamesAreUniqueInTheProcess() throws Exception {
        List<String> names = new CopyOnWriteArrayList<>();
        CountDownLatch ran = new CountDownLatch(4);
        try (HaServer first = Servers.start(); HaServer second = Servers.start()) {
            for (HaServer server : Arrays.asList(first, second)) {
                for (String check : Arrays.asList("a", "b")) {
                    AtomicBoolean once = new AtomicBoolean();
                    server.addCheck(check, () -> {
                        if (once.compareAndSet(false, true)) {
                            names.add(Thread.currentThread().getName());
                            ran.countDown();
                        }
                        return HealthState.UP;
                    }, FAST);
                }
            }
            check(ran.await(PATIENCE.getSeconds(), TimeUnit.SECONDS), "every check ran");
        }
        equal(4L, names.stream().distinct().count(), "distinct names in " + names);
        for (String name : names) {
            check(name.matches("hamon-check-[0-9]+"), name);
        }
    }

    /**
     * Servers closed right after their checks were added: many checks never run, so their
     * threads never attach to the JVM. Releasing such a check must not attach a thread of
     * its own (the JVM would name it Thread-N) nor make hamon warn.
     */
    public static void testChecksClosedBeforeTheirFirstRunLeaveNothingBehind() {
        List<String> warnings = new CopyOnWriteArrayList<>();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(r.getMessage());
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        HAMON_LOG.addHandler(handler);
        int neverRan = 0;
        int cycles = 0;
        int before = nextUnnamedThreadNumber();
        try {
            while (neverRan < 200 && cycles < 2_000) {
                cycles++;
                AtomicInteger ran = new AtomicInteger();
                try (HaServer server = Servers.start()) {
                    for (int i = 0; i < 8; i++) {
                        AtomicBoolean once = new AtomicBoolean();
                        server.addCheck("c" + i, () -> {
                            if (once.compareAndSet(false, true)) {
                                ran.incrementAndGet();
                            }
                            return HealthState.UP;
                        });
                    }
                }
                neverRan += 8 - ran.get();
            }
            waitUntil("no hamon thread left", PATIENCE, () -> Threads.hamonThreads().isEmpty());
        } finally {
            HAMON_LOG.removeHandler(handler);
        }
        int unnamed = nextUnnamedThreadNumber() - before - 1;
        System.out.printf("%d cycles, %d checks never ran%n", cycles, neverRan);
        check(neverRan > 0, "no check was closed before its first run");
        equal(0, unnamed, "threads attached without a name");
        equal(Collections.emptyList(), warnings, "warnings");
    }

    /** The number the JVM gives the next thread it names itself (Thread-N). */
    private static int nextUnnamedThreadNumber() {
        String name = new Thread(() -> {}).getName();
        check(name.startsWith("Thread-"), name);
        return Integer.parseInt(name.substring("Thread-".length()));
    }
}

package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.equal;
import static io.hamon.tests.Assert.waitUntil;

import io.hamon.CheckOptions;
import io.hamon.HaServer;
import io.hamon.HealthState;
import io.hamon.ServerState;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * hamon's debug logging turned on as an operator would during an incident: the logger
 * {@code io.hamon} at the level of the system property hamon.test.log.level (default ALL),
 * set before the library loads. Servers start, run checks of every kind and stop; the JVM
 * must neither crash nor see a record that is not hamon's own.
 */
public final class LoggingTest {
    /** Held: java.util.logging keeps its loggers only weakly, with their levels. */
    private static final Logger HAMON_LOG = Logger.getLogger("io.hamon");

    static {
        HAMON_LOG.setLevel(Level.parse(System.getProperty("hamon.test.log.level", "ALL")));
    }

    private static final Duration PATIENCE = Duration.ofSeconds(10);
    private static final CheckOptions FAST = CheckOptions.builder()
            .interval(Duration.ofMillis(20)).timeout(Duration.ofMillis(200)).rise(1).fall(1)
            .build();

    private LoggingTest() {}

    /** Collects what reaches the logger io.hamon. */
    private static final class Collector extends Handler {
        final List<LogRecord> records = new CopyOnWriteArrayList<>();

        @Override
        public void publish(LogRecord r) {
            records.add(r);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }

    public static void testServersStartRunChecksAndStopAtThisLevel() throws Exception {
        Collector collector = new Collector();
        HAMON_LOG.addHandler(collector);
        try {
            for (int round = 0; round < 3; round++) {
                oneRound();
            }
        } finally {
            HAMON_LOG.removeHandler(collector);
        }
        System.out.printf("%d records at %s%n", collector.records.size(), HAMON_LOG.getLevel());
        check(collector.records.stream().anyMatch(
                r -> r.getMessage().contains("monitor server listening on")),
                "hamon's INFO records arrive");
        for (LogRecord r : collector.records) {
            equal("io.hamon", r.getLoggerName(), "the logger of " + r.getMessage());
            // Only hamon's own records: never those of the libraries it is built on.
            check(r.getMessage().startsWith("hamon"), "not hamon's record: " + r.getMessage());
        }
    }

    private static void oneRound() throws Exception {
        CountDownLatch stuckEntered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<HaServer> self = new AtomicReference<>();
        HaServer server = Servers.start("ha.stop_timeout_ms", "200");
        try {
            self.set(server);
            server.addCheck("up", () -> {
                runs.incrementAndGet();
                return HealthState.UP;
            }, FAST);
            server.addCheck("throws", () -> {
                throw new IllegalStateException("broken on purpose");
            }, FAST);
            server.addCheck("calls", () -> {
                self.get().heartbeat();
                self.get().counterAdd("calls", 1);
                return self.get().state() == null ? HealthState.DOWN : HealthState.UP;
            }, FAST);
            server.addCheck("stuck", () -> {
                stuckEntered.countDown();
                release.await();
                return HealthState.UP;
            }, FAST);
            server.ready();
            waitUntil("runs", PATIENCE, () -> runs.get() >= 10);
            waitUntil("DOWN", PATIENCE, () -> server.state() == ServerState.DOWN);
            check(stuckEntered.await(10, java.util.concurrent.TimeUnit.SECONDS), "stuck ran");
            Wire.ask(server.port(), "status");
        } finally {
            // Leaves the stuck check behind (logged as a warning), then lets it end.
            server.close();
            release.countDown();
        }
        waitUntil("no hamon thread left", PATIENCE, () -> Threads.hamonThreads().isEmpty());
    }

    /**
     * A handler that calls hamon (here: starts and stops a server) while it publishes a
     * record: the records that call logs on the same thread are dropped instead of coming
     * back into the handler, which would recurse.
     */
    public static void testARecordLoggedWhilePublishingIsDropped() {
        ThreadLocal<Boolean> publishing = ThreadLocal.withInitial(() -> false);
        AtomicReference<String> reentered = new AtomicReference<>();
        AtomicBoolean nested = new AtomicBoolean();
        AtomicInteger nestedPort = new AtomicInteger();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (publishing.get()) {
                    reentered.set(Thread.currentThread().getName() + ": " + r.getMessage());
                    return;
                }
                if (!r.getMessage().contains("monitor server listening")
                        || !nested.compareAndSet(false, true)) {
                    return;
                }
                publishing.set(true);
                try (HaServer inner = Servers.start()) {
                    nestedPort.set(inner.port());
                } finally {
                    publishing.set(false);
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        HAMON_LOG.addHandler(handler);
        try (HaServer server = Servers.start()) {
            check(server.port() > 0, "the outer server started");
        } finally {
            HAMON_LOG.removeHandler(handler);
        }
        check(nested.get(), "the handler saw the record");
        check(nestedPort.get() > 0, "the handler started and stopped a server");
        equal(null, reentered.get(), "a record that came back while the handler published");
    }
}

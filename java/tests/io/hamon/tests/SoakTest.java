package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.equal;
import static io.hamon.tests.Assert.waitUntil;

import io.hamon.CheckOptions;
import io.hamon.CheckResult;
import io.hamon.HaProbe;
import io.hamon.HaServer;
import io.hamon.HealthState;
import io.hamon.ProbeResult;
import io.hamon.ServerState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * A bounded soak under GC pressure (run with a small heap, e.g. -Xmx64m): three servers
 * whose answers are known (UP, DEGRADED, DOWN) with checks that allocate, sleep, throw,
 * return null and call their server; a thread that produces garbage; a thread that starts
 * and closes servers; hamon's log at every level. Every in-JVM probe must give the expected
 * state, and threads and RSS must stay flat. Seconds: system property hamon.test.soak.seconds
 * (default 30), the first sixth of which is warm-up.
 */
public final class SoakTest {
    /** Held: java.util.logging keeps its loggers only weakly, with their levels. */
    private static final Logger HAMON_LOG = Logger.getLogger("io.hamon");

    static {
        HAMON_LOG.setLevel(Level.ALL);
        HAMON_LOG.setUseParentHandlers(false);
    }

    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(5);
    /** Heap, JIT and thread stacks settle after the warm-up; nothing may grow per probe. */
    private static final long RSS_GROWTH_LIMIT_KIB = 16 * 1024;
    private static final CheckOptions FAST = CheckOptions.builder()
            .interval(Duration.ofMillis(50)).timeout(Duration.ofSeconds(5)).rise(1).fall(1)
            .build();

    private SoakTest() {}

    public static void testProbesStayCorrectAndThreadsAndMemoryFlat() throws Exception {
        long seconds = Long.getLong("hamon.test.soak.seconds", 30);
        AtomicLong records = new AtomicLong();
        Handler counter = new Handler() {
            @Override
            public void publish(LogRecord r) {
                records.incrementAndGet();
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        HAMON_LOG.addHandler(counter);
        AtomicBoolean running = new AtomicBoolean(true);
        List<String> failures = new CopyOnWriteArrayList<>();
        AtomicInteger cycles = new AtomicInteger();
        Thread garbage = new Thread(() -> makeGarbage(running), "garbage");
        Thread cycler = new Thread(() -> cycle(running, cycles, failures), "cycler");
        HaServer up = Servers.start();
        HaServer degraded = Servers.start();
        HaServer down = Servers.start();
        try {
            addUpChecks(up);
            degraded.addDetailedCheck("replicas", () -> CheckResult.degraded("1 of 2 up"), FAST);
            degraded.addCheck("fine", () -> HealthState.UP, FAST);
            down.addCheck("throws", () -> {
                throw new IllegalStateException("broken on purpose");
            }, FAST);
            down.addCheck("null", () -> null, FAST);
            for (HaServer s : Arrays.asList(up, degraded, down)) {
                s.ready();
            }
            Map<HaServer, ServerState> expected = new LinkedHashMap<>();
            expected.put(up, ServerState.UP);
            expected.put(degraded, ServerState.DEGRADED);
            expected.put(down, ServerState.DOWN);
            for (Map.Entry<HaServer, ServerState> e : expected.entrySet()) {
                waitUntil("the expected state", Duration.ofSeconds(30),
                        () -> e.getKey().state() == e.getValue());
            }
            garbage.setDaemon(true);
            cycler.setDaemon(true);
            garbage.start();
            cycler.start();

            long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
            long warmEnd = System.nanoTime() + Duration.ofSeconds(seconds).toNanos() / 6;
            int threadsBefore = -1;
            long rssBefore = -1;
            long probes = 0;
            while (System.nanoTime() < end && failures.size() < 10) {
                if (rssBefore < 0 && System.nanoTime() > warmEnd) {
                    threadsBefore = Threads.count();
                    rssBefore = Threads.rssKib();
                }
                for (Map.Entry<HaServer, ServerState> e : expected.entrySet()) {
                    ProbeResult r = HaProbe.probe("127.0.0.1", e.getKey().port(), PROBE_TIMEOUT);
                    probes++;
                    if (r.state() != e.getValue()) {
                        failures.add("probe: expected " + e.getValue() + ", got " + r.line());
                    }
                }
                Thread.sleep(2);
            }
            int threadsAfter = Threads.count();
            long rssAfter = Threads.rssKib();
            System.out.printf("%d probes, %d start/close cycles, %d log records; threads %d -> "
                    + "%d; RSS %d -> %d KiB%n", probes, cycles.get(), records.get(),
                    threadsBefore, threadsAfter, rssBefore, rssAfter);
            equal(Collections.emptyList(), failures, "failures");
            check(probes > 300, "only " + probes + " probes");
            check(cycles.get() > 10, "only " + cycles.get() + " start/close cycles");
            // The cycler may be between a start and a close: its server has three threads.
            check(threadsAfter <= threadsBefore + 5,
                    "threads " + threadsBefore + " -> " + threadsAfter);
            check(rssAfter - rssBefore < RSS_GROWTH_LIMIT_KIB,
                    "RSS grew " + (rssAfter - rssBefore) + " KiB");
        } finally {
            running.set(false);
            garbage.join(10_000);
            cycler.join(30_000);
            up.close();
            degraded.close();
            down.close();
            HAMON_LOG.removeHandler(counter);
        }
        waitUntil("no hamon thread left", Duration.ofSeconds(30),
                () -> Threads.hamonThreads().isEmpty());
    }

    private static void addUpChecks(HaServer up) {
        AtomicReference<HaServer> self = new AtomicReference<>(up);
        up.addCheck("allocates", () -> {
            byte[][] junk = new byte[64][];
            for (int i = 0; i < junk.length; i++) {
                junk[i] = new byte[16 * 1024];
            }
            return junk[junk.length - 1].length > 0 ? HealthState.UP : HealthState.DOWN;
        }, FAST);
        up.addCheck("sleeps", () -> {
            Thread.sleep(20);
            return HealthState.UP;
        }, FAST);
        up.addCheck("calls", () -> {
            HaServer s = self.get();
            s.heartbeat();
            s.counterAdd("soak_calls", 1);
            return s.state() == null ? HealthState.DOWN : HealthState.UP;
        }, FAST);
        up.addDetailedCheck("detailed", () -> CheckResult.of(HealthState.UP, null), FAST);
    }

    /** Keeps about 16 MiB live and replaces it all the time, about 1 MiB per millisecond. */
    private static void makeGarbage(AtomicBoolean running) {
        List<byte[]> live = new ArrayList<>();
        int i = 0;
        while (running.get()) {
            byte[] chunk = new byte[64 * 1024];
            chunk[i % chunk.length] = (byte) i;
            if (live.size() < 256) {
                live.add(chunk);
            } else {
                live.set(i % live.size(), chunk);
            }
            i++;
            if (i % 16 == 0) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    /** Starts a server with a check, sometimes lets the check run, closes it. */
    private static void cycle(AtomicBoolean running, AtomicInteger cycles, List<String> failures) {
        while (running.get()) {
            try (HaServer s = Servers.start()) {
                s.addCheck("cycled", () -> HealthState.UP, FAST);
                if (cycles.get() % 2 == 0) {
                    s.ready();
                    HaProbe.probe("127.0.0.1", s.port(), PROBE_TIMEOUT);
                }
            } catch (RuntimeException e) {
                failures.add("cycle: " + e);
            }
            cycles.incrementAndGet();
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}

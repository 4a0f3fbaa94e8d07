package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.equal;

import io.hamon.CheckOptions;
import io.hamon.HaServer;
import io.hamon.HealthState;
import io.hamon.HealthCheck;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Starting and stopping a server over and over leaks neither threads nor memory. Each cycle
 * waits for its check to run once, so every cycle also attaches a native thread to the JVM
 * and detaches it again. The number of cycles is the system property hamon.test.cycles
 * (default 1000).
 *
 * <p>RSS is a coarse guard: the JVM itself grows by about 1 MiB per thousand threads that
 * start and end (a plain Java thread loop does the same), and hamon's C API alone stays flat
 * over such cycles. The precise guards are the thread counts and the check objects, which
 * must all become unreachable (their JNI global references released).
 *
 * <p>hamon's log goes to WARNING here: every start logs its settings at INFO, and 25,000
 * records through java.util.logging's console handler grow the heap with that handler's
 * garbage, which says nothing about hamon.
 */
public final class CyclesTest {
    /** Held: java.util.logging keeps its loggers only weakly, with their levels. */
    private static final Logger HAMON_LOG = Logger.getLogger("io.hamon");

    static {
        HAMON_LOG.setLevel(Level.WARNING);
    }

    private static final int WARM_UP = 100;
    /** RSS may grow this much over the cycles: heap and JIT settle, nothing per cycle. */
    private static final long RSS_GROWTH_LIMIT_KIB = 24 * 1024;

    private CyclesTest() {}

    public static void testStartStopCyclesLeakNoThreadsOrMemory() throws InterruptedException {
        int cycles = Integer.getInteger("hamon.test.cycles", 1000);
        CheckOptions options = CheckOptions.builder().interval(Duration.ofSeconds(60)).build();
        for (int i = 0; i < WARM_UP; i++) {
            cycle(options);
        }
        settle();
        int threadsBefore = Threads.count();
        long rssBefore = Threads.rssKib();
        long start = System.nanoTime();
        List<WeakReference<HealthCheck>> checks = new ArrayList<>();
        for (int i = 0; i < cycles; i++) {
            checks.add(new WeakReference<>(cycle(options)));
        }
        long elapsedMs = (System.nanoTime() - start) / 1_000_000;
        settle();
        int threadsAfter = Threads.count();
        long rssAfter = Threads.rssKib();
        System.out.printf("%d cycles in %d ms; threads %d -> %d; RSS %d -> %d KiB%n",
                cycles, elapsedMs, threadsBefore, threadsAfter, rssBefore, rssAfter);
        equal(0, Threads.hamonThreads().size(), "hamon threads left: " + Threads.hamonThreads());
        // The JVM may start a compiler thread or two of its own meanwhile.
        check(threadsAfter <= threadsBefore + 2, "threads " + threadsBefore + " -> " + threadsAfter);
        check(rssAfter - rssBefore < RSS_GROWTH_LIMIT_KIB,
                "RSS grew " + (rssAfter - rssBefore) + " KiB over " + cycles + " cycles");
        Assert.waitUntil(Duration.ofSeconds(10), () -> {
            System.gc();
            return checks.stream().allMatch(c -> c.get() == null);
        }, () -> checks.stream().filter(c -> c.get() != null).count()
                + " check objects still referenced after their servers closed");
    }

    /** One cycle; returns the check, which nothing should keep once the server closed. */
    private static HealthCheck cycle(CheckOptions options) throws InterruptedException {
        CountDownLatch ran = new CountDownLatch(1);
        HealthCheck check = () -> {
            ran.countDown();
            return HealthState.UP;
        };
        try (HaServer server = Servers.start()) {
            server.addCheck("app", check, options);
            server.ready();
            check(ran.await(10, TimeUnit.SECONDS), "the check ran");
        }
        return check;
    }

    /** Lets the threads of the last cycle finish and the heap shrink back. */
    private static void settle() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Threads.hamonThreads().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        System.gc();
        Thread.sleep(100);
    }
}

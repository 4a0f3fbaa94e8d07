package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.contains;
import static io.hamon.tests.Assert.waitUntil;

import io.hamon.CheckOptions;
import io.hamon.HaServer;
import io.hamon.HealthState;
import io.hamon.ServerState;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** A check that blocks is judged by the timeout rules every check has, C or Java. */
public final class BlockingCheckTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private BlockingCheckTest() {}

    public static void testABlockingCheckTimesOutAndStopIsBounded() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch entered = new CountDownLatch(1);
        AtomicInteger otherRuns = new AtomicInteger();
        CheckOptions options = CheckOptions.builder().interval(Duration.ofMillis(100))
                .timeout(Duration.ofMillis(200)).rise(1).fall(1).build();
        HaServer server = Servers.start("ha.stop_timeout_ms", "300");
        server.addCheck("stuck", () -> {
            entered.countDown();
            release.await();
            return HealthState.UP;
        }, options);
        server.addCheck("other", () -> {
            otherRuns.incrementAndGet();
            return HealthState.UP;
        }, options);
        server.ready();
        int port = server.port();
        waitUntil(PATIENCE, () -> server.state() == ServerState.DOWN,
                () -> "DOWN after the timeout: " + Wire.ask(port, "check"));
        String line = Wire.ask(port, "check stuck");
        contains(line, "reason=\"timeout: no answer after", "the same reason a C check gets");
        int before = otherRuns.get();
        waitUntil("the other check keeps running", PATIENCE, () -> otherRuns.get() > before + 3);

        long start = System.nanoTime();
        server.close();
        long closeMs = (System.nanoTime() - start) / 1_000_000;
        check(closeMs < 2_000, "close waits ha.stop_timeout_ms, not for the check: " + closeMs);
        check(!Wire.listening(port), "port free");

        // The check left behind ends when its call returns, and its thread goes away.
        release.countDown();
        waitUntil("no hamon thread left", PATIENCE, () -> Threads.hamonThreads().isEmpty());
    }
}

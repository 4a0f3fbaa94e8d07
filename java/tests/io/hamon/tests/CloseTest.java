package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.raises;
import static io.hamon.tests.Assert.waitUntil;

import io.hamon.CheckOptions;
import io.hamon.HaServer;
import io.hamon.HealthState;
import io.hamon.ServerState;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * close() never waits for the stop timeout because of a check that calls its own server,
 * returns promptly when a check closes its own server, and returns only once the server has
 * stopped, whichever thread calls it. The servers here wait up to 20 s for their checks, so
 * a close that stalls on one stands out from one that merely runs on a busy machine.
 */
public final class CloseTest {
    /** Held: java.util.logging keeps its loggers only weakly. */
    private static final Logger HAMON_LOG = Logger.getLogger("io.hamon");
    private static final Duration PATIENCE = Duration.ofSeconds(30);
    private static final String STOP_TIMEOUT_MS = "20000";
    /** Far below the stop timeout, far above a close on a loaded machine. */
    private static final long PROMPT_MS = 8_000;
    private static final CheckOptions FAST = CheckOptions.builder()
            .interval(Duration.ofMillis(20)).build();

    private CloseTest() {}

    private static long millisSince(long start) {
        return (System.nanoTime() - start) / 1_000_000;
    }

    public static void testCloseDoesNotWaitForACheckCallingState() throws Exception {
        closeWhileACheckCalls(HaServer::state);
    }

    public static void testCloseDoesNotWaitForACheckCallingHeartbeat() throws Exception {
        closeWhileACheckCalls(HaServer::heartbeat);
    }

    /** The check calls its server in a loop until the server says it is closed. */
    private static void closeWhileACheckCalls(Consumer<HaServer> call) throws Exception {
        AtomicReference<HaServer> self = new AtomicReference<>();
        CountDownLatch calling = new CountDownLatch(1);
        AtomicBoolean sawClosed = new AtomicBoolean();
        HaServer server = Servers.start("ha.stop_timeout_ms", STOP_TIMEOUT_MS);
        self.set(server);
        int port = server.port();
        server.addCheck("self", () -> {
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            while (System.nanoTime() < deadline) {
                try {
                    call.accept(self.get());
                } catch (IllegalStateException closed) {
                    sawClosed.set(true);
                    break;
                }
                calling.countDown();
                Thread.sleep(1);
            }
            return HealthState.UP;
        }, FAST);
        check(calling.await(PATIENCE.getSeconds(), TimeUnit.SECONDS), "the check calls");
        long start = System.nanoTime();
        server.close();
        long closeMs = millisSince(start);
        check(closeMs < PROMPT_MS, "close took " + closeMs + " ms");
        check(sawClosed.get(), "the check saw the server closed");
        check(!Wire.listening(port), "port free");
        waitUntil("no hamon thread left", PATIENCE, () -> Threads.hamonThreads().isEmpty());
    }

    /**
     * A check that closes its own server: the close stops the server and waits for its other
     * checks, but not for the calling check, which cannot end before close returns.
     */
    public static void testACheckClosingItsOwnServerReturnsPromptly() throws Exception {
        AtomicReference<HaServer> self = new AtomicReference<>();
        AtomicLong closeMs = new AtomicLong(-1);
        AtomicBoolean otherInside = new AtomicBoolean();
        AtomicBoolean otherInsideAtReturn = new AtomicBoolean(true);
        CountDownLatch otherRan = new CountDownLatch(3);
        CountDownLatch closed = new CountDownLatch(1);
        HaServer server = Servers.start("ha.stop_timeout_ms", STOP_TIMEOUT_MS);
        self.set(server);
        int port = server.port();
        server.addCheck("other", () -> {
            otherInside.set(true);
            Thread.sleep(50);
            otherInside.set(false);
            otherRan.countDown();
            return HealthState.UP;
        }, FAST);
        check(otherRan.await(PATIENCE.getSeconds(), TimeUnit.SECONDS), "the other check runs");
        server.addCheck("closer", () -> {
            long start = System.nanoTime();
            self.get().close();
            closeMs.set(millisSince(start));
            otherInsideAtReturn.set(otherInside.get());
            closed.countDown();
            return HealthState.UP;
        }, FAST);
        check(closed.await(PATIENCE.getSeconds(), TimeUnit.SECONDS), "the check closed");
        check(closeMs.get() < PROMPT_MS, "close inside the check took " + closeMs.get() + " ms");
        check(!otherInsideAtReturn.get(), "close returned while another check still ran");
        check(!Wire.listening(port), "port free");
        raises(IllegalStateException.class, server::state);
        server.close();
        waitUntil("no hamon thread left", PATIENCE, () -> Threads.hamonThreads().isEmpty());
    }

    /** A check closes its server while another thread is closing it: neither waits long. */
    public static void testACheckClosingWhileAnotherThreadClosesDoesNotDeadlock()
            throws Exception {
        AtomicReference<HaServer> self = new AtomicReference<>();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch mainCloses = new CountDownLatch(1);
        AtomicLong checkCloseMs = new AtomicLong(-1);
        HaServer server = Servers.start("ha.stop_timeout_ms", STOP_TIMEOUT_MS);
        self.set(server);
        server.addCheck("closer", () -> {
            entered.countDown();
            mainCloses.await();
            Thread.sleep(100);
            long start = System.nanoTime();
            self.get().close();
            checkCloseMs.set(millisSince(start));
            return HealthState.UP;
        }, FAST);
        check(entered.await(PATIENCE.getSeconds(), TimeUnit.SECONDS), "the check runs");
        long start = System.nanoTime();
        mainCloses.countDown();
        server.close();
        long closeMs = millisSince(start);
        check(closeMs < PROMPT_MS, "close took " + closeMs + " ms");
        check(checkCloseMs.get() >= 0 && checkCloseMs.get() < PROMPT_MS,
                "close inside the check took " + checkCloseMs.get() + " ms");
        waitUntil("no hamon thread left", PATIENCE, () -> Threads.hamonThreads().isEmpty());
    }

    /**
     * A log handler that closes the server when hamon logs a change to DOWN, which a pushState
     * on the same thread caused: close cannot free the server from under that call, nor wait
     * for it; it says so instead of hanging.
     */
    public static void testCloseFromALogHandlerDuringACallThrowsInsteadOfHanging() {
        AtomicReference<HaServer> self = new AtomicReference<>();
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread caller = Thread.currentThread();
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (Thread.currentThread() == caller && r.getMessage().contains("-> DOWN")
                        && self.get() != null) {
                    try {
                        self.get().close();
                    } catch (RuntimeException e) {
                        thrown.set(e);
                    }
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        HAMON_LOG.addHandler(handler);
        try (HaServer server = Servers.start()) {
            server.ready();
            self.set(server);
            server.pushState(HealthState.DOWN, "closing on DOWN");
            self.set(null);
            check(thrown.get() instanceof IllegalStateException, "close threw " + thrown.get());
            check(server.state() == ServerState.DOWN, "the server still works");
        } finally {
            HAMON_LOG.removeHandler(handler);
        }
    }

    /**
     * Two threads close at once while a check is still inside its call: each returns only
     * once the server has stopped, which includes waiting for that check.
     */
    public static void testEveryCloserReturnsOnlyOnceTheServerStopped() throws Exception {
        for (int round = 0; round < 3; round++) {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean checkReturned = new AtomicBoolean();
            HaServer server = Servers.start("ha.stop_timeout_ms", STOP_TIMEOUT_MS);
            int port = server.port();
            server.addCheck("slow", () -> {
                entered.countDown();
                release.await();
                checkReturned.set(true);
                return HealthState.UP;
            }, FAST);
            check(entered.await(PATIENCE.getSeconds(), TimeUnit.SECONDS), "the check runs");
            CountDownLatch go = new CountDownLatch(1);
            AtomicReference<String> wrong = new AtomicReference<>();
            Thread[] closers = new Thread[2];
            for (int i = 0; i < closers.length; i++) {
                String name = "closer-" + i;
                closers[i] = new Thread(() -> {
                    try {
                        go.await();
                        server.close();
                        if (!checkReturned.get()) {
                            wrong.set(name + " returned while the check still ran");
                        } else if (Wire.listening(port)) {
                            wrong.set(name + " returned while the port was open");
                        }
                    } catch (InterruptedException e) {
                        wrong.set(name + " interrupted");
                    }
                }, name);
                closers[i].start();
            }
            go.countDown();
            Thread.sleep(300);
            release.countDown();
            for (Thread closer : closers) {
                closer.join(PATIENCE.toMillis());
                check(!closer.isAlive(), closer.getName() + " returned");
            }
            check(wrong.get() == null, String.valueOf(wrong.get()));
        }
        waitUntil("no hamon thread left", PATIENCE, () -> Threads.hamonThreads().isEmpty());
    }
}

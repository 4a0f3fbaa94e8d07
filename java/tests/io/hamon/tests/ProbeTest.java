package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.contains;
import static io.hamon.tests.Assert.equal;
import static io.hamon.tests.Assert.raises;
import static io.hamon.tests.Assert.waitUntil;

import io.hamon.CheckOptions;
import io.hamon.HaProbe;
import io.hamon.HaServer;
import io.hamon.HamonException;
import io.hamon.HealthState;
import io.hamon.ProbeResult;
import io.hamon.ServerState;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** HaProbe against real servers, and against sockets that misbehave. */
public final class ProbeTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);
    private static final CheckOptions FAST = CheckOptions.builder()
            .interval(Duration.ofMillis(30)).rise(1).fall(1).build();

    private ProbeTest() {}

    public static void testStateRoundTripAndDetails() {
        try (HaServer server = Servers.start("ha.app_name", "billing")) {
            server.addCheck("a", () -> HealthState.UP, FAST);
            server.addCheck("b", () -> HealthState.UP, FAST);
            server.ready();
            int port = server.port();
            waitUntil("UP", PATIENCE, () -> server.state() == ServerState.UP);
            ProbeResult r = HaProbe.probe("127.0.0.1", port, PATIENCE);
            equal(ServerState.UP, r.state(), "state");
            check(r.state().isAvailable(), "available");
            check(!r.roundTrip().isNegative() && r.roundTrip().compareTo(PATIENCE) < 0,
                    "round trip " + r.roundTrip());
            check(r.line().startsWith("UP "), r.line());
            equal(2, r.checksUp(), "checks up");
            equal(2, r.checksTotal(), "checks total");
            check(r.resultAge().isPresent(), "age_ms");
            equal("billing", r.fields().get("app"), "fields");
            equal("1", r.fields().get("v"), "protocol version");
            check(!r.reason().isPresent(), "no reason when UP");
            raises(UnsupportedOperationException.class, () -> r.fields().put("x", "y"));
            contains(r.toString(), "UP", "toString");
        }
    }

    public static void testANamedCheck() {
        try (HaServer server = Servers.start()) {
            server.addCheck("db", () -> {
                throw new IllegalStateException("no connection");
            }, FAST);
            server.ready();
            int port = server.port();
            waitUntil("DOWN", PATIENCE, () -> server.state() == ServerState.DOWN);
            ProbeResult r = HaProbe.probe("localhost", port, PATIENCE, "db");
            equal(ServerState.DOWN, r.state(), "state of db");
            equal("no connection", r.reason().orElse(""), "reason");
            equal(-1, r.checksUp(), "no checks= for one check");
            equal(-1, r.checksTotal(), "no checks= for one check");
            HamonException unknown = raises(HamonException.class,
                    () -> HaProbe.probe("127.0.0.1", port, PATIENCE, "nope"));
            equal(HamonException.PROBE_UNKNOWN_CHECK, unknown.code(), "unknown check");
        }
    }

    public static void testRefusedTimeoutBadReplyAndResolve() throws Exception {
        // A port held bound but not listening: connections to it are refused, and no other
        // program (tests run side by side) can take it and answer in the meantime.
        try (Socket held = new Socket()) {
            held.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            int closed = held.getLocalPort();
            equal(HamonException.PROBE_REFUSED, raises(HamonException.class,
                    () -> HaProbe.probe("127.0.0.1", closed, PATIENCE)).code(), "refused");
        }

        try (ServerSocket silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            long start = System.nanoTime();
            HamonException timeout = raises(HamonException.class, () -> HaProbe.probe(
                    "127.0.0.1", silent.getLocalPort(), Duration.ofMillis(300)));
            long ms = (System.nanoTime() - start) / 1_000_000;
            equal(HamonException.PROBE_TIMEOUT, timeout.code(), "timeout: " + timeout);
            check(ms >= 250 && ms < 5_000, "the deadline held: " + ms + " ms");
        }

        try (ServerSocket liar = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread answer = new Thread(() -> {
                try (Socket s = liar.accept(); OutputStream out = s.getOutputStream()) {
                    out.write("HELLO there\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    s.getInputStream().read();
                } catch (IOException ignored) {
                    // the probe hung up
                }
            });
            answer.start();
            HamonException bad = raises(HamonException.class,
                    () -> HaProbe.probe("127.0.0.1", liar.getLocalPort(), PATIENCE));
            equal(HamonException.PROBE_BAD_REPLY, bad.code(), "bad reply: " + bad);
            answer.join();
        }

        HamonException resolve = raises(HamonException.class,
                () -> HaProbe.probe("no-such-host.invalid", 7001, PATIENCE));
        equal(HamonException.PROBE_RESOLVE, resolve.code(), "resolve: " + resolve);
    }
}

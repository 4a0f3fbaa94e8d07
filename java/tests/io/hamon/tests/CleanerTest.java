package io.hamon.tests;

import static io.hamon.tests.Assert.waitUntil;

import io.hamon.HaServer;
import io.hamon.HealthState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A server nobody closed is stopped once it is unreachable. */
public final class CleanerTest {
    private CleanerTest() {}

    public static void testUnclosedServersAreStoppedByTheCleaner() {
        List<Integer> ports = startAndForget(10);
        waitUntil(Duration.ofSeconds(30), () -> {
            System.gc();
            return ports.stream().noneMatch(Wire::listening);
        }, () -> "every forgotten server stopped; still listening: "
                + ports.stream().filter(Wire::listening).toArray().length);
        waitUntil("their threads gone", Duration.ofSeconds(10),
                () -> Threads.hamonThreads().isEmpty());
    }

    private static List<Integer> startAndForget(int n) {
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            HaServer server = Servers.start();
            server.addCheck("app", () -> HealthState.UP);
            ports.add(server.port());
        }
        return ports;
    }
}

package io.hamon.tests;

import io.hamon.HaServer;
import io.hamon.HealthState;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Returns from main while a server runs, one check runs normally and another is stuck
 * inside its call: the JVM must still exit, with status 0.
 */
public final class ExitWithServerRunning {
    private ExitWithServerRunning() {}

    public static void main(String[] args) throws InterruptedException {
        CountDownLatch normal = new CountDownLatch(1);
        CountDownLatch stuck = new CountDownLatch(1);
        HaServer server = Servers.start();
        server.addCheck("normal", () -> {
            normal.countDown();
            return HealthState.UP;
        });
        server.addCheck("stuck", () -> {
            stuck.countDown();
            new CountDownLatch(1).await();
            return HealthState.UP;
        });
        server.ready();
        if (!normal.await(10, TimeUnit.SECONDS) || !stuck.await(10, TimeUnit.SECONDS)) {
            System.out.println("the checks did not run");
            System.exit(1);
        }
        System.out.println("main returns; server on port " + server.port() + " answers "
                + Wire.ask(server.port(), "check"));
    }
}

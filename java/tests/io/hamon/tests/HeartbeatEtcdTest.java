package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.contains;
import static io.hamon.tests.Assert.equal;

import io.hamon.HamonException;
import io.hamon.Heartbeat;
import io.hamon.HeartbeatTick;
import io.hamon.NodeStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * The same Heartbeat API on etcd: only the settings differ ({@code hb.backend=etcd}, the
 * endpoints, the etcd timing keys; no {@code hb.dir}). The test's etcd is given as the system
 * property {@code hamon.test.etcd.endpoints} (tests/java.rs starts it).
 */
public final class HeartbeatEtcdTest {
    private HeartbeatEtcdTest() {}

    /** Node a (preferred) of the cluster a,b; b never runs. Each test has its own prefix. */
    private static Properties settings(Path state) {
        String endpoints = System.getProperty("hamon.test.etcd.endpoints");
        check(endpoints != null, "-Dhamon.test.etcd.endpoints is not set");
        Properties p = new Properties();
        p.setProperty("hb.backend", "etcd");
        p.setProperty("hb.etcd.endpoints", endpoints);
        p.setProperty("hb.etcd.prefix", "/hamon-java/" + System.nanoTime() + "/");
        p.setProperty("hb.node", "a");
        p.setProperty("hb.nodes", "a,b");
        p.setProperty("hb.preferred", "true");
        p.setProperty("hb.state_dir", state.toString());
        p.setProperty("hb.etcd.period_ms", "200");
        p.setProperty("hb.etcd.io_timeout_ms", "300");
        p.setProperty("hb.etcd.lease_ttl_s", "2");
        p.setProperty("hb.etcd.kill_budget_ms", "100");
        p.setProperty("hb.etcd.election_timeout_ms", "500");
        p.setProperty("hb.etcd.heartbeat_interval_ms", "50");
        return p;
    }

    private static HeartbeatTick tickUntil(Heartbeat node, String what,
            Predicate<HeartbeatTick> want) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (true) {
            HeartbeatTick t = node.tick();
            if (want.test(t)) {
                return t;
            }
            check(System.nanoTime() < deadline, "waited in vain for " + what + "; last: " + t);
            Thread.sleep(Math.min(20, t.nextTickWithin().toMillis()));
        }
    }

    public static void testANodeOnEtcdStartsFollowsOperatorsAndHandsOver() throws Exception {
        Path state = Files.createTempDirectory("hamon-java-etcd");
        try {
            Properties settings = settings(state);
            Heartbeat.initCluster(settings);
            Heartbeat.initCluster(settings);
            try (Heartbeat node = Heartbeat.open(settings)) {
                HeartbeatTick start = tickUntil(node, "START",
                        t -> t.action() == Heartbeat.Action.START);
                equal(Heartbeat.Role.ACTIVE, start.role(), "role with START");
                check(start.epoch() > 0, "an epoch: " + start);
                check(start.deadlineLeft().isPresent(), "a lease deadline");
                equal(Heartbeat.Maintenance.OFF, start.maintenance(), "maintenance");
                check(start.alarms().isEmpty(), "no alarms: " + start.alarms());
                equal(Heartbeat.Action.KEEP, node.tick().action(), "then KEEP");

                List<NodeStatus> status = node.status();
                equal(2, status.size(), "hb.nodes");
                check(status.get(0).isSelf() && status.get(0).name().equals("a"),
                        "own entry first: " + status);

                node.setMaintenance(Heartbeat.Maintenance.FREEZE, "java freeze");
                tickUntil(node, "FREEZE", t -> t.maintenance() == Heartbeat.Maintenance.FREEZE);
                node.setMaintenance(Heartbeat.Maintenance.OFF, null);
                tickUntil(node, "OFF", t -> t.maintenance() == Heartbeat.Maintenance.OFF);

                // A hand-over revokes the lease: standby once it is gone, and the next term,
                // after the others had a lease's time to claim, has a higher epoch.
                HeartbeatTick release = node.release();
                equal(Heartbeat.Action.STOP, release.action(), "release stops the application");
                HeartbeatTick after = node.appStopped();
                check(after.role() != Heartbeat.Role.ACTIVE, "stopped: " + after);
                tickUntil(node, "STANDBY (lease revoked)",
                        t -> t.role() == Heartbeat.Role.STANDBY);
                HeartbeatTick again = tickUntil(node, "START again",
                        t -> t.action() == Heartbeat.Action.START);
                check(again.epoch() > start.epoch(), "epoch " + again.epoch() + " after "
                        + start.epoch());
            }
        } finally {
            delete(state);
        }
    }

    public static void testEtcdSettingsAreCheckedWithTheirKeys() throws Exception {
        Path state = Files.createTempDirectory("hamon-java-etcd");
        try {
            Properties noEndpoints = settings(state);
            noEndpoints.remove("hb.etcd.endpoints");
            HamonException missing = Assert.raises(HamonException.class,
                    () -> Heartbeat.open(noEndpoints));
            contains(missing.getMessage(), "hb.etcd.endpoints", "names the key");
            equal(HamonException.CONFIG_MISSING, missing.code(), "missing: " + missing);
            Properties shortLease = settings(state);
            shortLease.setProperty("hb.etcd.lease_ttl_s", "1");
            HamonException timing = Assert.raises(HamonException.class,
                    () -> Heartbeat.open(shortLease));
            equal(HamonException.HEARTBEAT_TIMING, timing.code(), "timing: " + timing);
        } finally {
            delete(state);
        }
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}

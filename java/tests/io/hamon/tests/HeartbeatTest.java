package io.hamon.tests;

import static io.hamon.tests.Assert.check;
import static io.hamon.tests.Assert.contains;
import static io.hamon.tests.Assert.equal;
import static io.hamon.tests.Assert.raises;

import io.hamon.HamonException;
import io.hamon.Heartbeat;
import io.hamon.HeartbeatTick;
import io.hamon.NodeStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** A heartbeat node over a temporary shared directory, through every method of Heartbeat. */
public final class HeartbeatTest {
    private HeartbeatTest() {}

    /** Node a (preferred) of the cluster a,b with the fast timing; b never runs. */
    private static Properties settings(Path dir) throws IOException {
        Files.createDirectories(dir.resolve("shared"));
        Properties p = new Properties();
        p.setProperty("hb.dir", dir.resolve("shared").toString());
        p.setProperty("hb.node", "a");
        p.setProperty("hb.nodes", "a,b");
        p.setProperty("hb.state_dir", dir.resolve("state-a").toString());
        p.setProperty("hb.preferred", "true");
        p.setProperty("hb.period_ms", "100");
        p.setProperty("hb.io_timeout_ms", "150");
        p.setProperty("hb.renew_deadline_ms", "800");
        p.setProperty("hb.kill_budget_ms", "300");
        p.setProperty("hb.takeover_ms", "1500");
        p.setProperty("hb.confirm_ms", "100");
        p.setProperty("app.unrelated", "ignored");
        return p;
    }

    private static HeartbeatTick tickUntil(Heartbeat node, String what,
            Predicate<HeartbeatTick> want) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            HeartbeatTick t = node.tick();
            if (want.test(t)) {
                return t;
            }
            check(System.nanoTime() < deadline, "waited in vain for " + what + "; last: " + t);
            Thread.sleep(Math.min(20, t.nextTickWithin().toMillis()));
        }
    }

    public static void testANodeBecomesActiveAndFollowsOperators() throws Exception {
        Path dir = Files.createTempDirectory("hamon-java-hb");
        try {
            Properties settings = settings(dir);
            Heartbeat.initCluster(settings);
            Heartbeat.initCluster(settings);
            Heartbeat node = Heartbeat.open(settings);
            try {
                HeartbeatTick start = tickUntil(node, "START",
                        t -> t.action() == Heartbeat.Action.START);
                equal(Heartbeat.Role.ACTIVE, start.role(), "role with START");
                check(start.epoch() > 0, "an epoch: " + start);
                check(start.deadlineLeft().isPresent(), "a lease deadline");
                check(start.nextTickWithin().toMillis() <= 50, "tick within half a period");
                equal(Heartbeat.Maintenance.OFF, start.maintenance(), "maintenance");
                check(start.maintenanceReadable(), "maintenance record readable");
                check(!start.switchoverTarget().isPresent(), "no switchover");
                check(start.alarms().isEmpty(), "no alarms: " + start.alarms());
                contains(start.toString(), "ACTIVE START", "toString");
                HeartbeatTick keep = node.tick();
                equal(Heartbeat.Action.KEEP, keep.action(), "then KEEP");
                equal(start.epoch(), keep.epoch(), "same term");

                // The own record as last read: the ACTIVE one shows from a later tick on.
                tickUntil(node, "own record ACTIVE", t -> node.status().get(0).state()
                        .equals(Optional.of(Heartbeat.NodeState.ACTIVE)));
                List<NodeStatus> status = node.status();
                equal(2, status.size(), "hb.nodes");
                NodeStatus self = status.get(0);
                equal("a", self.name(), "own entry first");
                check(self.isSelf() && self.preferred(), "self, preferred: " + self);
                equal(Heartbeat.NodeState.ACTIVE, self.state().orElse(null), "own record");
                equal(start.epoch(), self.epoch(), "own epoch");
                check(self.seq() > 0, "own seq");
                NodeStatus peer = status.get(1);
                check(!peer.isSelf() && peer.name().equals("b"), "peer: " + peer);
                // b's record is the one initCluster wrote; b never runs, so it never looks alive.
                equal(Heartbeat.NodeState.STANDBY, peer.state().orElse(null), "peer record");
                check(peer.epoch() == 0 && peer.seq() == 0 && !peer.preferred(), "peer: " + peer);
                check(peer.liveness() != Heartbeat.Liveness.ALIVE, "peer not alive: " + peer);
                check(peer.changedAgo().isPresent(), "seen since: " + peer);
                contains(peer.toString(), "b", "toString");
                raises(UnsupportedOperationException.class, () -> status.remove(0));

                node.setMaintenance(Heartbeat.Maintenance.FREEZE, "test freeze");
                tickUntil(node, "FREEZE", t -> t.maintenance() == Heartbeat.Maintenance.FREEZE);
                node.setMaintenance(Heartbeat.Maintenance.OFF, null);
                tickUntil(node, "OFF", t -> t.maintenance() == Heartbeat.Maintenance.OFF);
                node.setDrained("b", true);
                node.setDrained("b", false);

                HeartbeatTick failed = node.appFailed("db gone");
                equal(Heartbeat.Action.STOP, failed.action(), "a failed application stops");
                HeartbeatTick stopped = node.appStopped();
                check(stopped.role() != Heartbeat.Role.ACTIVE, "no longer active: " + stopped);
                check(stopped.action() != Heartbeat.Action.START, "no restart at once");
                equal(Heartbeat.Action.NONE, node.appFailed(null).action(), "nothing runs here");
                equal(Heartbeat.Action.NONE, node.release().action(), "release on standby");

                node.switchover("b", "move to b");
                HeartbeatTick moving = tickUntil(node, "SWITCHOVER",
                        t -> t.maintenance() == Heartbeat.Maintenance.SWITCHOVER);
                equal("b", moving.switchoverTarget().orElse(null), "target");
                node.setMaintenance(Heartbeat.Maintenance.OFF, "done");
            } finally {
                node.close();
            }
            node.close();
            equal("this Heartbeat is closed",
                    raises(IllegalStateException.class, node::tick).getMessage(), "closed");
            raises(IllegalStateException.class, node::appStopped);
            raises(IllegalStateException.class, () -> node.appFailed("x"));
            raises(IllegalStateException.class, node::release);
            raises(IllegalStateException.class, node::status);
            raises(IllegalStateException.class,
                    () -> node.setMaintenance(Heartbeat.Maintenance.OFF, null));
            raises(IllegalStateException.class, () -> node.switchover("b", null));
            raises(IllegalStateException.class, () -> node.setDrained("b", true));
        } finally {
            delete(dir);
        }
    }

    public static void testActiveNodeReleases() throws Exception {
        Path dir = Files.createTempDirectory("hamon-java-hb");
        try (Heartbeat node = open(dir)) {
            tickUntil(node, "START", t -> t.action() == Heartbeat.Action.START);
            HeartbeatTick release = node.release();
            equal(Heartbeat.Action.STOP, release.action(), "release stops the application");
            HeartbeatTick after = node.appStopped();
            check(after.role() != Heartbeat.Role.ACTIVE, "released: " + after);
        } finally {
            delete(dir);
        }
    }

    private static Heartbeat open(Path dir) throws IOException {
        Properties settings = settings(dir);
        Heartbeat.initCluster(settings);
        return Heartbeat.open(settings);
    }

    public static void testArgumentsAndSettingsAreChecked() throws Exception {
        Path dir = Files.createTempDirectory("hamon-java-hb");
        try {
            raises(NullPointerException.class, () -> Heartbeat.open(null));
            raises(NullPointerException.class, () -> Heartbeat.initCluster(null));
            Properties noDir = settings(dir);
            noDir.remove("hb.dir");
            HamonException missing = raises(HamonException.class, () -> Heartbeat.open(noDir));
            equal(HamonException.CONFIG_MISSING, missing.code(), "missing hb.dir");
            equal("hb.dir is not set", missing.getMessage(), "detail");
            Properties unsafe = settings(dir);
            unsafe.setProperty("hb.takeover_ms", "1000");
            HamonException timing = raises(HamonException.class, () -> Heartbeat.open(unsafe));
            equal(HamonException.HEARTBEAT_TIMING, timing.code(), "timing");
            contains(timing.getMessage(), "takeover 1000 ms", "the numbers");
            Properties nowhere = settings(dir);
            nowhere.setProperty("hb.dir", dir.resolve("missing").toString());
            equal(HamonException.HEARTBEAT_STORAGE,
                    raises(HamonException.class, () -> Heartbeat.initCluster(nowhere)).code(),
                    "no shared directory");
            Properties stateIsAFile = settings(dir);
            Path file = Files.write(dir.resolve("a-file"), "x".getBytes(StandardCharsets.UTF_8));
            stateIsAFile.setProperty("hb.state_dir", file.toString());
            equal(HamonException.HEARTBEAT_STATE,
                    raises(HamonException.class, () -> Heartbeat.open(stateIsAFile)).code(),
                    "unusable state dir");
            try (Heartbeat node = open(dir)) {
                raises(NullPointerException.class, () -> node.switchover(null, "x"));
                raises(NullPointerException.class, () -> node.setMaintenance(null, "x"));
                contains(raises(NullPointerException.class, () -> node.setDrained(null, true))
                        .getMessage(), "node is null", "from the native side");
                raises(IllegalArgumentException.class, () -> node.switchover("zz", null));
                raises(IllegalArgumentException.class, () -> node.setDrained("zz", true));
                raises(IllegalArgumentException.class,
                        () -> node.setMaintenance(Heartbeat.Maintenance.SWITCHOVER, null));
            }
        } finally {
            delete(dir);
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

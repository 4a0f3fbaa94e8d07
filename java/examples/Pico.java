import io.hamon.AdminState;
import io.hamon.CheckOptions;
import io.hamon.CheckResult;
import io.hamon.HaServer;
import io.hamon.HamonException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * pico: a small application that embeds the hamon HA monitor server, the way a
 * cluster-managed service would; the Java twin of c-examples/pico.c.
 *
 * <pre>
 * Usage: java -Dhamon.library.path=/path/to/libhamon.so -jar pico.jar [PROPERTIES_FILE]
 * </pre>
 *
 * Environment:
 * <ul>
 * <li>HA_PORT: port to listen on (default 0: the system picks a free one); applied after
 *     PROPERTIES_FILE, so it wins over the file</li>
 * <li>HA_HOST: address to listen on (default: the library's, 127.0.0.1)</li>
 * <li>PICO_FLAG_FILE: the check "app" reads this file: "down" makes it fail, "degraded" makes
 *     it degraded, anything else (or no file) is UP</li>
 * <li>PICO_READY_DELAY_MS: how long "startup" takes before ready() (default 0)</li>
 * <li>PICO_PID_FILE: where to write the process id (optional)</li>
 * <li>PICO_STOP_DELAY_MS: how long it keeps answering STOPPING after SIGTERM before the server
 *     closes, as an application finishing its work would (default 0; at most 9000, within the
 *     10 s its shutdown hook waits)</li>
 * </ul>
 *
 * On start it prints exactly one line to stdout: {@code pico: listening on port N pid P}.
 * SIGTERM or SIGINT stops it cleanly: it shows STOPPING at once, stops the server, prints
 * {@code pico: stopped} and exits with the JVM's status for the signal (143 for SIGTERM).
 */
public final class Pico {
    /** The main loop runs this often: one heartbeat and one transaction per turn. */
    private static final long LOOP_MS = 100;

    private Pico() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length > 1 || (args.length == 1 && args[0].startsWith("-"))) {
            System.err.println("usage: java -jar pico.jar [PROPERTIES_FILE]");
            System.exit(2);
        }
        long readyDelayMs = envMillis("PICO_READY_DELAY_MS");
        long stopDelayMs = envMillis("PICO_STOP_DELAY_MS");
        if (readyDelayMs < 0 || stopDelayMs < 0) {
            System.err.println(
                    "pico: PICO_READY_DELAY_MS and PICO_STOP_DELAY_MS must be numbers of milliseconds");
            System.exit(2);
        }
        Properties settings = settings(args.length == 1 ? args[0] : null);
        String flagFile = System.getenv("PICO_FLAG_FILE");
        Path flag = flagFile == null || flagFile.isEmpty() ? null : Paths.get(flagFile);
        String pidFile = System.getenv("PICO_PID_FILE");
        Path pid = pidFile == null || pidFile.isEmpty() ? null : Paths.get(pidFile);

        HaServer server;
        try {
            server = HaServer.start(settings);
            CheckOptions options = CheckOptions.builder()
                    .importance(CheckOptions.Importance.CRITICAL)
                    .interval(Duration.ofMillis(200))
                    .timeout(Duration.ofMillis(1000))
                    .rise(1)
                    .fall(1)
                    .build();
            server.addDetailedCheck("app", () -> appCheck(flag), options);
        } catch (HamonException e) {
            fail("start", e);
            return;
        }
        if (pid != null) {
            // The pid file first: whoever reads the port line may look for it at once.
            try {
                Files.write(pid, (ownPid() + "\n").getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                System.err.println("pico: cannot write " + pid + ": " + e.getMessage());
                server.close();
                System.exit(1);
            }
        }
        System.out.println("pico: listening on port " + server.port() + " pid "
                + ownPid());
        System.out.flush();

        // SIGTERM and SIGINT run shutdown hooks: this one tells probes STOPPING at once, ends
        // the main loop and waits for the clean stop below. (hamon itself never installs
        // signal handlers.)
        AtomicBoolean stop = new AtomicBoolean();
        Thread mainThread = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.setAdminState(AdminState.STOPPING, "shutdown");
            } catch (IllegalStateException e) {
                // main already closed the server: nothing left to announce.
            }
            stop.set(true);
            mainThread.interrupt();
            try {
                mainThread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "pico-shutdown"));

        try {
            long started = System.nanoTime();
            boolean ready = false;
            while (!stop.get()) {
                if (!ready && (System.nanoTime() - started) / 1_000_000 >= readyDelayMs) {
                    server.ready();
                    ready = true;
                }
                server.heartbeat();
                server.counterAdd("transactions", 1);
                try {
                    Thread.sleep(LOOP_MS);
                } catch (InterruptedException e) {
                    // The shutdown hook cuts the sleep short; the loop then sees stop.
                }
            }
            // Clients are told why we go away while the work winds down; then close() joins
            // hamon's threads.
            server.setAdminState(AdminState.STOPPING, "shutdown");
            sleepFully(Math.min(stopDelayMs, 9_000));
        } finally {
            server.close();
            if (pid != null) {
                try {
                    Files.deleteIfExists(pid);
                } catch (IOException e) {
                    System.err.println("pico: cannot remove " + pid + ": " + e.getMessage());
                }
            }
        }
        System.out.println("pico: stopped");
        System.out.flush();
    }

    /** Sleeps for `ms` even if interrupted (the shutdown hook interrupts the main thread). */
    private static void sleepFully(long ms) {
        long end = System.nanoTime() + ms * 1_000_000;
        for (long left = ms; left > 0; left = (end - System.nanoTime()) / 1_000_000) {
            try {
                Thread.sleep(left);
            } catch (InterruptedException e) {
                // The hook's interrupt: the delay is still owed.
            }
        }
    }

    /** Settings: ha.port=0 unless given, then the properties file, then the environment. */
    private static Properties settings(String file) {
        Properties settings = new Properties();
        if (file != null) {
            try (Reader in = Files.newBufferedReader(Paths.get(file), StandardCharsets.UTF_8)) {
                settings.load(in);
            } catch (IOException | IllegalArgumentException e) {
                System.err.println("pico: cannot read " + file + ": " + e.getMessage());
                System.exit(1);
            }
        }
        if (settings.getProperty("ha.port") == null && settings.getProperty("mz.ha.port") == null) {
            settings.setProperty("ha.port", "0");
        }
        String port = System.getenv("HA_PORT");
        if (port != null) {
            settings.remove("mz.ha.port");
            settings.setProperty("ha.port", port);
        }
        String host = System.getenv("HA_HOST");
        if (host != null) {
            settings.remove("mz.ha.host");
            settings.setProperty("ha.host", host);
        }
        return settings;
    }

    /**
     * The check "app": runs on a hamon thread every 200 ms. It only reads a small file, so it
     * returns well within its timeout. A failure is thrown, so its message is the reason
     * clients see.
     */
    private static CheckResult appCheck(Path flag) throws Exception {
        if (flag == null) {
            return CheckResult.up();
        }
        String word;
        try {
            String text = new String(Files.readAllBytes(flag), StandardCharsets.UTF_8).trim();
            word = text.split("\\s+", 2)[0];
        } catch (IOException e) {
            return CheckResult.up(); // no flag file: nothing says otherwise
        }
        if (word.equals("down")) {
            throw new Exception("flag file " + flag + " says down");
        }
        return word.equals("degraded")
                ? CheckResult.degraded("flag file " + flag + " says degraded")
                : CheckResult.up();
    }

    /** Reads a non-negative decimal number from the environment; 0 when unset, -1 when bad. */
    private static long envMillis(String name) {
        String text = System.getenv(name);
        if (text == null || text.isEmpty()) {
            return 0;
        }
        try {
            long value = Long.parseLong(text);
            return value < 0 ? -1 : value;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Prints why a hamon call failed, as pico.c does, and exits 1. */
    /** This process's id, which /proc/self names (Java 8 has no ProcessHandle). */
    private static String ownPid() {
        try {
            return Files.readSymbolicLink(Paths.get("/proc/self")).toString();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static void fail(String what, HamonException e) {
        System.err.println("pico: " + what + ": " + e.statusText() + " (" + e.code() + "): "
                + e.getMessage());
        System.exit(1);
    }
}

package io.hamon;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;

/**
 * Loads libhamon, the first of these ways that is set or finds it:
 * <ol>
 * <li>the path in the system property {@value #PROPERTY};
 * <li>the path in the environment variable {@value #ENV};
 * <li>{@code System.loadLibrary("hamon")}, from {@code java.library.path};
 * <li>the copy inside hamon.jar ({@code io/hamon/native/linux-x86_64/libhamon.so}), extracted
 * into a fresh directory of {@code java.io.tmpdir} that only this user can enter, loaded, and
 * deleted at once (the loaded library stays mapped). Each JVM has its own directory, so JVMs
 * never race; directories left by a JVM that died in between are removed by the next start.
 * </ol>
 * An explicit path (1, 2) that fails is an error, never a reason to try the next way, so a
 * wrong setting cannot load another copy of the library unnoticed.
 *
 * <p>{@code System.load} here is the restricted method Java 24 and later warn about unless
 * native access is enabled for this class's module: {@code
 * --enable-native-access=ALL-UNNAMED} on the class path, {@code
 * --enable-native-access=io.hamon} on the module path, or {@code Enable-Native-Access:
 * ALL-UNNAMED} in the manifest of the jar started with {@code java -jar} (see the package
 * documentation).
 */
final class NativeLoader {
    static final String PROPERTY = "hamon.library.path";
    static final String ENV = "HAMON_LIB";
    /** Prefix of the extraction directories: {@code hamon-native-PID-RANDOM}. */
    private static final String TEMP_PREFIX = "hamon-native-";
    private static final Path PROC = Paths.get("/proc");

    private NativeLoader() {}

    static void load() {
        String property = System.getProperty(PROPERTY);
        String env = System.getenv(ENV);
        String tried = "";
        try {
            if (property != null && !property.isEmpty()) {
                tried = "the system property " + PROPERTY + "=" + property;
                System.load(Paths.get(property).toAbsolutePath().toString());
            } else if (env != null && !env.isEmpty()) {
                tried = "the environment variable " + ENV + "=" + env;
                System.load(Paths.get(env).toAbsolutePath().toString());
            } else {
                tried = "System.loadLibrary(\"hamon\") with java.library.path="
                        + System.getProperty("java.library.path");
                try {
                    System.loadLibrary("hamon");
                } catch (UnsatisfiedLinkError notOnPath) {
                    String resource = resource();
                    if (NativeLoader.class.getResource(resource) == null) {
                        tried += ", then " + resource + " in hamon.jar, which has none for this"
                                + " platform";
                        throw notOnPath;
                    }
                    tried += ", then " + resource + " in hamon.jar";
                    loadFromJar(resource);
                }
            }
        } catch (UnsatisfiedLinkError | IOException e) {
            UnsatisfiedLinkError failure = new UnsatisfiedLinkError(
                    "cannot load hamon's native library libhamon.so: tried " + tried + ": "
                            + e.getMessage() + ". Say where it is in one of three ways: the "
                            + "system property " + PROPERTY + "=/path/to/libhamon.so, the "
                            + "environment variable " + ENV + "=/path/to/libhamon.so, or its "
                            + "directory on java.library.path (-Djava.library.path=DIR, for "
                            + "System.loadLibrary(\"hamon\"))");
            failure.initCause(e);
            throw failure;
        }
    }

    /** Where hamon.jar keeps the library for this operating system and architecture. */
    private static String resource() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (arch.equals("amd64") || arch.equals("x86-64")) {
            arch = "x86_64";
        } else if (arch.equals("arm64")) {
            arch = "aarch64";
        }
        return "/io/hamon/native/" + os.replace(' ', '_') + "-" + arch + "/libhamon.so";
    }

    private static void loadFromJar(String resource) throws IOException {
        Path base = Paths.get(System.getProperty("java.io.tmpdir"));
        removeStale(base);
        Path dir = Files.createTempDirectory(base, TEMP_PREFIX + ownPid() + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path file = dir.resolve("libhamon.so");
        try {
            try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IOException(resource + " vanished from hamon.jar");
                }
                Files.copy(in, file);
            }
            System.load(file.toString());
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * Removes the extraction directories of this user's JVMs that are gone (killed between
     * extracting and deleting). Best effort: a directory another user owns, or one whose
     * JVM still runs, is left alone, and any failure here is no reason not to load.
     */
    private static void removeStale(Path base) {
        String me = System.getProperty("user.name");
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(base, TEMP_PREFIX + "*")) {
            for (Path dir : entries) {
                try {
                    String rest = dir.getFileName().toString().substring(TEMP_PREFIX.length());
                    int dash = rest.indexOf('-');
                    if (dash <= 0
                            || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
                            || !Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName().equals(me)) {
                        continue;
                    }
                    long pid = Long.parseLong(rest.substring(0, dash));
                    if (running(pid)) {
                        continue;
                    }
                    Files.deleteIfExists(dir.resolve("libhamon.so"));
                    Files.deleteIfExists(dir);
                } catch (IOException | RuntimeException e) {
                    // not ours to judge; the next start tries again
                }
            }
        } catch (IOException | RuntimeException e) {
            // an unreadable temp directory: extraction itself will say what is wrong
        }
    }

    /**
     * This JVM's process id: the link {@code /proc/self} names it (Java 8 has no {@code
     * ProcessHandle}). Where that cannot be read, "unknown": a directory so named is never
     * taken for a stale one.
     */
    private static String ownPid() {
        try {
            return Long.toString(Long.parseLong(Files.readSymbolicLink(PROC.resolve("self"))
                    .toString()));
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** Whether process {@code pid} runs; true when {@code /proc} cannot tell. */
    private static boolean running(long pid) {
        return !Files.isDirectory(PROC.resolve("self"))
                || Files.exists(PROC.resolve(Long.toString(pid)));
    }
}

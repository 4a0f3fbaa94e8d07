package io.hamon;

import java.nio.file.Path;

/**
 * Loads libhamon: from the path in the system property {@value #PROPERTY}, else from the
 * path in the environment variable {@value #ENV}, else with {@code System.loadLibrary("hamon")}
 * from {@code java.library.path}. An explicit path that fails is an error, never a reason to
 * try the next way, so a wrong setting cannot load another copy of the library unnoticed.
 */
final class NativeLoader {
    static final String PROPERTY = "hamon.library.path";
    static final String ENV = "HAMON_LIB";

    private NativeLoader() {}

    static void load() {
        String property = System.getProperty(PROPERTY);
        String env = System.getenv(ENV);
        String tried = "";
        try {
            if (property != null && !property.isEmpty()) {
                tried = "the system property " + PROPERTY + "=" + property;
                System.load(Path.of(property).toAbsolutePath().toString());
            } else if (env != null && !env.isEmpty()) {
                tried = "the environment variable " + ENV + "=" + env;
                System.load(Path.of(env).toAbsolutePath().toString());
            } else {
                tried = "System.loadLibrary(\"hamon\") with java.library.path="
                        + System.getProperty("java.library.path");
                System.loadLibrary("hamon");
            }
        } catch (UnsatisfiedLinkError e) {
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
}

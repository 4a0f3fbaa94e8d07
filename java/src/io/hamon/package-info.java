/**
 * hamon for the JVM: the embedded HA monitor server ({@link io.hamon.HaServer}), the probe
 * ({@link io.hamon.HaProbe}) and the heartbeat ({@link io.hamon.Heartbeat}) of hamon's native
 * library, through JNI. The jar holds Java 8 class files that use only the Java 8 API: it
 * runs on Java 8 and every later JVM. On the module path it is the automatic module
 * {@code io.hamon}.
 *
 * <h2>The native library</h2>
 *
 * The first use of any class here loads {@code libhamon.so} from the first of: the system
 * property {@code hamon.library.path} (a file), the environment variable {@code HAMON_LIB} (a
 * file), {@code System.loadLibrary("hamon")} from {@code java.library.path}, and the copy
 * inside the jar, which needs no setting at all. An explicit path that is wrong is an error,
 * never skipped; when every way fails, the {@link UnsatisfiedLinkError} names them all.
 *
 * <h2>Java 24 and later: native access</h2>
 *
 * Loading a native library is a restricted operation since Java 24: the JVM prints a warning
 * ({@code WARNING: A restricted method in java.lang.System has been called}) unless native
 * access is enabled for the module that loads it, and a later Java is to refuse it by default. Enable it
 * for hamon on the {@code java} command line:
 * <ul>
 * <li>{@code --enable-native-access=ALL-UNNAMED} when hamon's jar is on the class path;
 * <li>{@code --enable-native-access=io.hamon} when it is on the module path;
 * <li>or, for an application started with {@code java -jar app.jar} and hamon on its class
 * path, the line {@code Enable-Native-Access: ALL-UNNAMED} in {@code app.jar}'s manifest.
 * </ul>
 * Java 17 to 23 accept the option and need none of it; Java 11 and 8 do not know the option and
 * refuse to start with it, so pass it only to Java 24 and later. The manifest line troubles no
 * JVM: those before 24 start with it as without.
 *
 * <h2>Logging</h2>
 *
 * hamon's log records go to the {@code java.util.logging} logger {@code io.hamon}: ERROR as
 * SEVERE, WARNING as WARNING, INFO as INFO, DEBUG as FINE, TRACE as FINER. The levels sent are
 * read from that logger when the library loads.
 */
package io.hamon;

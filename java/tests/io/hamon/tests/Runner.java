package io.hamon.tests;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.Comparator;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A tiny test runner (no JUnit here): runs every {@code public static void test*()} method of
 * each group (class) given, in name order, and prints one line per test and a closing
 * {@code GROUP: N passed, M failed} per group; with several groups, a last line {@code all:
 * N passed, M failed} over them all. Exits 1 when a test failed; returns normally otherwise,
 * so a clean exit also shows that nothing left behind keeps the JVM alive.
 *
 * <p>Several groups share one JVM, and so one load of the library, whose log levels are read
 * from the logger {@code io.hamon} at that load: the first group given decides them. A group
 * may set that logger's level and handlers for itself (in its static initializer, which runs
 * just before its tests); they are put back as they were after the group.
 *
 * <p>Usage: {@code java io.hamon.tests.Runner CLASS...}, each CLASS fully qualified or in this
 * package. The JVM's version comes first: {@code java.version=V}.
 */
public final class Runner {
    /** Held: java.util.logging keeps its loggers only weakly, with their levels. */
    private static final Logger HAMON_LOG = Logger.getLogger("io.hamon");

    private Runner() {}

    public static void main(String[] args) throws ClassNotFoundException {
        if (args.length == 0) {
            System.err.println("usage: Runner CLASS...");
            System.exit(2);
        }
        System.out.println("java.version=" + System.getProperty("java.version"));
        int passed = 0;
        int failed = 0;
        for (String arg : args) {
            Level level = HAMON_LOG.getLevel();
            boolean useParentHandlers = HAMON_LOG.getUseParentHandlers();
            try {
                int[] counts = group(arg.contains(".") ? arg : "io.hamon.tests." + arg);
                passed += counts[0];
                failed += counts[1];
            } finally {
                HAMON_LOG.setLevel(level);
                HAMON_LOG.setUseParentHandlers(useParentHandlers);
            }
        }
        if (args.length > 1) {
            System.out.println(String.format("all: %d passed, %d failed", passed, failed));
        }
        System.out.flush();
        if (failed > 0 || passed == 0) {
            System.exit(1);
        }
    }

    /** Runs one group; returns {passed, failed}. A group without tests is a failure. */
    private static int[] group(String name) throws ClassNotFoundException {
        Class<?> group = Class.forName(name);
        Method[] tests = Arrays.stream(group.getDeclaredMethods())
                .filter(m -> m.getName().startsWith("test"))
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getParameterCount() == 0)
                .sorted(Comparator.comparing(Method::getName))
                .toArray(Method[]::new);
        int passed = 0;
        int failed = 0;
        if (tests.length == 0) {
            failed++;
            System.out.printf("FAIL %s has no test%n", name);
        }
        for (Method test : tests) {
            long start = System.nanoTime();
            try {
                test.setAccessible(true);
                test.invoke(null);
                passed++;
                System.out.printf("ok   %s (%d ms)%n", test.getName(), millisSince(start));
            } catch (InvocationTargetException e) {
                failed++;
                System.out.printf("FAIL %s (%d ms)%n", test.getName(), millisSince(start));
                e.getCause().printStackTrace(System.out);
            } catch (IllegalAccessException e) {
                failed++;
                System.out.printf("FAIL %s: cannot run it: %s%n", test.getName(), e);
            }
        }
        // One write per summary line: printf writes it in pieces, and a native thread's log
        // line on stderr can land between them where both streams meet (Maven's output).
        System.out.println(
                String.format("%s: %d passed, %d failed", group.getSimpleName(), passed, failed));
        return new int[] {passed, failed};
    }

    private static long millisSince(long start) {
        return (System.nanoTime() - start) / 1_000_000;
    }
}

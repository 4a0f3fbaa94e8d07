package io.hamon.tests;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.Comparator;

/**
 * A tiny test runner (no JUnit here): runs every {@code public static void test*()} method of
 * one class, in name order, and prints one line per test and a closing
 * {@code GROUP: N passed, M failed}. Exits 1 when a test failed; returns normally otherwise,
 * so a clean exit also shows that nothing left behind keeps the JVM alive.
 *
 * <p>Usage: {@code java io.hamon.tests.Runner CLASS}, CLASS fully qualified or in this package.
 */
public final class Runner {
    private Runner() {}

    public static void main(String[] args) throws ClassNotFoundException {
        if (args.length != 1) {
            System.err.println("usage: Runner CLASS");
            System.exit(2);
        }
        String name = args[0].contains(".") ? args[0] : "io.hamon.tests." + args[0];
        Class<?> group = Class.forName(name);
        Method[] tests = Arrays.stream(group.getDeclaredMethods())
                .filter(m -> m.getName().startsWith("test"))
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getParameterCount() == 0)
                .sorted(Comparator.comparing(Method::getName))
                .toArray(Method[]::new);
        int passed = 0;
        int failed = 0;
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
        System.out.printf("%s: %d passed, %d failed%n", group.getSimpleName(), passed, failed);
        System.out.flush();
        if (failed > 0 || passed == 0) {
            System.exit(1);
        }
    }

    private static long millisSince(long start) {
        return (System.nanoTime() - start) / 1_000_000;
    }
}

package io.hamon.tests;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Loads the library by starting a server, then prints "loaded FILE", FILE being the
 * libhamon this JVM mapped (from /proc/self/maps; an extracted copy shows as deleted);
 * on failure prints the error and exits 3.
 */
public final class WhichLibrary {
    private WhichLibrary() {}

    public static void main(String[] args) throws Exception {
        try {
            Servers.start().close();
        } catch (UnsatisfiedLinkError e) {
            System.out.println("not loaded: " + e.getMessage());
            System.exit(3);
        }
        String mapped = Files.readAllLines(Paths.get("/proc/self/maps")).stream()
                .filter(l -> l.contains("libhamon"))
                .map(l -> l.substring(l.indexOf('/')))
                .findFirst()
                .orElse("(no libhamon mapped)");
        System.out.println("loaded " + mapped);
    }
}

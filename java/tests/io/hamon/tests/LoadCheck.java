package io.hamon.tests;

import io.hamon.HaServer;

/** Loads the library by starting a server: prints "loaded", or the error and exits 3. */
public final class LoadCheck {
    private LoadCheck() {}

    public static void main(String[] args) {
        try {
            Servers.start().close();
            System.out.println("loaded");
        } catch (UnsatisfiedLinkError e) {
            System.out.println("not loaded: " + e.getMessage());
            System.exit(3);
        }
    }
}

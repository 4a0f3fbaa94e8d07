package io.hamon.tests;

import io.hamon.HaServer;
import java.util.Properties;

/** Servers for the tests: on a free port of 127.0.0.1 unless the settings say otherwise. */
public final class Servers {
    private Servers() {}

    /** Settings from {@code key, value, key, value, ...}, with ha.port=0 first. */
    public static Properties settings(String... keyValues) {
        Properties p = new Properties();
        p.setProperty("ha.port", "0");
        for (int i = 0; i + 1 < keyValues.length; i += 2) {
            p.setProperty(keyValues[i], keyValues[i + 1]);
        }
        return p;
    }

    public static HaServer start(String... keyValues) {
        return HaServer.start(settings(keyValues));
    }
}

package io.hamon;

import java.util.Objects;
import java.util.Properties;
import java.util.Set;

/**
 * Settings on their way to the native side: the string entries of a {@link Properties} as
 * parallel arrays, and a name for them in error messages. The native side applies them like a
 * properties file.
 */
final class Settings {
    final String[] keys;
    final String[] values;
    final String origin;

    private Settings(String[] keys, String[] values, String origin) {
        this.keys = keys;
        this.values = values;
        this.origin = origin;
    }

    /** Every string entry of {@code props}, defaults included. */
    static Settings of(Properties props, String origin) {
        Objects.requireNonNull(props, "settings");
        return select(props, props.stringPropertyNames(), origin, "");
    }

    /** The system properties whose names start with one of {@code prefixes}. */
    static Settings systemProperties(String... prefixes) {
        Properties system = System.getProperties();
        return select(system, system.stringPropertyNames(), "system properties", prefixes);
    }

    private static Settings select(
            Properties props, Set<String> names, String origin, String... prefixes) {
        String[] selected = names.stream()
                .filter(name -> hasPrefix(name, prefixes))
                .toArray(String[]::new);
        String[] values = new String[selected.length];
        for (int i = 0; i < selected.length; i++) {
            values[i] = props.getProperty(selected[i]);
        }
        return new Settings(selected, values, origin);
    }

    private static boolean hasPrefix(String name, String[] prefixes) {
        for (String prefix : prefixes) {
            if (name.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }
}

package io.hamon;

/** Enumerations from the native side, which sends their numbers in hamon's C API. */
final class Codes {
    private Codes() {}

    /** The constant whose ordinal is {@code code}: the Java enums follow the C numbering. */
    static <E extends Enum<E>> E of(E[] values, int code) {
        if (code < 0 || code >= values.length) {
            throw new IllegalStateException(
                    "hamon's native library sent " + code + " for "
                            + values.getClass().getComponentType().getSimpleName()
                            + ": does libhamon match hamon.jar?");
        }
        return values[code];
    }
}

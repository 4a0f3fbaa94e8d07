package io.hamon;

/**
 * A hamon operation failed. {@link #code()} is the status code of hamon's C API (the
 * {@code HA_ERR_*} and {@code HB_ERR_*} numbers, which are never reused), {@link
 * #statusText()} its fixed description, and {@link #getMessage()} the detail, such as
 * {@code "Properties: ha.prot: unknown key (did you mean ha.port?)"}.
 *
 * <p>Null and invalid arguments and calls on closed objects are reported with Java's own
 * exceptions instead ({@link NullPointerException} for {@link #NULL_ARG}, {@link
 * IllegalArgumentException} for {@link #INVALID_ARG}, {@link #INVALID_UTF8} and {@link
 * #INVALID_NAME}, {@link IllegalStateException} after close).
 */
public final class HamonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** A required argument was null (thrown as {@link NullPointerException}). */
    public static final int NULL_ARG = 1001;
    /** An argument was out of range (thrown as {@link IllegalArgumentException}). */
    public static final int INVALID_ARG = 1002;
    /** A string argument was not valid text (thrown as {@link IllegalArgumentException}). */
    public static final int INVALID_UTF8 = 1003;
    /** hamon hit an internal error; the call had no effect that can be relied on. */
    public static final int PANIC = 1004;
    /** A key in the {@code ha.} or {@code mz.ha.} namespace that hamon does not know. */
    public static final int CONFIG_UNKNOWN_KEY = 2001;
    /** A value that does not fit its key. */
    public static final int CONFIG_BAD_VALUE = 2002;
    /** A properties line that cannot be parsed. */
    public static final int CONFIG_SYNTAX = 2003;
    /** The configuration file cannot be read. */
    public static final int CONFIG_FILE = 2004;
    /** A required setting is missing, or settings contradict each other. */
    public static final int CONFIG_MISSING = 2005;
    /** {@code ha.enabled=false}: the server was not started. Not a failure of the application. */
    public static final int DISABLED = 3001;
    /** The address cannot be bound (in use, not local, not resolvable). */
    public static final int BIND = 3002;
    /** A thread or the event loop could not be created. */
    public static final int THREAD = 3003;
    /** The HA log ({@code ha.log_file}) cannot be opened. */
    public static final int LOG_FILE = 3004;
    /** A check with that name is already registered. */
    public static final int DUPLICATE_CHECK = 3005;
    /** A check or counter name outside {@code [A-Za-z0-9_.-]{1,64}} (thrown as {@link
     * IllegalArgumentException}). */
    public static final int INVALID_NAME = 3006;
    /** The server already runs the most checks it allows (64). */
    public static final int TOO_MANY_CHECKS = 3007;
    /** The server already keeps the most counters it allows (256). */
    public static final int TOO_MANY_COUNTERS = 3008;
    /** Another logger is installed in the process (C API only). */
    public static final int LOG_IN_USE = 3009;
    /** The host name does not resolve. */
    public static final int PROBE_RESOLVE = 4001;
    /** Nothing listens on the port. */
    public static final int PROBE_REFUSED = 4002;
    /** No complete reply within the deadline. */
    public static final int PROBE_TIMEOUT = 4003;
    /** The reply is not a valid state line. */
    public static final int PROBE_BAD_REPLY = 4004;
    /** The connection failed after it was made. */
    public static final int PROBE_IO = 4005;
    /** The server is at its connection cap and answered {@code BUSY}. */
    public static final int PROBE_BUSY = 4006;
    /** The server has no check of the requested name. */
    public static final int PROBE_UNKNOWN_CHECK = 4007;
    /** The {@code hb.*} timing could allow two active nodes, or a claim could never end. */
    public static final int HEARTBEAT_TIMING = 5001;
    /** The local state directory ({@code hb.state_dir}) or its epoch file cannot be used. */
    public static final int HEARTBEAT_STATE = 5002;
    /**
     * The heartbeat's shared storage cannot be used in time: the directory ({@code hb.dir}) or a
     * record in it, or the etcd cluster ({@code hb.etcd.endpoints}).
     */
    public static final int HEARTBEAT_STORAGE = 5003;

    /** The status code of hamon's C API ({@code HA_ERR_*}, {@code HB_ERR_*}). */
    private final int code;
    /** The C API's text for {@link #code}, as {@code ha_status_str} gives it. */
    private final String statusText;

    /**
     * Made by the native side.
     *
     * @param code the status code
     * @param statusText the code's description
     * @param detail what exactly went wrong
     */
    HamonException(int code, String statusText, String detail) {
        super(detail);
        this.code = code;
        this.statusText = statusText;
    }

    /**
     * The status code of hamon's C API, one of the constants of this class.
     *
     * @return the code
     */
    public int code() {
        return code;
    }

    /**
     * The fixed description of {@link #code()}, as {@code ha_status_str} gives it in C.
     *
     * @return the description
     */
    public String statusText() {
        return statusText;
    }

    @Override
    public String toString() {
        return getClass().getName() + " [" + code + " " + statusText + "]: " + getMessage();
    }
}

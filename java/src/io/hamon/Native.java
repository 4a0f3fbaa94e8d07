package io.hamon;

/**
 * Every native method of hamon's JNI wrapper (implemented in the library's src/jni). Loading
 * this class loads the library (see {@link NativeLoader}).
 *
 * <p>Handles are the addresses of native objects as {@code long}; 0 stands for a closed
 * object and makes the native side throw {@link IllegalStateException}. Enumerations travel
 * as the numbers of hamon's C API, which are the ordinals of the Java enums. Options left
 * unset travel as -1.
 */
final class Native {
    static {
        NativeLoader.load();
        NativeLog.install();
    }

    private Native() {}

    // ---- HaServer ----------------------------------------------------------------------

    static native long serverStart(String[] keys, String[] values, String origin);

    static native int serverPort(long handle);

    static native void serverAddCheck(
            long handle,
            String name,
            DetailedHealthCheck check,
            long intervalMs,
            long timeoutMs,
            int rise,
            int fall,
            int importance,
            long latencyWarnMs,
            long latencyCritMs);

    static native void serverReady(long handle);

    static native void serverHeartbeat(long handle);

    static native void serverSetState(long handle, int state, String reason);

    static native void serverSetAdmin(long handle, int admin, String reason);

    static native void serverCounterAdd(long handle, String name, long n);

    static native int serverState(long handle);

    static native void serverStop(long handle);

    // ---- HaProbe -----------------------------------------------------------------------

    static native ProbeResult probe(String host, int port, long timeoutMs, String checkName);

    // ---- Heartbeat ---------------------------------------------------------------------

    static native void hbInit(String[] keys, String[] values, String origin);

    static native long hbOpen(String[] keys, String[] values, String origin);

    static native HeartbeatTick hbTick(long handle);

    static native HeartbeatTick hbAppStopped(long handle);

    static native HeartbeatTick hbAppFailed(long handle, String reason);

    static native HeartbeatTick hbRelease(long handle);

    static native void hbSetMaintenance(long handle, int mode, String target, String reason);

    static native void hbSetDrain(long handle, String node, boolean drained);

    static native Object[] hbStatus(long handle);

    static native void hbClose(long handle);

    // ---- the library -------------------------------------------------------------------

    /** The text hamon's C API gives for a status code ({@code ha_status_str}). */
    static native String statusText(int status);

    /** Sends hamon's log records up to {@code maxLevel} to {@link NativeLog#publish}. */
    static native boolean logToJava(int maxLevel);

    /** Panics inside the native entry wrapper; the tests show it becomes an exception. */
    static native void panicForTest();
}

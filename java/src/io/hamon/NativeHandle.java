package io.hamon;

import java.lang.ref.Cleaner;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;
import java.util.function.LongFunction;
import java.util.function.LongToIntFunction;

/**
 * The native handle of a public object, shared with the {@link Cleaner} action that frees it
 * when the object was never closed.
 *
 * <p>Calls hold the read lock (the write lock when the native object takes one caller at a
 * time); freeing takes the write lock and sets the handle to 0. So the native object is never
 * freed while a call uses it, whoever frees it: {@code close()} on any thread, or the Cleaner
 * when the owner became unreachable during a call. After freeing, calls pass 0, which the
 * native side answers with {@link IllegalStateException}.
 */
final class NativeHandle {
    private static final Cleaner CLEANER = Cleaner.create();

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final boolean exclusive;
    private final LongConsumer free;
    private long handle;
    private final Cleaner.Cleanable cleanable;

    /**
     * @param owner the public object; when it becomes unreachable, the handle is freed
     * @param handle the native handle, never 0
     * @param exclusive whether calls must not overlap
     * @param free frees the handle
     */
    NativeHandle(Object owner, long handle, boolean exclusive, LongConsumer free) {
        this.handle = handle;
        this.exclusive = exclusive;
        this.free = free;
        // The action must not refer to the owner, or the owner never becomes unreachable.
        this.cleanable = CLEANER.register(owner, new Release(this));
    }

    private Lock callLock() {
        return exclusive ? lock.writeLock() : lock.readLock();
    }

    <T> T call(LongFunction<T> body) {
        Lock held = callLock();
        held.lock();
        try {
            return body.apply(handle);
        } finally {
            held.unlock();
        }
    }

    int callInt(LongToIntFunction body) {
        Lock held = callLock();
        held.lock();
        try {
            return body.applyAsInt(handle);
        } finally {
            held.unlock();
        }
    }

    void run(LongConsumer body) {
        Lock held = callLock();
        held.lock();
        try {
            body.accept(handle);
        } finally {
            held.unlock();
        }
    }

    /** Frees the native object once; later calls do nothing. */
    void close() {
        cleanable.clean();
    }

    private void free() {
        lock.writeLock().lock();
        try {
            if (handle != 0) {
                long freed = handle;
                handle = 0;
                free.accept(freed);
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private static final class Release implements Runnable {
        private final NativeHandle handle;

        Release(NativeHandle handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            handle.free();
        }
    }
}

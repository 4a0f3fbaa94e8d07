package io.hamon;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;
import java.util.function.LongFunction;
import java.util.function.LongToIntFunction;

/**
 * The native handle of a public object, shared with the {@link Reaper} action that frees it
 * when the object was never closed.
 *
 * <p>Calls hold the read lock (the write lock when the native object takes one caller at a
 * time). Freeing takes the write lock only to set the handle to 0, then frees the native
 * object outside the lock: calls in progress have ended, later calls pass 0 (which the native
 * side answers with {@link IllegalStateException}), and a call made while the native object
 * stops (from one of its callbacks) fails at once instead of waiting for the stop, which
 * would wait for that callback. So the native object is never freed while a call uses it,
 * whoever frees it: {@code close()} on any thread, or the {@link Reaper} when the owner became
 * unreachable during a call.
 */
final class NativeHandle {
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final boolean exclusive;
    private final LongConsumer free;
    private long handle;
    private final Reaper.Cleanable cleanable;
    /** Opens once the native object is freed. */
    private final CountDownLatch freed = new CountDownLatch(1);

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
        this.cleanable = Reaper.register(owner, new Release(this));
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

    /** Frees the native object once and returns when it is freed, whoever frees it. */
    void close() {
        close(true);
    }

    /**
     * Frees the native object once.
     *
     * @param wait whether to return only once it is freed, also when another thread frees it
     * @throws IllegalStateException when this thread is inside a call on the object
     */
    void close(boolean wait) {
        if (lock.getReadHoldCount() > 0 || lock.isWriteLockedByCurrentThread()) {
            // A log handler, say, called during a call on this object: freeing would pull the
            // native object from under that call, and waiting for it would wait forever.
            throw new IllegalStateException(
                    "close() was called during another call on the same object on this thread");
        }
        cleanable.clean();
        if (wait) {
            awaitFreed();
        }
    }

    private void awaitFreed() {
        boolean interrupted = false;
        while (true) {
            try {
                freed.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void free() {
        long freeing;
        lock.writeLock().lock();
        try {
            freeing = handle;
            handle = 0;
        } finally {
            lock.writeLock().unlock();
        }
        try {
            if (freeing != 0) {
                free.accept(freeing);
            }
        } finally {
            freed.countDown();
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

package io.hamon;

import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.util.Collections;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs an action once after an object has become unreachable, on one daemon thread: what
 * {@code java.lang.ref.Cleaner} of Java 9 does, built as it is built (a {@link
 * PhantomReference} per object and a thread that waits on their {@link ReferenceQueue}), so
 * that hamon runs on Java 8. {@link NativeHandle} uses it to free the native object of a
 * server or node its owner forgot to close.
 *
 * <p>The thread, {@code io.hamon-reaper}, starts with the first registration and is a daemon,
 * so it never keeps the JVM from exiting. It has no context class loader, so it pins no
 * application's class loader beyond the one that loaded hamon. An action that throws does not
 * stop the thread; an interrupt does not either.
 */
final class Reaper {
    private static final ReferenceQueue<Object> QUEUE = new ReferenceQueue<>();
    /**
     * Every registered reference not yet cleaned. A {@link PhantomReference} that is itself
     * unreachable is never enqueued, so each one is held here until its action ran.
     */
    private static final Set<Cleanable> PENDING =
            Collections.newSetFromMap(new ConcurrentHashMap<Cleanable, Boolean>());

    static {
        Thread thread = new Thread(Reaper::serve, "io.hamon-reaper");
        thread.setDaemon(true);
        thread.setContextClassLoader(null);
        thread.start();
    }

    private Reaper() {}

    /**
     * Runs {@code action} once {@code owner} is unreachable, unless {@link Cleanable#clean()}
     * ran it before. The action must not refer to the owner, or the owner never becomes
     * unreachable.
     */
    static Cleanable register(Object owner, Runnable action) {
        Cleanable cleanable = new Cleanable(owner, action);
        PENDING.add(cleanable);
        return cleanable;
    }

    /** The registration of one object: its action runs at most once, whoever asks first. */
    static final class Cleanable extends PhantomReference<Object> {
        private final Runnable action;

        private Cleanable(Object owner, Runnable action) {
            super(owner, QUEUE);
            this.action = action;
        }

        /** Runs the action now, on this thread, unless it ran already. */
        void clean() {
            if (PENDING.remove(this)) {
                clear();
                action.run();
            }
        }
    }

    private static void serve() {
        while (true) {
            try {
                ((Cleanable) QUEUE.remove()).clean();
            } catch (InterruptedException e) {
                // Nobody has a reason to stop this thread: objects still wait to be freed.
            } catch (Throwable e) {
                // One failed action must not leave every later forgotten object unfreed.
            }
        }
    }
}

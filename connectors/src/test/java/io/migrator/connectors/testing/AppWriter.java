package io.migrator.connectors.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The application in the cutover tests: one {@code INSERT INTO orders (note)} every 5 ms through the proxy with its own
 * login, each acknowledged note recorded with the time; after an error (the write in flight not acknowledged) it
 * retries on a new session, as a pooled application would.
 */
public final class AppWriter {
    public final AckLog log = new AckLog();
    public final ConcurrentMap<String, Long> acknowledged = log.acknowledged;
    public final AtomicLong errors = new AtomicLong();
    public final AtomicReference<String> lastError = new AtomicReference<>();
    /** The writer's own bug, not a refused write. */
    public final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final String url;
    private final String user;
    private final String password;
    private Thread thread;

    /** {@code url} carries the driver's timeouts. */
    public AppWriter(String url, String user, String password) {
        this.url = url;
        this.user = user;
        this.password = password;
    }

    public void start() {
        thread = new Thread(this::write, "app-writer");
        thread.start();
    }

    public void stop() throws InterruptedException {
        stop.set(true);
        if (thread != null) {
            thread.join(30_000);
        }
    }

    private void write() {
        long seq = 0;
        while (!stop.get()) {
            try (Connection c = DriverManager.getConnection(url, user, password);
                 PreparedStatement ps = c.prepareStatement("INSERT INTO orders (note) VALUES (?)")) {
                while (!stop.get()) {
                    String note = "w-" + seq++;
                    ps.setString(1, note);
                    ps.executeUpdate();
                    log.acknowledged(note);
                    Thread.sleep(5);
                }
            } catch (SQLException e) {
                errors.incrementAndGet();
                lastError.set(e.getMessage());
                sleepQuietly(20);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                failure.set(e);
                return;
            }
        }
    }

    /** The notes acknowledged after {@code nanoTime}. */
    public List<String> acknowledgedAfter(long nanoTime) {
        return log.after(nanoTime);
    }

    /** The longest time between two acknowledged writes around [from, to] (nanoTime). */
    public long longestGapMillis(long from, long to) {
        return log.longestGapMillis(from, to);
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

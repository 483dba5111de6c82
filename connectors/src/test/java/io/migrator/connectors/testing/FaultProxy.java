package io.migrator.connectors.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy between the worker and a server that the tests break on purpose: {@link #cut} resets every connection and
 * refuses new ones (a server down, a failover), {@link #stall} makes every open connection half-open for good — it stays
 * open and nothing ever passes on it again, no error either, as when a peer vanished without a reset — and holds new ones
 * until {@link #restore}; {@link #slow} delays every chunk; {@link #restore} lets new connections through again.
 */
public final class FaultProxy implements AutoCloseable {
    public enum Mode { PASS, CUT, STALL, SLOW }

    private final String host;
    private final int port;
    private final ServerSocket server;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    /** Connections made half-open by a stall: nothing passes on them again, whatever the mode. */
    private final java.util.Set<Socket> frozen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.Set<Socket> upstreams = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final AtomicLong accepted = new AtomicLong();
    private volatile Mode mode = Mode.PASS;
    private volatile boolean closed;

    public FaultProxy(String host, int port) throws IOException {
        this.host = host;
        this.port = port;
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread acceptor = new Thread(this::accept, "fault-proxy-" + port);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** The port the proxy listens on (127.0.0.1). */
    public int port() {
        return server.getLocalPort();
    }

    /** Connections accepted so far (a reconnect shows as one more). */
    public long accepted() {
        return accepted.get();
    }

    /** Every connection reset now, and new ones refused until {@link #restore}. */
    public void cut() {
        mode = Mode.CUT;
        for (Socket s : open) {
            reset(s);
        }
    }

    /** Every open connection half-open for good (open, silent); new ones held until {@link #restore}. */
    public void stall() {
        mode = Mode.STALL;
        frozen.addAll(open);
    }

    /** Every chunk waits 200 ms each way until {@link #restore}. */
    public void slow() {
        mode = Mode.SLOW;
    }

    /**
     * New connections pass again. The server's ends of connections a stall made half-open are closed (the server notices a
     * dead peer by its own timeouts: a walsender's wal_sender_timeout, TCP keepalive), their client ends stay silent.
     */
    public void restore() {
        mode = Mode.PASS;
        for (Socket s : frozen) {
            if (upstreams.contains(s)) {
                reset(s);
            }
        }
    }

    private void accept() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            if (mode == Mode.CUT) {
                reset(client);
                continue;
            }
            accepted.incrementAndGet();
            Thread t = new Thread(() -> connect(client), "fault-proxy-conn");
            t.setDaemon(true);
            t.start();
        }
    }

    private void connect(Socket client) {
        Socket upstream;
        try {
            while (mode == Mode.STALL && !closed) {
                Thread.sleep(10); // a stalled network: the connection is not even made upstream yet
            }
            if (mode == Mode.CUT) {
                reset(client);
                return;
            }
            upstream = new Socket(host, port);
        } catch (IOException | InterruptedException e) {
            reset(client);
            return;
        }
        open.add(client);
        open.add(upstream);
        upstreams.add(upstream);
        pump(client, upstream);
        pump(upstream, client);
    }

    private void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[64 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                while (true) {
                    while ((mode == Mode.STALL || frozen.contains(from)) && !closed) {
                        Thread.sleep(10); // read nothing, write nothing: the peers wait forever
                    }
                    int n = in.read(buffer);
                    if (n < 0) {
                        break;
                    }
                    while ((mode == Mode.STALL || frozen.contains(from)) && !closed) {
                        Thread.sleep(10);
                    }
                    if (mode == Mode.CUT) {
                        break;
                    }
                    if (mode == Mode.SLOW) {
                        Thread.sleep(200);
                    }
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException | InterruptedException e) {
                // one side went away: the other goes too
            } finally {
                reset(from);
                reset(to);
                open.remove(from);
                open.remove(to);
            }
        }, "fault-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    /** Closes with a reset (SO_LINGER 0): the peer sees the connection fail at once, as when a server goes down. */
    private static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
        } catch (IOException ignored) {
            // already closed
        }
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (Socket s : open) {
            reset(s);
        }
    }
}

package io.migrator.connectors.redis;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A lean RESP2 connection for the applier's pipelines: argument vectors are written straight into a 64 KB buffer and
 * replies are read as plain values (status and bulk replies as bytes, integers as Long, arrays as lists, nil as null,
 * errors as {@link JedisDataException} values, not thrown). It carries the full sync and the stream, millions of commands
 * a minute, without a client library's per-argument objects. A broken socket throws {@link JedisConnectionException}.
 */
final class RespConnection implements AutoCloseable {
    private static final byte[] OK = "OK".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] QUEUED = "QUEUED".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CRLF = {'\r', '\n'};

    private final String address;
    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;
    private final byte[] digits = new byte[20];

    RespConnection(String host, int port, String user, String password, int timeoutMillis) {
        this(host, port, user, password, timeoutMillis, null);
    }

    /** @param tls the endpoint's TLS settings (null or disable: plain text); with verify-full the host is checked */
    RespConnection(String host, int port, String user, String password, int timeoutMillis, io.migrator.core.plan.Tls tls) {
        this.address = host + ":" + port;
        try {
            Socket plain = new Socket();
            plain.setTcpNoDelay(true);
            plain.setKeepAlive(true);
            plain.setSoTimeout(timeoutMillis);
            plain.connect(new InetSocketAddress(host, port), timeoutMillis);
            if (tls != null && tls.mode() != io.migrator.core.plan.Tls.Mode.DISABLE) {
                try {
                    plain = io.migrator.core.tls.TlsMaterial.of(tls).wrap(plain, host, port);
                } catch (IOException e) {
                    plain.close();
                    if (io.migrator.core.tls.TlsErrors.isTlsRefusal(e)) { // not an outage: every reconnect meets the same certificate
                        throw new io.migrator.core.error.MigratorException(io.migrator.core.error.ErrorCode.CANNOT_CONNECT,
                                address + " failed the TLS check (" + tls.mode().id() + "): " + e.getMessage(),
                                "check the plan's tls settings for this server (docs/plan.md, TLS); `migrator plan check` names the key", e);
                    }
                    throw e;
                }
            }
            socket = plain;
            out = new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
            in = new BufferedInputStream(socket.getInputStream(), 1 << 16);
        } catch (IOException e) {
            throw new JedisConnectionException("cannot reach " + address + ": " + e.getMessage(), e);
        }
        if (password != null && !password.isEmpty()) {
            send(user == null || user.isEmpty() ? RedisTargetNodes.argv("AUTH", password) : RedisTargetNodes.argv("AUTH", user, password));
            if (getOne() instanceof JedisDataException e) {
                close();
                throw new JedisConnectionException(address + " refused the login: " + e.getMessage());
            }
        }
        execute(RedisTargetNodes.argv("CLIENT", "SETNAME", "migrator")); // CLIENT LIST shows whose connection this is; refusals are harmless
    }

    /** Queues a command (sent with the next read). */
    void send(byte[][] argv) {
        try {
            out.write('*');
            writeNumber(argv.length);
            for (byte[] arg : argv) {
                out.write('$');
                writeNumber(arg.length);
                out.write(arg);
                out.write(CRLF);
            }
        } catch (IOException e) {
            throw broken(e);
        }
    }

    /** Sends what is queued without waiting for replies. */
    void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            throw broken(e);
        }
    }

    /** Sends what is queued and reads one reply. */
    Object getOne() {
        return getMany(1).get(0);
    }

    /** Sends what is queued and reads {@code n} replies. */
    List<Object> getMany(int n) {
        try {
            out.flush();
            List<Object> replies = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                replies.add(read());
            }
            return replies;
        } catch (IOException e) {
            throw broken(e);
        }
    }

    /** Sends a command and reads its reply. */
    Object execute(byte[][] argv) {
        send(argv);
        return getOne();
    }

    private void writeNumber(int value) throws IOException {
        int at = digits.length;
        int v = value;
        do {
            digits[--at] = (byte) ('0' + v % 10);
            v /= 10;
        } while (v > 0);
        out.write(digits, at, digits.length - at);
        out.write(CRLF);
    }

    private Object read() throws IOException {
        int type = in.read();
        switch (type) {
            case '+' -> {
                byte[] line = line();
                return Arrays.equals(line, OK) ? OK : Arrays.equals(line, QUEUED) ? QUEUED : line;
            }
            case '-' -> {
                return new JedisDataException(new String(line(), StandardCharsets.UTF_8));
            }
            case ':' -> {
                return number();
            }
            case '$' -> {
                long length = number();
                if (length < 0) {
                    return null;
                }
                byte[] bulk = in.readNBytes((int) length);
                if (bulk.length < length) {
                    throw new IOException("the connection closed in the middle of a reply");
                }
                crlf();
                return bulk;
            }
            case '*' -> {
                long count = number();
                if (count < 0) {
                    return null;
                }
                List<Object> items = new ArrayList<>((int) Math.min(count, 1 << 16));
                for (long i = 0; i < count; i++) {
                    items.add(read());
                }
                return items;
            }
            case -1 -> throw new IOException("the server closed the connection");
            default -> throw new IOException("not a RESP reply (byte " + type + ")");
        }
    }

    private long number() throws IOException {
        long value = 0;
        boolean negative = false;
        int c = in.read();
        if (c == '-') {
            negative = true;
            c = in.read();
        }
        while (c != '\r') {
            if (c < '0' || c > '9') {
                throw new IOException("not a RESP number (byte " + c + ")");
            }
            value = value * 10 + (c - '0');
            c = in.read();
        }
        if (in.read() != '\n') {
            throw new IOException("a RESP line without LF");
        }
        return negative ? -value : value;
    }

    private byte[] line() throws IOException {
        java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream(16);
        int c;
        while ((c = in.read()) != '\r') {
            if (c < 0) {
                throw new IOException("the server closed the connection");
            }
            line.write(c);
        }
        in.read(); // '\n'
        return line.toByteArray();
    }

    private void crlf() throws IOException {
        if (in.read() != '\r' || in.read() != '\n') {
            throw new IOException("a RESP bulk reply without CRLF");
        }
    }

    private JedisConnectionException broken(IOException e) {
        close();
        return new JedisConnectionException("lost the connection to " + address + ": " + e.getMessage(), e);
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}

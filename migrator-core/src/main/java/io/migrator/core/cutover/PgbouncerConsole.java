package io.migrator.core.cutover;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * pgbouncer's admin console (the database {@code pgbouncer}) spoken to in the PostgreSQL wire protocol itself: the
 * console refuses startup parameters every JDBC driver sends, and the cutover must not need psql on the worker's host.
 * Simple queries only; password, MD5 and SCRAM-SHA-256 authentication. One console session per instance, not thread-safe.
 */
final class PgbouncerConsole implements AutoCloseable {
    private static final Duration CONNECT = Duration.ofSeconds(2);

    private final String admin;
    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;

    /** One row of a result: column name to text (null for SQL NULL), in the console's column order. */
    record Row(Map<String, String> values) {
        String get(String column) {
            return values.get(column);
        }
    }

    private PgbouncerConsole(String admin, Socket socket) throws IOException {
        this.admin = admin;
        this.socket = socket;
        this.in = new DataInputStream(new java.io.BufferedInputStream(socket.getInputStream()));
        this.out = new DataOutputStream(new java.io.BufferedOutputStream(socket.getOutputStream()));
    }

    /** Connects and logs in to the console at {@code admin} (host:port); a failure is a precondition of the cutover. */
    static PgbouncerConsole open(String admin, String user, String password) {
        int colon = admin.lastIndexOf(':');
        Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(admin.substring(0, colon), Integer.parseInt(admin.substring(colon + 1))), (int) CONNECT.toMillis());
            socket.setSoTimeout(5_000);
            PgbouncerConsole console = new PgbouncerConsole(admin, socket);
            console.login(user, password == null ? "" : password);
            return console;
        } catch (IOException e) {
            closeQuietly(socket);
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer's admin console at " + admin + " does not answer ("
                    + e.getMessage() + ")", "check the switch step's admin address: where pgbouncer listens (listen_addr, listen_port)", e);
        } catch (MigratorException e) {
            closeQuietly(socket);
            throw e;
        } catch (RuntimeException e) { // a malformed answer (not pgbouncer), a bad port
            closeQuietly(socket);
            throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer's admin console at " + admin + " did not answer as pgbouncer ("
                    + e + ")", "check the switch step's admin address", e);
        }
    }

    private void login(String user, String password) throws IOException {
        ByteArrayOutputStream params = new ByteArrayOutputStream();
        for (String s : new String[] {"user", user, "database", "pgbouncer", "application_name", "migrator"}) {
            params.write(s.getBytes(StandardCharsets.UTF_8));
            params.write(0);
        }
        params.write(0);
        out.writeInt(8 + params.size());
        out.writeInt(196608); // protocol 3.0
        params.writeTo(out);
        out.flush();
        Scram scram = null;
        while (true) {
            int type = in.readUnsignedByte();
            byte[] body = body();
            switch (type) {
                case 'R' -> {
                    int code = java.nio.ByteBuffer.wrap(body, 0, 4).getInt();
                    switch (code) {
                        case 0 -> { }
                        // a password in clear text would go to whatever listens at the address: never sent
                        case 3 -> throw refused("asks for the password in clear text (auth_type plain)");
                        case 5 -> send('p', cstring("md5" + md5Hex(md5Hex(password + user).getBytes(StandardCharsets.US_ASCII), body)));
                        case 10 -> {
                            if (!new String(body, 4, body.length - 4, StandardCharsets.UTF_8).contains("SCRAM-SHA-256")) {
                                throw refused("offers no SASL mechanism migrator speaks (SCRAM-SHA-256)");
                            }
                            scram = new Scram(password);
                            byte[] first = scram.clientFirst().getBytes(StandardCharsets.UTF_8);
                            ByteArrayOutputStream m = new ByteArrayOutputStream();
                            m.write(cstring("SCRAM-SHA-256"));
                            m.write(java.nio.ByteBuffer.allocate(4).putInt(first.length).array());
                            m.write(first);
                            send('p', m.toByteArray());
                        }
                        case 11 -> send('p', requireScram(scram).clientFinal(new String(body, 4, body.length - 4, StandardCharsets.UTF_8))
                                .getBytes(StandardCharsets.UTF_8));
                        case 12 -> requireScram(scram).verifyServer(new String(body, 4, body.length - 4, StandardCharsets.UTF_8));
                        default -> throw refused("asks for an authentication method migrator does not speak (" + code + ")");
                    }
                }
                case 'E' -> throw refused(errorText(body));
                case 'Z' -> {
                    return;
                }
                default -> { } // ParameterStatus, BackendKeyData, notices
            }
        }
    }

    private Scram requireScram(Scram scram) {
        if (scram == null) {
            throw refused("sent a SCRAM message out of order");
        }
        return scram;
    }

    private MigratorException refused(String why) {
        return new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer's admin console at " + admin + " refused the login: " + why,
                "the switch step's user must be in pgbouncer's admin_users with its password in auth_file, and auth_type scram-sha-256 or md5 "
                        + "(give user: and password: in the step when they are not the source's)");
    }

    /** Runs one console command; returns its rows (empty for commands like PAUSE). Waits at most {@code timeout}. */
    List<Row> query(String command, Duration timeout) {
        try {
            socket.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
            send('Q', cstring(command));
            List<String> columns = new ArrayList<>();
            List<Row> rows = new ArrayList<>();
            String error = null;
            while (true) {
                int type = in.readUnsignedByte();
                byte[] body = body();
                switch (type) {
                    case 'T' -> columns = columns(body);
                    case 'D' -> rows.add(row(columns, body));
                    case 'E' -> error = errorText(body);
                    case 'Z' -> {
                        if (error != null) {
                            throw new ConsoleError(command, error);
                        }
                        return rows;
                    }
                    default -> { } // CommandComplete, notices
                }
            }
        } catch (SocketTimeoutException e) {
            throw new ConsoleTimeout(command, timeout);
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.CUTOVER_FAILED, "pgbouncer's admin console at " + admin + " failed during " + command + ": "
                    + e.getMessage(), "check pgbouncer (its log), then cut over again", e);
        }
    }

    /** A command the console answered with an error. */
    static final class ConsoleError extends RuntimeException {
        ConsoleError(String command, String error) {
            super(command + ": " + error);
        }
    }

    /** A command that did not answer in time (PAUSE waiting for running transactions). The session is then unusable. */
    static final class ConsoleTimeout extends RuntimeException {
        ConsoleTimeout(String command, Duration timeout) {
            super(command + " did not finish within " + timeout.toMillis() + " ms");
        }
    }

    private byte[] body() throws IOException {
        int length = in.readInt();
        if (length < 4 || length > 64 << 20) {
            throw new IOException("not the PostgreSQL protocol (message length " + length + ")");
        }
        byte[] body = new byte[length - 4];
        in.readFully(body);
        return body;
    }

    private void send(char type, byte[] body) throws IOException {
        out.writeByte(type);
        out.writeInt(body.length + 4);
        out.write(body);
        out.flush();
    }

    private static byte[] cstring(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        byte[] z = new byte[b.length + 1];
        System.arraycopy(b, 0, z, 0, b.length);
        return z;
    }

    private static List<String> columns(byte[] body) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(body);
        int n = b.getShort() & 0xffff;
        List<String> names = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int start = b.position();
            while (b.get() != 0) {
                // to the name's end
            }
            names.add(new String(body, start, b.position() - start - 1, StandardCharsets.UTF_8));
            b.position(b.position() + 18); // table oid, column, type oid, size, modifier, format
        }
        return names;
    }

    private static Row row(List<String> columns, byte[] body) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(body);
        int n = b.getShort() & 0xffff;
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            int length = b.getInt();
            String value = null;
            if (length >= 0) {
                value = new String(body, b.position(), length, StandardCharsets.UTF_8);
                b.position(b.position() + length);
            }
            values.put(i < columns.size() ? columns.get(i) : "column" + i, value);
        }
        return new Row(values);
    }

    private static String errorText(byte[] body) {
        StringBuilder message = new StringBuilder();
        int i = 0;
        while (i < body.length && body[i] != 0) {
            char field = (char) body[i++];
            int start = i;
            while (i < body.length && body[i] != 0) {
                i++;
            }
            if (field == 'M') {
                message.append(new String(body, start, i - start, StandardCharsets.UTF_8));
            }
            i++;
        }
        return message.length() == 0 ? "error" : message.toString();
    }

    private static String md5Hex(String text) {
        return md5Hex(text.getBytes(StandardCharsets.UTF_8), new byte[0]);
    }

    private static String md5Hex(byte[] text, byte[] salt) {
        try {
            MessageDigest md5 = MessageDigest.getInstance("MD5");
            md5.update(text);
            md5.update(salt.length >= 8 ? java.util.Arrays.copyOfRange(salt, 4, 8) : salt);
            return HexFormat.of().formatHex(md5.digest());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        try {
            send('X', new byte[0]);
        } catch (IOException ignored) {
            // the session may already be gone
        }
        closeQuietly(socket);
    }

    /** SCRAM-SHA-256 (RFC 5802/7677) without channel binding, as PostgreSQL and pgbouncer speak it. */
    static final class Scram {
        private final String user;
        private final String password;
        private final String nonce;
        private String clientFirstBare;
        private byte[] serverSignature;

        /** The user name stays empty: the server takes the startup message's (as PostgreSQL and pgbouncer document). */
        Scram(String password) {
            this("", password, randomNonce());
        }

        Scram(String user, String password, String nonce) {
            this.user = user;
            this.password = password;
            this.nonce = nonce;
        }

        private static String randomNonce() {
            byte[] b = new byte[18];
            new SecureRandom().nextBytes(b);
            return Base64.getEncoder().encodeToString(b);
        }

        String clientFirst() {
            clientFirstBare = "n=" + user + ",r=" + nonce;
            return "n,," + clientFirstBare;
        }

        String clientFinal(String serverFirst) {
            Map<Character, String> f = fields(serverFirst);
            String combined = f.get('r');
            if (combined == null || !combined.startsWith(nonce) || f.get('s') == null || f.get('i') == null) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer's SCRAM exchange was malformed", "check pgbouncer's auth settings");
            }
            try {
                byte[] salted = pbkdf2(password, Base64.getDecoder().decode(f.get('s')), Integer.parseInt(f.get('i')));
                byte[] clientKey = hmac(salted, "Client Key");
                byte[] storedKey = MessageDigest.getInstance("SHA-256").digest(clientKey);
                String withoutProof = "c=biws,r=" + combined;
                String authMessage = clientFirstBare + "," + serverFirst + "," + withoutProof;
                byte[] signature = hmac(storedKey, authMessage);
                byte[] proof = new byte[clientKey.length];
                for (int i = 0; i < proof.length; i++) {
                    proof[i] = (byte) (clientKey[i] ^ signature[i]);
                }
                serverSignature = hmac(hmac(salted, "Server Key"), authMessage);
                return withoutProof + ",p=" + Base64.getEncoder().encodeToString(proof);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
        }

        void verifyServer(String serverFinal) {
            String error = fields(serverFinal).get('e');
            if (error != null) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer refused the SCRAM login: " + error,
                        "check the switch step's user and password");
            }
            String v = fields(serverFinal).get('v');
            if (v == null || serverSignature == null || !MessageDigest.isEqual(Base64.getDecoder().decode(v), serverSignature)) {
                throw new MigratorException(ErrorCode.CUTOVER_PRECONDITION, "pgbouncer's SCRAM signature did not verify: not the pgbouncer "
                        + "that knows this password", "check the switch step's admin address");
            }
        }

        private static Map<Character, String> fields(String message) {
            Map<Character, String> f = new LinkedHashMap<>();
            for (String part : message.split(",")) {
                if (part.length() >= 2 && part.charAt(1) == '=') {
                    f.put(part.charAt(0), part.substring(2));
                }
            }
            return f;
        }

        private static byte[] pbkdf2(String password, byte[] salt, int iterations) throws GeneralSecurityException {
            PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, iterations, 256);
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        }

        private static byte[] hmac(byte[] key, String text) throws GeneralSecurityException {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(text.getBytes(StandardCharsets.UTF_8));
        }
    }
}

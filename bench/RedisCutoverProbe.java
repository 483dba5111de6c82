import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The application's view of a Redis cutover, for bench/cutover-benchmark.sh --engine redis: one SET every 5 ms through the
 * proxy as the application's ACL user, each acknowledged key and time recorded; a write that fails is not acknowledged
 * and the probe reconnects. When the file STOP appears it stops and prints one line:
 * {@code acked=N errors=E gap_ms=G lost=L mark_gap_ms=M} — the longest time between two acknowledged writes, the
 * acknowledged keys missing on TARGET (the old source, for a rollback), and with MARK_FILE the longest gap after that file
 * appeared (the rollback's, when the benchmark touches it just before `migrator rollback`; G is then the cutover's). Plain
 * RESP over a socket: no client library on the class path.
 *
 *   java bench/RedisCutoverProbe.java PROXY_HOST PROXY_PORT USER PASSWORD DB TARGET_HOST TARGET_PORT TARGET_PASSWORD STOP_FILE [MARK_FILE]
 */
public class RedisCutoverProbe {
    public static void main(String[] args) throws Exception {
        String host = args[0], user = args[2], password = args[3], db = args[4], targetHost = args[5], targetPassword = args[7];
        int port = Integer.parseInt(args[1]), targetPort = Integer.parseInt(args[6]);
        Path stop = Path.of(args[8]);
        Path mark = args.length > 9 ? Path.of(args[9]) : null;
        long markedAt = Long.MAX_VALUE;
        List<long[]> acked = new ArrayList<>(); // {id, nanoTime}
        long errors = 0;
        long id = 0;
        while (!Files.exists(stop)) {
            try (Socket s = connect(host, port)) {
                OutputStream out = s.getOutputStream();
                InputStream in = new BufferedInputStream(s.getInputStream());
                expectOk(call(out, in, "AUTH", user, password));
                expectOk(call(out, in, "SELECT", db));
                while (!Files.exists(stop)) {
                    if (markedAt == Long.MAX_VALUE && mark != null && Files.exists(mark)) {
                        markedAt = System.nanoTime();
                    }
                    long next = ++id;
                    expectOk(call(out, in, "SET", "probe:" + next, Long.toString(next)));
                    acked.add(new long[] {next, System.nanoTime()});
                    Thread.sleep(5);
                }
            } catch (IOException e) {
                errors++;
                Thread.sleep(20);
            }
        }
        long gap = 0;
        long markGap = 0;
        for (int i = 1; i < acked.size(); i++) {
            long between = acked.get(i)[1] - acked.get(i - 1)[1];
            if (acked.get(i)[1] > markedAt) {
                markGap = Math.max(markGap, between);
            } else {
                gap = Math.max(gap, between);
            }
        }
        long lost = 0;
        try (Socket s = connect(targetHost, targetPort)) {
            OutputStream out = s.getOutputStream();
            InputStream in = new BufferedInputStream(s.getInputStream());
            expectOk(call(out, in, "AUTH", targetPassword));
            expectOk(call(out, in, "SELECT", db));
            for (long[] a : acked) {
                if (call(out, in, "EXISTS", "probe:" + a[0]).equals(":0")) {
                    lost++;
                }
            }
        }
        System.out.printf("acked=%d errors=%d gap_ms=%d lost=%d mark_gap_ms=%d%n", acked.size(), errors, gap / 1_000_000, lost,
                markGap / 1_000_000);
    }

    private static Socket connect(String host, int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(host, port), 2_000);
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        return s;
    }

    /** One command; the reply's first line ("+OK", ":1", "-ERR ..."). */
    private static String call(OutputStream out, InputStream in, String... argv) throws IOException {
        StringBuilder b = new StringBuilder("*").append(argv.length).append("\r\n");
        for (String a : argv) {
            byte[] bytes = a.getBytes(StandardCharsets.UTF_8);
            b.append('$').append(bytes.length).append("\r\n").append(a).append("\r\n");
        }
        out.write(b.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) != '\r') {
            if (c < 0) {
                throw new IOException("connection closed");
            }
            line.append((char) c);
        }
        in.read(); // '\n'
        return line.toString();
    }

    private static void expectOk(String reply) throws IOException {
        if (!reply.startsWith("+")) {
            throw new IOException(reply);
        }
    }
}

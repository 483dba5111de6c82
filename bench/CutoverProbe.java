import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The application's view of a cutover, for bench/cutover-benchmark.sh: one INSERT every 5 ms through the proxy with the
 * application's login, each acknowledged id and time recorded; a write that fails is not acknowledged and the probe
 * reconnects (as a pooled application would). When the file STOP appears it stops and prints one line:
 * {@code acked=N errors=E gap_ms=G lost=L mark_gap_ms=M} — the longest time between two acknowledged writes, the
 * acknowledged ids missing on TARGET_URL (the old source, for a rollback), and with MARK_FILE the longest gap after that
 * file appeared (the rollback's, when the benchmark touches it just before `migrator rollback`; G is then the cutover's).
 *
 * PROXY_URL carries the driver's timeouts (and, through pgbouncer, prepareThreshold=0).
 *
 *   java -cp JDBC_DRIVER.jar bench/CutoverProbe.java PROXY_URL USER PASSWORD TARGET_URL TARGET_USER TARGET_PASSWORD STOP_FILE [MARK_FILE]
 */
public class CutoverProbe {
    public static void main(String[] args) throws Exception {
        String proxy = args[0], user = args[1], password = args[2], target = args[3], targetUser = args[4], targetPassword = args[5];
        Path stop = Path.of(args[6]);
        Path mark = args.length > 7 ? Path.of(args[7]) : null;
        long markedAt = Long.MAX_VALUE;
        List<long[]> acked = new ArrayList<>(); // {id, nanoTime}
        long errors = 0;
        long id = 0;
        while (!Files.exists(stop)) {
            try (Connection c = DriverManager.getConnection(proxy, user, password);
                 PreparedStatement ps = c.prepareStatement("INSERT INTO probe (id, at) VALUES (?, CURRENT_TIMESTAMP)")) {
                while (!Files.exists(stop)) {
                    ps.setLong(1, ++id);
                    ps.executeUpdate();
                    acked.add(new long[] {id, System.nanoTime()});
                    if (markedAt == Long.MAX_VALUE && mark != null && Files.exists(mark)) {
                        markedAt = System.nanoTime();
                    }
                    Thread.sleep(5);
                }
            } catch (SQLException e) {
                errors++;
                Thread.sleep(20);
            }
        }
        long gap = 0;
        long markGap = 0;
        for (int i = 1; i < acked.size(); i++) {
            long between = acked.get(i)[1] - acked.get(i - 1)[1];
            if (acked.get(i - 1)[1] >= markedAt) {
                markGap = Math.max(markGap, between);
            } else {
                gap = Math.max(gap, between);
            }
        }
        Set<Long> onTarget = new HashSet<>();
        try (Connection c = DriverManager.getConnection(target, targetUser, targetPassword); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT id FROM probe")) {
            while (rs.next()) {
                onTarget.add(rs.getLong(1));
            }
        }
        long lost = acked.stream().filter(a -> !onTarget.contains(a[0])).count();
        System.out.printf("acked=%d errors=%d gap_ms=%d lost=%d mark_gap_ms=%d%n", acked.size(), errors, gap / 1_000_000, lost, markGap / 1_000_000);
    }
}

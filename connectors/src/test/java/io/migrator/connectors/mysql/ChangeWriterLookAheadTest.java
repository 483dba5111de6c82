package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowKey;
import io.migrator.core.schema.TableId;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The applier's look-ahead: before each step's statement runs, the next step (and only it) is handed to the reader, so
 * reads run one step ahead of the writes. The connection records the statements instead of running them.
 */
class ChangeWriterLookAheadTest {
    private final TableId a = new TableId("shop", "a");

    /** Answers every JDBC call with a default; records the INSERTs executed, as "write N rows". */
    private static Object proxy(Class<?> type, List<String> log, String sql) {
        return Proxy.newProxyInstance(ChangeWriterLookAheadTest.class.getClassLoader(), new Class<?>[] {type}, (p, method, args) -> {
            switch (method.getName()) {
                case "prepareStatement":
                    return proxy(PreparedStatement.class, log, (String) args[0]);
                case "executeQuery":
                    return proxy(ResultSet.class, log, sql); // information_schema lookups: no rows
                case "executeUpdate":
                    if (sql.startsWith("INSERT")) {
                        log.add("write " + (sql.split("\\(\\?").length - 1) + " rows");
                    }
                    return 0;
                default:
                    Class<?> r = method.getReturnType();
                    if (r == boolean.class) {
                        return false;
                    }
                    if (r == int.class) {
                        return 0;
                    }
                    return r == long.class ? (Object) 0L : null;
            }
        });
    }

    @Test
    void eachStepsRowsAreHandedOverBeforeTheStepBeforeItRuns() throws Exception {
        List<RowChange> changes = new ArrayList<>();
        for (int i = 0; i < 2_500; i++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("id", i);
            row.put("c", "v" + i);
            changes.add(new RowChange.Upsert(new RowKey(a, List.of("id"), List.of(i)), row));
        }
        List<String> log = new ArrayList<>();
        Connection c = (Connection) proxy(Connection.class, log, "");

        new MySqlChangeWriter(t -> t).write(c, changes, next -> log.add("read ahead " + next.get(0).key().values().get(0) + ".." + next.size()));

        assertThat(log).containsExactly(
                "read ahead 1000..1000", "write 1000 rows",
                "read ahead 2000..500", "write 1000 rows",
                "write 500 rows");
    }
}

package io.migrator.connectors.jdbc;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;

/** Cheap questions about a table that both SQL engines ask the same way. */
public final class TableProbe {
    private TableProbe() {
    }

    /** Whether the table (already quoted and qualified by the caller's dialect) holds a row: one read of at most one row, not a count. */
    public static boolean hasRows(DataSource pool, String quotedTable) throws SQLException {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT 1 FROM " + quotedTable + " LIMIT 1")) {
            return rs.next();
        }
    }
}

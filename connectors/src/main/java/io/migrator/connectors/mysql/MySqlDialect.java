package io.migrator.connectors.mysql;

import io.migrator.core.schema.ColumnDef;
import io.migrator.core.schema.TableId;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** MySQL/MariaDB SQL text: identifier quoting and the way each column type is read and bound. */
final class MySqlDialect {
    private MySqlDialect() {
    }

    static String quote(String identifier) {
        return "`" + identifier.replace("`", "``") + "`";
    }

    static String quote(TableId table) {
        return quote(table.schema()) + "." + quote(table.name());
    }

    static String columnList(List<ColumnDef> columns) {
        return columns.stream().map(c -> quote(c.name())).collect(Collectors.joining(", "));
    }

    /** How a column's values travel through JDBC without losing a bit. */
    enum Kind {
        /** Raw bytes: binary strings, BLOBs, BIT. */
        BYTES,
        /** IEEE floats: text would round. */
        FLOATING,
        /** Spatial values, carried as WKB. */
        GEOMETRY,
        /** Everything else: the server's own text form is exact (DECIMAL, temporal(6), JSON, ENUM, SET, YEAR, strings). */
        TEXT
    }

    static Kind kind(ColumnDef column) {
        String type = column.type().toLowerCase(Locale.ROOT);
        if (type.startsWith("binary") || type.startsWith("varbinary") || type.endsWith("blob") || type.startsWith("bit")) {
            return Kind.BYTES;
        }
        if (type.startsWith("float") || type.startsWith("double") || type.startsWith("real")) {
            return Kind.FLOATING;
        }
        if (type.startsWith("geometry") || type.startsWith("point") || type.startsWith("linestring") || type.startsWith("polygon")
                || type.startsWith("multipoint") || type.startsWith("multilinestring") || type.startsWith("multipolygon")
                || type.startsWith("geometrycollection")) {
            return Kind.GEOMETRY;
        }
        return Kind.TEXT;
    }

    /** The select expression for a column (spatial values as WKB). */
    static String selectExpression(ColumnDef column) {
        return kind(column) == Kind.GEOMETRY ? "ST_AsWKB(" + quote(column.name()) + ")" : quote(column.name());
    }

    /** The value placeholder for a column (spatial values from WKB). */
    static String placeholder(ColumnDef column) {
        return kind(column) == Kind.GEOMETRY ? "ST_GeomFromWKB(?)" : "?";
    }
}

package io.migrator.connectors.postgres;

/** PostgreSQL identifier quoting: every name in double quotes, embedded quotes doubled. */
final class PostgresDialect {
    private PostgresDialect() {
    }

    static String quote(io.migrator.core.schema.TableId table) {
        return quote(table.schema()) + "." + quote(table.name());
    }

    static String quote(String identifier) {
        return "\"" + identifier.replace("\"", "\"\"") + "\"";
    }
}

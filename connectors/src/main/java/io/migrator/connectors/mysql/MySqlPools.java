package io.migrator.connectors.mysql;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;

/** Connection pools to MySQL/MariaDB with the session settings migrator relies on. */
final class MySqlPools {
    private MySqlPools() {
    }

    static HikariDataSource open(Endpoint endpoint, String name, int size, String initSql) {
        return open(endpoint, name, size, initSql, false);
    }

    /**
     * @param localInfile let the MariaDB driver answer a LOAD DATA LOCAL INFILE; migrator only ever does so with a stream
     *     it sets on the statement, and the driver checks that a file the server asks for is the one the statement named
     */
    static HikariDataSource open(Endpoint endpoint, String name, int size, String initSql, boolean localInfile) {
        HikariConfig config = new HikariConfig();
        config.setPoolName(name);
        config.setJdbcUrl(MySqlFamilyConnector.serverUrl(endpoint) + (endpoint.engine() == Engine.MARIADB
                ? "?useBulkStmts=true&allowLocalInfile=" + localInfile : "?rewriteBatchedStatements=true")
                // a read that waits longer counts the connection dead (a half-open one would hang for hours); retried on a new one
                + "&socketTimeout=" + endpoint.readTimeout().toMillis() + "&tcpKeepAlive=true&connectTimeout=10000");
        io.migrator.connectors.jdbc.DriverTls.mysqlFamily(endpoint).forEach(config::addDataSourceProperty);
        config.setUsername(endpoint.user());
        config.setPassword(endpoint.password().reveal());
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(10_000); // a server that does not answer shows as an outage (degraded) within seconds
        config.setConnectionInitSql(initSql);
        config.setInitializationFailTimeout(10_000);
        try {
            return new HikariDataSource(config);
        } catch (HikariPool.PoolInitializationException e) {
            Throwable cause = e.getCause() instanceof java.sql.SQLException sql ? sql : e;
            var tls = io.migrator.core.tls.TlsErrors.explain(cause, name.contains("target") ? "target" : "source", endpoint);
            if (tls.isPresent()) {
                throw tls.get();
            }
            throw new MigratorException(ErrorCode.CANNOT_CONNECT, "cannot connect to " + endpoint.engine() + " at " + endpoint.address()
                    + ": " + (cause.getMessage() == null ? cause : cause.getMessage().split("\n")[0]).toString()
                    .replace(endpoint.password().isEmpty() ? "\0" : endpoint.password().reveal(), "******"),
                    "check that the server runs and that user and password in the plan are right; `migrator plan check` tells more", e);
        }
    }
}

package io.migrator.connectors.postgres;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool;
import io.migrator.connectors.jdbc.JdbcErrors;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.spi.Role;
import java.sql.SQLException;

/** Connection pools to PostgreSQL with the session settings migrator relies on. */
final class PostgresPools {
    /**
     * Every session of migrator's prints and parses money in the C locale: money is an integer count of the smallest
     * currency unit, and its text (and its numeric value) follow the session's lc_monetary, whose fractional digits differ
     * between locales (2 for most, 0 for yen). Pinned on both sides, the copy's and the stream's text and the checksums'
     * numeric carry the integer unchanged whatever lc_monetary either server has.
     */
    static final String MONETARY = "SET lc_monetary = 'C'";

    private PostgresPools() {
    }

    static HikariDataSource open(Endpoint endpoint, Role role, String name, int size, String initSql) {
        HikariConfig config = new HikariConfig();
        config.setPoolName(name);
        config.setJdbcUrl("jdbc:postgresql://" + endpoint.address() + "/" + endpoint.database());
        config.setUsername(endpoint.user());
        config.setPassword(endpoint.password().reveal());
        config.addDataSourceProperty("ApplicationName", "migrator");
        io.migrator.connectors.jdbc.DriverTls.postgres(endpoint).forEach(config::addDataSourceProperty);
        config.addDataSourceProperty("reWriteBatchedInserts", "true");
        // a read that waits longer counts the connection dead (a half-open one would hang for hours); retried on a new one
        config.addDataSourceProperty("socketTimeout", Long.toString(Math.max(1, endpoint.readTimeout().toSeconds())));
        config.addDataSourceProperty("tcpKeepAlive", "true");
        config.addDataSourceProperty("connectTimeout", "10");
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(10_000); // a server that does not answer shows as an outage (degraded) within seconds
        config.setConnectionInitSql(initSql == null ? MONETARY : initSql + "; " + MONETARY);
        config.setInitializationFailTimeout(10_000);
        try {
            return new HikariDataSource(config);
        } catch (HikariPool.PoolInitializationException e) {
            if (e.getCause() instanceof SQLException sql) {
                throw JdbcErrors.connectFailed(role, endpoint, sql);
            }
            throw new MigratorException(io.migrator.core.error.ErrorCode.CANNOT_CONNECT, "cannot connect to the " + role.id() + " PostgreSQL at "
                    + endpoint.address(), "check that the server runs; `migrator plan check` tells more", e);
        }
    }
}

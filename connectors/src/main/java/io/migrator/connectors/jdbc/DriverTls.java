package io.migrator.connectors.jdbc;

import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Engine;
import io.migrator.core.plan.Tls;
import io.migrator.core.tls.TlsMaterial;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * A plan's {@link Tls} settings in each driver's own words: MariaDB Connector/J, MySQL Connector/J, pgjdbc, and the
 * Debezium connectors (their JDBC connection and the binlog client). Every connection to an endpoint goes through one of
 * these, so pools, preflight, the change stream and the cutover speak TLS alike.
 */
public final class DriverTls {
    private DriverTls() {
    }

    /** Driver properties for MariaDB Connector/J or MySQL Connector/J. */
    public static Map<String, String> mysqlFamily(Endpoint endpoint) {
        Tls tls = endpoint.tls();
        Map<String, String> p = new LinkedHashMap<>();
        if (endpoint.engine() == Engine.MARIADB) {
            p.put("sslMode", switch (tls.mode()) {
                case DISABLE, PREFER -> "disable"; // PREFER is refused for MariaDB by the plan check
                case REQUIRE -> "trust";
                case VERIFY_CA -> "verify-ca";
                case VERIFY_FULL -> "verify-full";
            });
            if (tls.verifiesCertificate() && tls.ca() != null) {
                p.put("serverSslCert", tls.ca()); // a PEM path: the driver reads every certificate in it
            }
            if (tls.clientCertificate() && tls.mode() != Tls.Mode.DISABLE) {
                TlsMaterial.Stores stores = TlsMaterial.of(tls).stores();
                p.put("keyStore", stores.keyStore());
                p.put("keyStorePassword", stores.password());
                p.put("keyStoreType", "PKCS12");
            }
            return p;
        }
        p.put("sslMode", switch (tls.mode()) {
            case DISABLE -> "DISABLED";
            case PREFER -> "PREFERRED";
            case REQUIRE -> "REQUIRED";
            case VERIFY_CA -> "VERIFY_CA";
            case VERIFY_FULL -> "VERIFY_IDENTITY";
        });
        p.put("allowPublicKeyRetrieval", Boolean.toString(tls.allowPublicKeyRetrieval()));
        if (tls.mode() != Tls.Mode.DISABLE && (tls.ca() != null && tls.verifiesCertificate() || tls.clientCertificate())) {
            TlsMaterial.Stores stores = TlsMaterial.of(tls).stores();
            if (stores.trustStore() != null && tls.verifiesCertificate()) {
                p.put("trustCertificateKeyStoreUrl", "file:" + stores.trustStore());
                p.put("trustCertificateKeyStoreType", "PKCS12");
                p.put("trustCertificateKeyStorePassword", stores.password());
            }
            if (stores.keyStore() != null) {
                p.put("clientCertificateKeyStoreUrl", "file:" + stores.keyStore());
                p.put("clientCertificateKeyStoreType", "PKCS12");
                p.put("clientCertificateKeyStorePassword", stores.password());
            }
        }
        return p;
    }

    /** Driver properties for pgjdbc (plain and replication connections). */
    public static Map<String, String> postgres(Endpoint endpoint) {
        Tls tls = endpoint.tls();
        Map<String, String> p = new LinkedHashMap<>();
        p.put("sslmode", tls.mode().id());
        if (tls.verifiesCertificate()) {
            if (tls.ca() != null) {
                p.put("sslrootcert", tls.ca());
            } else {
                p.put("sslfactory", "org.postgresql.ssl.DefaultJavaSSLFactory"); // the JVM's trusted authorities
            }
        }
        if (tls.clientCertificate() && tls.mode() != Tls.Mode.DISABLE) {
            TlsMaterial.Stores stores = TlsMaterial.of(tls).stores();
            p.put("sslkey", stores.keyStore()); // a .p12 file: pgjdbc reads certificate and key from it
            p.put("sslpassword", stores.password());
        }
        return p;
    }

    /** The Debezium connector's settings for the source's TLS (its JDBC connection and the binlog or replication client). */
    public static Map<String, String> debezium(Endpoint source) {
        Tls tls = source.tls();
        Map<String, String> p = new LinkedHashMap<>();
        if (source.engine() == Engine.POSTGRESQL) {
            postgres(source).forEach((k, v) -> p.put("database." + k, v));
            return p;
        }
        p.put("database.ssl.mode", source.engine() == Engine.MARIADB
                ? switch (tls.mode()) {
                    case DISABLE, PREFER -> "disable";
                    case REQUIRE -> "trust";
                    case VERIFY_CA -> "verify-ca";
                    case VERIFY_FULL -> "verify-full";
                }
                : switch (tls.mode()) {
                    case DISABLE -> "disabled";
                    case PREFER -> "preferred";
                    case REQUIRE -> "required";
                    case VERIFY_CA -> "verify_ca";
                    case VERIFY_FULL -> "verify_identity";
                });
        if (tls.mode() != Tls.Mode.DISABLE && (tls.ca() != null && tls.verifiesCertificate() || tls.clientCertificate())) {
            TlsMaterial.Stores stores = TlsMaterial.of(tls).stores();
            if (stores.trustStore() != null && tls.verifiesCertificate()) {
                p.put("database.ssl.truststore", stores.trustStore());
                p.put("database.ssl.truststore.password", stores.password());
            }
            if (stores.keyStore() != null) {
                p.put("database.ssl.keystore", stores.keyStore());
                p.put("database.ssl.keystore.password", stores.password());
            }
        }
        // the connector's own JDBC connection takes driver properties under "database."
        mysqlFamily(source).forEach((k, v) -> {
            if (!k.equals("sslMode")) {
                p.put("database." + k, v);
            }
        });
        return p;
    }

    public static void addTo(Properties props, Map<String, String> settings) {
        settings.forEach(props::setProperty);
    }
}

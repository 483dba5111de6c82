package io.migrator.core.plan;

import java.util.Locale;
import java.util.Optional;

/**
 * How migrator's connections to one endpoint use TLS (plan key {@code source|target.tls}). Files are absolute paths to PEM
 * files: {@code ca} the bundle of certificate authorities that may sign the server's certificate (none: the JVM's
 * trusted authorities), {@code cert} and {@code key} a client certificate and its unencrypted private key for servers that
 * ask for one.
 */
public record Tls(Mode mode, String ca, String cert, String key, boolean allowPublicKeyRetrieval) {
    /** The modes libpq made familiar; every engine maps them onto its driver's own. */
    public enum Mode {
        /** Plain text. */
        DISABLE,
        /** TLS when the server offers it, without checking its certificate (PostgreSQL and MySQL drivers' own default). */
        PREFER,
        /** TLS always; the certificate is not checked (encryption against eavesdroppers, not against an impostor). */
        REQUIRE,
        /** TLS always; the certificate must be signed by {@code ca}. */
        VERIFY_CA,
        /** TLS always; the certificate must be signed by {@code ca} and name the host the plan connects to. */
        VERIFY_FULL;

        public String id() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static Optional<Mode> fromId(String id) {
            for (Mode m : values()) {
                if (m.id().equals(id.trim().toLowerCase(Locale.ROOT))) {
                    return Optional.of(m);
                }
            }
            return Optional.empty();
        }

        public static String ids() {
            return "disable, prefer, require, verify-ca, verify-full";
        }
    }

    public Tls {
        mode = mode == null ? Mode.DISABLE : mode;
        ca = ca == null || ca.isBlank() ? null : ca;
        cert = cert == null || cert.isBlank() ? null : cert;
        key = key == null || key.isBlank() ? null : key;
    }

    /** What an endpoint without a {@code tls} key does: the driver's own default (PREFER for MySQL and PostgreSQL). */
    public static Tls defaultFor(Engine engine) {
        return new Tls(engine == Engine.MYSQL || engine == Engine.POSTGRESQL ? Mode.PREFER : Mode.DISABLE, null, null, null, false);
    }

    /** Whether every connection is encrypted (a PREFER connection may not be). */
    public boolean required() {
        return mode.compareTo(Mode.REQUIRE) >= 0;
    }

    public boolean verifiesCertificate() {
        return mode.compareTo(Mode.VERIFY_CA) >= 0;
    }

    public boolean verifiesHost() {
        return mode == Mode.VERIFY_FULL;
    }

    public boolean clientCertificate() {
        return cert != null && key != null;
    }

    @Override
    public String toString() {
        return mode.id() + (ca == null ? "" : " ca=" + ca) + (cert == null ? "" : " cert=" + cert);
    }
}

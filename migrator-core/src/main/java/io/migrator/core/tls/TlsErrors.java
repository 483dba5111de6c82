package io.migrator.core.tls;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Endpoint;
import io.migrator.core.plan.Tls;
import java.util.Locale;
import java.util.Optional;

/**
 * Names a TLS failure the way a DBA fixes it: which certificate check failed, against which file, and the plan key to
 * change. Drivers wrap handshake failures in their own exceptions; the chain is searched for the cause.
 */
public final class TlsErrors {
    private TlsErrors() {
    }

    /** The error for a connection that failed in TLS, or empty when the failure was something else. */
    public static Optional<MigratorException> explain(Throwable failure, String role, Endpoint endpoint) {
        Kind kind = kind(failure);
        if (kind == null) {
            return Optional.empty();
        }
        Tls tls = endpoint.tls();
        String where = "the " + role + " " + endpoint.engine() + " at " + endpoint.address();
        String key = role + ".tls";
        String authorities = tls.ca() == null ? "the JVM's trusted authorities" : key + ".ca (" + tls.ca() + ")";
        String message;
        String remedy;
        switch (kind) {
            case UNTRUSTED -> {
                message = where + " presented a TLS certificate that no authority in " + authorities + " signed";
                remedy = "set " + key + ".ca to the bundle of the authority that signed the server's certificate (RDS/Aurora: the "
                        + "region's bundle from truststore.pki.rds.amazonaws.com; the sandbox: .sandbox/tls/ca.pem)";
            }
            case WRONG_HOST -> {
                message = where + " presented a TLS certificate that does not name '" + endpoint.host() + "' (" + key + ": verify-full)";
                remedy = "set " + role + ".host to a name the certificate holds (the endpoint's DNS name), or use " + key
                        + ".mode: verify-ca to check the signature only";
            }
            case EXPIRED -> {
                message = where + " presented an expired (or not yet valid) TLS certificate";
                remedy = "renew the server's certificate; check the clock of this host";
            }
            case NO_TLS -> {
                message = where + " does not speak TLS (" + key + ": " + tls.mode().id() + ")";
                remedy = "enable TLS on the server" + (endpoint.engine() == io.migrator.core.plan.Engine.REDIS
                        ? " and point " + role + ".port at its tls-port" : "") + ", or set " + key + ": disable";
            }
            case SILENT -> {
                message = where + " did not answer the TLS handshake (" + key + ": " + tls.mode().id() + "); a port that speaks plain "
                        + "text waits like this";
                remedy = "point " + role + ".port at the server's TLS port" + (endpoint.engine() == io.migrator.core.plan.Engine.REDIS
                        ? " (its tls-port)" : "") + ", or set " + key + ": disable; if the port is right, the server hangs";
            }
            case CLIENT_CERTIFICATE -> {
                message = where + " wants a client certificate that it accepts" + (tls.clientCertificate() ? " (it refused " + tls.cert() + ")" : "");
                remedy = "set " + key + ".cert and " + key + ".key to a certificate the server's CA signed";
            }
            default -> {
                message = where + " failed the TLS handshake";
                remedy = "check " + key + " against the server's TLS settings";
            }
        }
        return Optional.of(new MigratorException(ErrorCode.CANNOT_CONNECT, message + ": " + detail(failure), remedy, failure));
    }

    /** Whether this failure is about certificates or TLS itself: a reconnect will not fix it (unlike a reset connection). */
    public static boolean isTlsRefusal(Throwable failure) {
        Kind kind = kind(failure);
        return kind != null && kind != Kind.HANDSHAKE && kind != Kind.SILENT; // silence may be a server still starting
    }

    enum Kind { UNTRUSTED, WRONG_HOST, EXPIRED, NO_TLS, SILENT, CLIENT_CERTIFICATE, HANDSHAKE }

    static Kind kind(Throwable failure) {
        boolean handshake = false;
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage() == null ? "" : t.getMessage().toLowerCase(Locale.ROOT);
            if (t instanceof java.security.cert.CertificateExpiredException || t instanceof java.security.cert.CertificateNotYetValidException
                    || m.contains("certificate_expired") || m.contains("validity check failed")) {
                return Kind.EXPIRED;
            }
            if (m.contains("no subject alternative") || m.contains("no name matching") || m.contains("hostname") && m.contains("not verified")
                    || m.contains("does not match") && m.contains("certificate")) {
                return Kind.WRONG_HOST;
            }
            if (t instanceof java.security.cert.CertPathBuilderException || t instanceof java.security.cert.CertPathValidatorException
                    || m.contains("pkix path") || m.contains("unable to find valid certification path") || m.contains("unknown_ca")) {
                return Kind.UNTRUSTED;
            }
            if (m.contains("does not support ssl") || m.contains("ssl not enabled") || m.contains("ssl connection is required")
                    && m.contains("not support") || m.contains("unsupported or unrecognized ssl message")
                    || m.contains("server doesn't support ssl") || m.contains("server does not support tls")) {
                return Kind.NO_TLS;
            }
            if (m.contains("bad_certificate") || m.contains("certificate_required") || m.contains("requires a valid client certificate")) {
                return Kind.CLIENT_CERTIFICATE;
            }
            if (t instanceof javax.net.ssl.SSLException) {
                handshake = true;
            }
            if (t instanceof java.net.SocketTimeoutException && inHandshake(t)) {
                return Kind.SILENT;
            }
        }
        return handshake ? Kind.HANDSHAKE : null;
    }

    private static boolean inHandshake(Throwable t) {
        for (StackTraceElement frame : t.getStackTrace()) {
            if (frame.getClassName().startsWith("sun.security.ssl.") && frame.getMethodName().contains("andshake")) {
                return true;
            }
        }
        return false;
    }

    private static String detail(Throwable failure) {
        Throwable deepest = failure;
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t.getMessage() != null) {
                deepest = t;
            }
        }
        String m = deepest.getMessage() == null ? deepest.getClass().getSimpleName() : deepest.getMessage();
        return m.split("\n", 2)[0].strip();
    }
}

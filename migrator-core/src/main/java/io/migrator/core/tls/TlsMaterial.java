package io.migrator.core.tls;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Tls;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The TLS material of one endpoint's {@link Tls} settings, read once per process from its PEM files: an {@link SSLContext}
 * (Redis clients and migrator's own sockets take it directly) and, for drivers that only read key stores (MySQL Connector/J,
 * the binlog client, a PostgreSQL client key), the same certificates as PKCS#12 files in a private temporary folder.
 * Nothing here is a secret the plan's files did not already hold; the stores' password is random and stays in memory.
 */
public final class TlsMaterial {
    private static final Map<Tls, TlsMaterial> CACHE = new ConcurrentHashMap<>();

    private final Tls tls;
    private final List<X509Certificate> authorities;
    private final KeyStore clientKeys;
    private final char[] storePassword;
    private final SSLContext context;
    private volatile Stores stores;

    /** PKCS#12 files for drivers that take key stores; a path is null when the plan has no such file. */
    public record Stores(String trustStore, String keyStore, String password) {
        @Override
        public String toString() {
            return "Stores[" + trustStore + ", " + keyStore + "]";
        }
    }

    private TlsMaterial(Tls tls) {
        this.tls = tls;
        byte[] random = new byte[18];
        new SecureRandom().nextBytes(random);
        this.storePassword = Base64.getUrlEncoder().withoutPadding().encodeToString(random).toCharArray();
        this.authorities = tls.ca() == null ? List.of() : certificates(tls.ca(), "tls.ca");
        this.clientKeys = tls.clientCertificate() ? clientKeys(tls) : null;
        this.context = buildContext();
    }

    /** The material of these settings (read from the files on first use); a file that cannot be used is a plan error. */
    public static TlsMaterial of(Tls tls) {
        return CACHE.computeIfAbsent(tls, TlsMaterial::new);
    }

    public Tls tls() {
        return tls;
    }

    public SSLContext context() {
        return context;
    }

    public SSLSocketFactory socketFactory() {
        return context.getSocketFactory();
    }

    /** Parameters to set on every socket: verify-full checks the host name during the handshake. */
    public SSLParameters parameters() {
        SSLParameters parameters = context.getDefaultSSLParameters();
        if (tls.verifiesHost()) {
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
        }
        return parameters;
    }

    /** Wraps a connected plain socket: the handshake (and with verify-full the host check) happens before this returns. */
    public SSLSocket wrap(Socket plain, String host, int port) throws IOException {
        SSLSocket socket = (SSLSocket) socketFactory().createSocket(plain, host, port, true);
        socket.setSSLParameters(parameters());
        socket.startHandshake();
        return socket;
    }

    /** The PKCS#12 stores, written on first use into a folder only this user may read, removed when the process ends. */
    public Stores stores() {
        Stores s = stores;
        if (s == null) {
            synchronized (this) {
                if (stores == null) {
                    stores = writeStores();
                }
                s = stores;
            }
        }
        return s;
    }

    private SSLContext buildContext() {
        try {
            TrustManager[] trust;
            if (!tls.verifiesCertificate()) {
                trust = new TrustManager[] {new AnyCertificate()};
            } else {
                TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                factory.init(authorities.isEmpty() ? null : trustStore()); // null: the JVM's trusted authorities
                trust = factory.getTrustManagers();
            }
            KeyManager[] keys = null;
            if (clientKeys != null) {
                KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                factory.init(clientKeys, storePassword);
                keys = factory.getKeyManagers();
            }
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(keys, trust, new SecureRandom());
            return ssl;
        } catch (GeneralSecurityException | IOException e) {
            throw new MigratorException(ErrorCode.PLAN_INVALID, "cannot set up TLS (" + tls + "): " + e.getMessage(),
                    "check the tls files of the plan: PEM certificates for ca and cert, an unencrypted PEM key", e);
        }
    }

    private KeyStore trustStore() throws GeneralSecurityException, IOException {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        for (int i = 0; i < authorities.size(); i++) {
            store.setCertificateEntry("ca-" + i, authorities.get(i));
        }
        return store;
    }

    private Stores writeStores() {
        try {
            Path dir = Files.createTempDirectory("migrator-tls-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            dir.toFile().deleteOnExit();
            String trust = null;
            String keys = null;
            if (!authorities.isEmpty()) {
                trust = write(dir.resolve("trust.p12"), trustStore());
            }
            if (clientKeys != null) {
                keys = write(dir.resolve("client.p12"), clientKeys);
            }
            return new Stores(trust, keys, new String(storePassword));
        } catch (GeneralSecurityException | IOException e) {
            throw new MigratorException(ErrorCode.INTERNAL, "cannot write the TLS key stores for the drivers: " + e.getMessage(),
                    "check that the temporary folder (java.io.tmpdir) is writable", e);
        }
    }

    private String write(Path file, KeyStore store) throws GeneralSecurityException, IOException {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        file.toFile().deleteOnExit();
        try (OutputStream out = Files.newOutputStream(file)) {
            store.store(out, storePassword);
        }
        return file.toString();
    }

    private KeyStore clientKeys(Tls settings) {
        List<X509Certificate> chain = certificates(settings.cert(), "tls.cert");
        PrivateKey key = privateKey(settings.key());
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            // "user": the alias pgjdbc's PKCS#12 key manager looks for; the other drivers take any
            store.setKeyEntry("user", key, storePassword, chain.toArray(new Certificate[0]));
            return store;
        } catch (GeneralSecurityException | IOException e) {
            throw new MigratorException(ErrorCode.PLAN_INVALID, "the client key " + settings.key() + " does not go with the certificate "
                    + settings.cert() + ": " + e.getMessage(), "set tls.key to the private key of tls.cert", e);
        }
    }

    static List<X509Certificate> certificates(String file, String key) {
        try {
            byte[] pem = Files.readAllBytes(Path.of(file));
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem))) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new MigratorException(ErrorCode.PLAN_INVALID, key + " " + file + " holds no certificate",
                        "point " + key + " at a PEM file with -----BEGIN CERTIFICATE----- blocks");
            }
            return out;
        } catch (IOException | GeneralSecurityException e) {
            throw new MigratorException(ErrorCode.PLAN_INVALID, key + " " + file + " is not a PEM certificate file: " + e.getMessage(),
                    "point " + key + " at a PEM file with -----BEGIN CERTIFICATE----- blocks", e);
        }
    }

    static PrivateKey privateKey(String file) {
        String text;
        try {
            text = Files.readString(Path.of(file), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new MigratorException(ErrorCode.PLAN_INVALID, "cannot read tls.key " + file + ": " + e.getMessage(),
                    "make the key readable by migrator's user", e);
        }
        String convert = "convert it: openssl pkcs8 -topk8 -nocrypt -in " + file + " -out key.pem, and point tls.key at key.pem";
        if (text.contains("ENCRYPTED")) {
            throw new MigratorException(ErrorCode.PLAN_INVALID, "tls.key " + file + " is encrypted with a passphrase", convert);
        }
        byte[] der;
        boolean pkcs1 = text.contains("-----BEGIN RSA PRIVATE KEY-----");
        if (pkcs1) {
            der = pkcs1ToPkcs8(block(text, "RSA PRIVATE KEY"));
        } else if (text.contains("-----BEGIN PRIVATE KEY-----")) {
            der = block(text, "PRIVATE KEY");
        } else {
            throw new MigratorException(ErrorCode.PLAN_INVALID, "tls.key " + file + " is not a PKCS#8 or RSA private key in PEM form"
                    + (text.contains("EC PRIVATE KEY") ? " (it is an EC key in OpenSSL's own form)" : ""), convert);
        }
        for (String algorithm : List.of("RSA", "EC", "Ed25519", "RSASSA-PSS")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // the next algorithm
            }
        }
        throw new MigratorException(ErrorCode.PLAN_INVALID, "tls.key " + file + " holds a key of a kind migrator cannot read",
                "use an RSA or EC key; " + convert);
    }

    private static byte[] block(String text, String label) {
        String begin = "-----BEGIN " + label + "-----";
        int from = text.indexOf(begin) + begin.length();
        int to = text.indexOf("-----END " + label + "-----", from);
        return Base64.getMimeDecoder().decode(text.substring(from, to < 0 ? text.length() : to));
    }

    /** An RSA key in PKCS#1 form inside the PKCS#8 envelope Java reads: version 0, rsaEncryption, the key as an octet string. */
    static byte[] pkcs1ToPkcs8(byte[] pkcs1) {
        byte[] algorithm = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(new byte[] {0x02, 0x01, 0x00});
        body.writeBytes(algorithm);
        body.write(0x04);
        body.writeBytes(derLength(pkcs1.length));
        body.writeBytes(pkcs1);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x30);
        out.writeBytes(derLength(body.size()));
        out.writeBytes(body.toByteArray());
        return out.toByteArray();
    }

    private static byte[] derLength(int length) {
        if (length < 0x80) {
            return new byte[] {(byte) length};
        }
        int bytes = length < 0x100 ? 1 : length < 0x10000 ? 2 : length < 0x1000000 ? 3 : 4;
        byte[] out = new byte[1 + bytes];
        out[0] = (byte) (0x80 | bytes);
        for (int i = 0; i < bytes; i++) {
            out[bytes - i] = (byte) (length >>> (8 * i));
        }
        return out;
    }

    /** require and prefer: encrypted, any certificate (libpq's meaning; the plan asked for no check). */
    private static final class AnyCertificate extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}

package io.migrator.sandbox;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

/**
 * The sandbox's certificates, made with openssl at the first {@code up} in {@code .sandbox/tls}: a CA of its own
 * ({@code ca.pem}), a server certificate for {@code localhost} and {@code 127.0.0.1} that every sandbox server presents,
 * and a client certificate ({@code client.pem}, {@code client.key}, CN {@code migrator}) for servers that ask for one.
 * A plan reaches the sandbox over TLS with {@code tls: {mode: verify-full, ca: .sandbox/tls/ca.pem}}; Redis listens for
 * TLS on its port + {@value #REDIS_TLS_PORT_OFFSET}.
 */
public final class SandboxTls {
    /** A sandbox Redis (not the cluster nodes) listens for TLS on its port plus this. */
    public static final int REDIS_TLS_PORT_OFFSET = 100;

    private final Path dir;

    private SandboxTls(Path dir) {
        this.dir = dir;
    }

    /** The certificates in {@code sandboxDir/tls}, made when missing. */
    public static synchronized SandboxTls ensure(Path sandboxDir, PrintStream progress) {
        Path dir = sandboxDir.resolve("tls");
        SandboxTls tls = new SandboxTls(dir);
        if (Files.isRegularFile(tls.clientKey())) {
            return tls;
        }
        progress.println("making the sandbox's TLS certificates in " + dir);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        makeCa(dir, "migrator sandbox CA");
        sign(dir, "server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        sign(dir, "client", "migrator", "extendedKeyUsage=clientAuth\n");
        return tls;
    }

    /**
     * A self-signed certificate authority in {@code dir} ({@code ca.pem}, {@code ca.key}); tests make a second one to show
     * what a wrong {@code tls.ca} does.
     */
    public static Path makeCa(Path dir, String name) {
        run(dir, "making a CA", "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                "-days", "3650", "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        privateFile(dir.resolve("ca.key"));
        return dir.resolve("ca.pem");
    }

    private static void sign(Path dir, String name, String commonName, String extensions) {
        try {
            Files.writeString(dir.resolve(name + ".ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    + extensions, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        run(dir, "making the " + name + " key", "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + commonName);
        privateFile(dir.resolve(name + ".key"));
        run(dir, "signing the " + name + " certificate", "openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "3650", "-extfile", name + ".ext");
    }

    private static void run(Path dir, String what, String... command) {
        Processes.Result result;
        try {
            java.util.List<String> line = new java.util.ArrayList<>(List.of("sh", "-c", "cd \"$0\" && exec \"$@\"", dir.toString()));
            line.addAll(List.of(command));
            result = Processes.run(line, Duration.ofSeconds(60));
        } catch (RuntimeException e) {
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, what + " for the sandbox's TLS failed: " + e.getMessage(),
                    "install openssl (apt-get install openssl)", e);
        }
        if (!result.ok()) {
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, what + " for the sandbox's TLS failed: " + result.output().strip(),
                    "install openssl (apt-get install openssl), or delete " + dir + " and run sandbox up again");
        }
    }

    private static void privateFile(Path file) {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path dir() {
        return dir;
    }

    /** The sandbox CA: what a plan's {@code tls.ca} names to reach the sandbox with verify-full. */
    public Path ca() {
        return dir.resolve("ca.pem");
    }

    public Path serverCert() {
        return dir.resolve("server.pem");
    }

    public Path serverKey() {
        return dir.resolve("server.key");
    }

    public Path clientCert() {
        return dir.resolve("client.pem");
    }

    public Path clientKey() {
        return dir.resolve("client.key");
    }
}

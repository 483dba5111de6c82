package io.migrator.core.observe;

import io.migrator.core.state.StateDir;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The token a worker without a configured {@code control.token} requires for the requests that change something
 * (pause, resume, validate, cutover, rollback): made at start, kept in a file only the worker's user can read in its
 * state folder ({@link StateDir}), where the CLI on the same host reads it. A web page another site opens in the DBA's
 * browser can reach a loopback port, but never that file.
 */
public final class ControlToken {
    private static final Logger LOG = LoggerFactory.getLogger(ControlToken.class);

    private ControlToken() {
    }

    public static Path file(String plan) {
        return StateDir.path().resolve(StateDir.fileName(plan) + ".control-token");
    }

    /** A new random token for this worker, written to {@link #file}; empty when the folder cannot be written. */
    static Optional<String> issue(String plan) {
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        String token = HexFormat.of().formatHex(random);
        Path file = file(plan);
        try {
            Files.createDirectories(file.getParent());
            Path temp = Files.createTempFile(file.getParent(), ".control-token", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(temp, token, StandardCharsets.US_ASCII);
            Files.move(temp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return Optional.of(token);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.warn("could not write the control token to {} ({}): requests that change something need control.token in the plan",
                    file, e.getMessage());
            return Optional.empty();
        }
    }

    /** The token the worker of this plan on this host issued, if any. */
    public static Optional<String> read(String plan) {
        try {
            String token = Files.readString(file(plan), StandardCharsets.US_ASCII).strip();
            return token.isEmpty() ? Optional.empty() : Optional.of(token);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Removes the file when it still holds this worker's token (a newer worker's stays). */
    static void withdraw(String plan, String token) {
        if (read(plan).filter(token::equals).isPresent()) {
            try {
                Files.deleteIfExists(file(plan));
            } catch (IOException e) {
                LOG.debug("could not remove {}: {}", file(plan), e.getMessage());
            }
        }
    }
}

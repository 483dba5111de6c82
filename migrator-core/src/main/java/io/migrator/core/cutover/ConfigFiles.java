package io.migrator.core.cutover;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * A proxy's configuration file replaced atomically, keeping its owner and mode (the proxy may run as another user). The
 * new file is created with the old one's mode (a pgbouncer.ini may hold passwords: it is never readable by others, not
 * even for a moment), and removed when anything fails.
 */
final class ConfigFiles {
    private ConfigFiles() {
    }

    static void replace(Path file, List<String> lines) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".migrator-tmp");
        Files.deleteIfExists(tmp);
        PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        PosixFileAttributes attributes = view == null ? null : view.readAttributes();
        try {
            if (attributes != null) {
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(attributes.permissions()));
                Files.setPosixFilePermissions(tmp, attributes.permissions()); // the umask may have narrowed them
                try {
                    Files.setOwner(tmp, attributes.owner());
                    Files.getFileAttributeView(tmp, PosixFileAttributeView.class).setGroup(attributes.group());
                } catch (IOException e) {
                    // not root: the file stays the worker user's, which could write the original anyway
                }
            }
            Files.write(tmp, lines, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}

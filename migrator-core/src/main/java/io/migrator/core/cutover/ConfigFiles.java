package io.migrator.core.cutover;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.List;

/** A proxy's configuration file replaced atomically, keeping its owner and mode (the proxy may run as another user). */
final class ConfigFiles {
    private ConfigFiles() {
    }

    static void replace(Path file, List<String> lines) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".migrator-tmp");
        Files.write(tmp, lines, StandardCharsets.UTF_8);
        PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        if (view != null) {
            PosixFileAttributes attributes = view.readAttributes();
            Files.setPosixFilePermissions(tmp, attributes.permissions());
            try {
                Files.setOwner(tmp, attributes.owner());
                Files.getFileAttributeView(tmp, PosixFileAttributeView.class).setGroup(attributes.group());
            } catch (IOException e) {
                // not root: the file stays the worker user's, which could write the original anyway
            }
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}

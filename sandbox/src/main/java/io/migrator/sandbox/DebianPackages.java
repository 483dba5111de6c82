package io.migrator.sandbox;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A program the tests need from a Debian package (e.g. chromium for the dashboard test), installed once when missing. */
public final class DebianPackages {
    private DebianPackages() {
    }

    /** The program's path; installs {@code pkg} with apt-get when the program is missing and this runs as root. */
    public static Path ensure(String program, String pkg, String why) {
        for (String dir : List.of("/usr/bin", "/usr/local/bin", "/bin")) {
            Path candidate = Path.of(dir, program);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        String command = "apt-get install -y --no-install-recommends " + pkg;
        if (!Processes.isRoot()) {
            throw new MigratorException(ErrorCode.SANDBOX_PACKAGES_MISSING, program + " is missing (" + why + ")",
                    "run: sudo " + command);
        }
        Map<String, String> env = Map.of("DEBIAN_FRONTEND", "noninteractive");
        List<String> install = List.of("apt-get", "install", "-y", "--no-install-recommends", pkg);
        Processes.Result result = Processes.run(install, env, null, Duration.ofMinutes(15));
        if (!result.ok()) {
            Processes.run(List.of("apt-get", "update"), env, null, Duration.ofMinutes(10));
            result = Processes.run(install, env, null, Duration.ofMinutes(15));
        }
        Path installed = Path.of("/usr/bin", program);
        if (!result.ok() || !Files.isExecutable(installed)) {
            throw new MigratorException(ErrorCode.SANDBOX_FAILED, "installing " + pkg + " failed: " + result.output()
                    .lines().reduce((a, b) -> b).orElse(""), "run '" + command + "' by hand and fix what it reports");
        }
        return installed;
    }
}

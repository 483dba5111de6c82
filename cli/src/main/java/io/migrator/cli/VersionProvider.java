package io.migrator.cli;

import picocli.CommandLine.IVersionProvider;

/** The version written into the jar's manifest at build time. */
public final class VersionProvider implements IVersionProvider {
    @Override
    public String[] getVersion() {
        String version = MigratorCommand.class.getPackage().getImplementationVersion();
        return new String[] {"migrator " + (version == null ? "(development build)" : version),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")"};
    }
}

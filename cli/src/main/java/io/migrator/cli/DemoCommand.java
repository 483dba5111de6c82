package io.migrator.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "demo", description = "The marketplace demo on sandbox servers.",
        footer = {"", "Examples:", "  migrator demo"})
final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw PendingCapability.notYet("demo", "the demo, after the engine pipelines");
    }
}

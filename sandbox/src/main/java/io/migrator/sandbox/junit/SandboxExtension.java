package io.migrator.sandbox.junit;

import io.migrator.sandbox.Sandbox;
import java.io.PrintStream;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives integration tests real servers: the same {@link Sandbox} that `migrator sandbox up` runs, in the
 * repository's .sandbox folder, started once per test JVM. Servers that already ran are reused and left
 * running; the ones this run started are stopped when the run ends.
 *
 * <pre>{@code @ExtendWith(SandboxExtension.class) class SomethingIT { @Test void t(SandboxServers servers) {...} } }</pre>
 */
public final class SandboxExtension implements ParameterResolver {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(SandboxExtension.class);

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == SandboxServers.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return context.getRoot().getStore(NAMESPACE)
                .getOrComputeIfAbsent("sandbox", key -> Running.start(), Running.class).servers;
    }

    /** The run's sandbox; closing it stops what this run started. */
    static final class Running implements ExtensionContext.Store.CloseableResource {
        final SandboxServers servers;
        private final List<String> started;

        private Running(SandboxServers servers, List<String> started) {
            this.servers = servers;
            this.started = started;
        }

        static Running start() {
            PrintStream progress = System.err;
            Sandbox sandbox = new Sandbox(Sandbox.defaultDir(), null, progress);
            List<String> notRunning = sandbox.notRunning(Sandbox.allEngines());
            sandbox.up(Sandbox.allEngines());
            return new Running(new SandboxServers(sandbox), notRunning);
        }

        @Override
        public void close() {
            if (!started.isEmpty() && !Boolean.getBoolean("migrator.sandbox.keep")) {
                servers.sandbox().down(new HashSet<>(started));
            }
        }
    }
}

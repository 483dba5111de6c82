package io.migrator.core.spi;

import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.plan.Engine;
import java.util.List;
import java.util.ServiceLoader;

/** Finds the {@link EngineConnector} for an engine among those on the class path. */
public final class EngineConnectors {
    private final List<EngineConnector> connectors;

    public EngineConnectors(List<EngineConnector> connectors) {
        this.connectors = List.copyOf(connectors);
    }

    public static EngineConnectors discover() {
        return new EngineConnectors(ServiceLoader.load(EngineConnector.class).stream().map(ServiceLoader.Provider::get).toList());
    }

    public EngineConnector forEngine(Engine engine) {
        return connectors.stream().filter(c -> c.engines().contains(engine)).findFirst()
                .orElseThrow(() -> new MigratorException(ErrorCode.INTERNAL, "no connector for engine " + engine
                        + " is on the class path", "use the migrator.jar built from this repository (./migrator)"));
    }
}

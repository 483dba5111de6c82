package io.migrator.core.spi;

import java.util.Map;

/** What a connectivity probe learned about a server: product, version and engine-specific facts. */
public record ServerInfo(String product, String version, Map<String, String> facts) {
    public ServerInfo {
        facts = Map.copyOf(facts);
    }
}

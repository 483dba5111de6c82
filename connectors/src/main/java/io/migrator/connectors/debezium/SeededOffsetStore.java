package io.migrator.connectors.debezium;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.connect.runtime.WorkerConfig;
import org.apache.kafka.connect.storage.MemoryOffsetBackingStore;

/**
 * The engine's offset store, seeded with the position committed on the target. Debezium's own offset
 * commits stay in memory: the truth is the checkpoint written in the same target transaction as the
 * rows (rule 2), and every start reads it from there.
 */
public final class SeededOffsetStore extends MemoryOffsetBackingStore {
    public static final String ENGINE_NAME = "migrator.seed.engine";
    public static final String PARTITION_SERVER = "migrator.seed.server";
    public static final String OFFSET_JSON = "migrator.seed.offset";
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public void configure(WorkerConfig config) {
        super.configure(config);
        Map<String, String> settings = config.originalsStrings();
        String offset = settings.get(OFFSET_JSON);
        if (offset == null) {
            return;
        }
        try {
            // The engine's JsonConverter (schemas disabled) writes keys as ["<engine name>",{"server":"<topic prefix>"}].
            byte[] key = JSON.writeValueAsBytes(List.of(settings.get(ENGINE_NAME), Map.of("server", settings.get(PARTITION_SERVER))));
            data.put(ByteBuffer.wrap(key), ByteBuffer.wrap(offset.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public Set<Map<String, Object>> connectorPartitions(String connectorName) {
        return Set.of();
    }
}

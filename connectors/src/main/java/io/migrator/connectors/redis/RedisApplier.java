package io.migrator.connectors.redis;

import io.migrator.connectors.redis.RedisItem.Command;
import java.util.List;

/**
 * Applies batches of the stream's commands to the target, each with its checkpoint, exactly once: one MULTI/EXEC per batch
 * on a standalone target ({@link RedisStandaloneApplier}), one per slot on a cluster ({@link RedisClusterApplier}).
 */
interface RedisApplier {
    /** Applies one batch (a source transaction never spans two); its replies may be read with the next one's. */
    void apply(List<Command> batch);

    /** Reads the replies of what is still in flight: after it the checkpoint is what the target holds. */
    void drain();

    /** Whether a batch was sent whose replies are not read yet. */
    boolean inFlight();

    /** A new replication history begins (after a full sync): offsets of the old one must not pass for it. */
    void newHistory();
}

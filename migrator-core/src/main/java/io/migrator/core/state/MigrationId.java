package io.migrator.core.state;

import java.util.Objects;

/**
 * Who a migration is beyond its name: an id made at its first run and stored on both sides, with the other side as it
 * was then ({@code peer}: the target as the source records it, the source as the target records it), for messages.
 * {@code peerKeepsId}: whether the other side could store the id too (a source without the privilege cannot); only then
 * is a missing id there a sign of another migration.
 */
public record MigrationId(String id, String peer, boolean peerKeepsId) {
    public MigrationId {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(peer, "peer");
    }
}

package io.migrator.connectors.redis;

import com.moilioncircle.redis.replicator.Replicator;
import com.moilioncircle.redis.replicator.event.Event;
import com.moilioncircle.redis.replicator.io.RedisInputStream;
import com.moilioncircle.redis.replicator.rdb.BaseRdbParser;
import com.moilioncircle.redis.replicator.rdb.datatype.ContextKeyValuePair;
import com.moilioncircle.redis.replicator.rdb.datatype.KeyValuePair;
import com.moilioncircle.redis.replicator.rdb.dump.DumpRdbVisitor;
import com.moilioncircle.redis.replicator.rdb.dump.datatype.DumpKeyValuePair;
import java.io.IOException;

/**
 * The full sync's RDB read as one event per key: a string key's value as its plain bytes (the integer and LZF encodings of
 * the RDB undone), marked {@link #PLAIN_STRING}, so the target gets {@code SET}/{@code MSET}, the cheapest command that keeps
 * it exact (value and expiry); every other type as a DUMP payload for {@code RESTORE}, re-encoded for an older target's RDB
 * version when {@code payloadVersion} says so. Most keys of most caches are strings (sessions, carts, counters): no DUMP
 * payload, no CRC64 over it on the JVM, no payload check and RDB decoding on the target.
 */
final class RedisRdbVisitor extends DumpRdbVisitor {
    /** The value type of an event whose value is a string's plain bytes, not a DUMP payload (not an RDB type). */
    static final int PLAIN_STRING = -2;

    /** {@code payloadVersion}: the RDB version payloads are written for, -1 for the source's own. */
    RedisRdbVisitor(Replicator replicator, int payloadVersion) {
        super(replicator, payloadVersion, 512); // 512: the first buffer of a payload (the library's default is 8 KB a key)
    }

    @Override
    public Event applyString(RedisInputStream in, int version, ContextKeyValuePair context) throws IOException {
        BaseRdbParser parser = new BaseRdbParser(in);
        KeyValuePair<byte[], byte[]> pair = new DumpKeyValuePair();
        pair.setKey(parser.rdbLoadEncodedStringObject().first());
        pair.setValue(parser.rdbLoadEncodedStringObject().first());
        pair.setValueRdbType(PLAIN_STRING);
        return context.valueOf(pair);
    }
}

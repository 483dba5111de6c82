package io.migrator.connectors.debezium;

import java.nio.ByteBuffer;

/** Values as Kafka Connect carries them out of every Debezium connector, whatever the engine. */
public final class ConnectValues {
    private ConnectValues() {
    }

    /** A binary value's bytes: Connect hands them as a byte array or as a buffer (read without moving its position). */
    public static byte[] bytes(Object value) {
        if (value instanceof byte[] b) {
            return b;
        }
        ByteBuffer buffer = ((ByteBuffer) value).duplicate();
        byte[] out = new byte[buffer.remaining()];
        buffer.get(out);
        return out;
    }
}

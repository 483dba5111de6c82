package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import com.moilioncircle.redis.replicator.Configuration;
import com.moilioncircle.redis.replicator.RedisReplicator;
import com.moilioncircle.redis.replicator.io.RedisInputStream;
import com.moilioncircle.redis.replicator.rdb.datatype.ContextKeyValuePair;
import com.moilioncircle.redis.replicator.rdb.dump.datatype.DumpKeyValuePair;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * A string key of the RDB arrives as its plain value whatever the RDB's encoding of it (plain, the integer encodings, LZF),
 * marked as such; the applier writes it with SET/MSET. (The Redis ITs carry real RDBs with all of these through.)
 */
class RedisRdbVisitorTest {
    private static DumpKeyValuePair read(byte[] rdbKeyAndValue) throws Exception {
        try (RedisReplicator replicator = new RedisReplicator("127.0.0.1", 1, Configuration.defaultSetting())) {
            RedisRdbVisitor visitor = new RedisRdbVisitor(replicator, -1);
            return (DumpKeyValuePair) visitor.applyString(new RedisInputStream(new ByteArrayInputStream(rdbKeyAndValue)), 10,
                    new ContextKeyValuePair());
        }
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    @Test
    void everyStringEncodingOfTheRdbBecomesThePlainValue() throws Exception {
        DumpKeyValuePair plain = read(new byte[] {1, 'k', 5, 'h', 'e', 'l', 'l', 'o'});
        assertThat(text(plain.getKey())).isEqualTo("k");
        assertThat(text(plain.getValue())).isEqualTo("hello");
        assertThat(plain.getValueRdbType()).isEqualTo(RedisRdbVisitor.PLAIN_STRING);

        assertThat(text(read(new byte[] {1, 'k', (byte) 0xC0, (byte) 0x85}).getValue())).as("int8").isEqualTo("-123");
        assertThat(text(read(new byte[] {1, 'k', (byte) 0xC1, 0x39, 0x30}).getValue())).as("int16, little-endian").isEqualTo("12345");
        assertThat(text(read(new byte[] {1, 'k', (byte) 0xC2, 0x15, (byte) 0xCD, 0x5B, 0x07}).getValue())).as("int32")
                .isEqualTo("123456789");
        // LZF: clen 7, len 8; a literal run of 3 ("abc"), then a back reference of length 5 to offset 3 ("abcab")
        byte[] lzf = {1, 'k', (byte) 0xC3, 6, 8, 0x02, 'a', 'b', 'c', (byte) 0x60, 0x02};
        assertThat(text(read(lzf).getValue())).as("LZF").isEqualTo("abcabcab");
    }
}

package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import com.moilioncircle.redis.replicator.util.CRC64;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FastDumpValueVisitorTest {
    @Test
    void theEightBytesAStepCrcEqualsRedisReplicatorsBytewiseOne() {
        Random random = new Random(3);
        for (int n : new int[] {0, 1, 7, 8, 9, 15, 16, 17, 100, 1000, 65_537}) {
            byte[] data = new byte[n + 5];
            random.nextBytes(data);
            assertThat(FastDumpValueVisitor.crc64(data, 2, n + 2)).as("length " + n).isEqualTo(CRC64.crc64(data, 2, n));
        }
        // the CRC Redis documents for its crc64: "123456789" -> 0xe9c6d914c4b8d9ca
        assertThat(FastDumpValueVisitor.crc64("123456789".getBytes(), 0, 9)).isEqualTo(0xe9c6d914c4b8d9caL);
    }

    @Test
    void aPayloadEndsWithVersionAndCrc() {
        FastDumpValueVisitor.Payload payload = new FastDumpValueVisitor.Payload((byte) 0);
        payload.handle(new byte[] {3, 'a', 'b', 'c'});
        byte[] out = payload.finish(10);
        assertThat(out).hasSize(5 + 2 + 8);
        assertThat(out[5]).isEqualTo((byte) 10);
        assertThat(CRC64.crc64(out, 0, 7)).isEqualTo(FastDumpValueVisitor.crc64(out, 0, 7));
    }
}

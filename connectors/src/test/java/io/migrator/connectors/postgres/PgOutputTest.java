package io.migrator.connectors.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.migrator.core.change.RowChange;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** pgoutput's protocol 1 and 2 messages as the documentation lays them out, read back field by field. */
class PgOutputTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final DataOutputStream out = new DataOutputStream(bytes);

    private ByteBuffer message() {
        return ByteBuffer.wrap(bytes.toByteArray());
    }

    private void string(String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.write(0);
    }

    @Test
    void beginAndCommitCarryTheirLsnsAndTheCommitTimeInUnixMilliseconds() throws IOException {
        out.write('B');
        out.writeLong(0x1_0000_0100L);
        out.writeLong(1_000_000L); // 1 s after 2000-01-01 00:00:00 UTC
        out.writeInt(-2); // xids are unsigned
        PgOutput.Begin begin = (PgOutput.Begin) PgOutput.read(message());
        assertThat(begin.finalLsn()).isEqualTo(0x1_0000_0100L);
        assertThat(begin.commitMillis()).isEqualTo(946_684_801_000L);
        assertThat(begin.xid()).isEqualTo(4_294_967_294L);

        bytes.reset();
        out.write('C');
        out.write(0);
        out.writeLong(0x200);
        out.writeLong(0x230);
        out.writeLong(0);
        PgOutput.Commit commit = (PgOutput.Commit) PgOutput.read(message());
        assertThat(commit.commitLsn()).isEqualTo(0x200);
        assertThat(commit.endLsn()).isEqualTo(0x230);
        assertThat(commit.commitMillis()).isEqualTo(946_684_800_000L);
    }

    @Test
    void theStreamMessagesOfProtocol2CarryTheirXidsAndAChangeInABlockBeginsWithItsOwn() throws IOException {
        out.write('S');
        out.writeInt(700);
        out.write(1);
        assertThat(PgOutput.read(message())).isEqualTo(new PgOutput.StreamStart(700, true));

        bytes.reset();
        out.write('I');
        out.writeInt(701); // the subtransaction's xid, in a stream block only
        out.writeInt(16384);
        out.write('N');
        out.writeShort(1);
        out.write('t');
        out.writeInt(2);
        out.write("42".getBytes(StandardCharsets.UTF_8));
        assertThat(PgOutput.streamedXid(message())).isEqualTo(701);
        PgOutput.Insert insert = (PgOutput.Insert) PgOutput.read(message(), true);
        assertThat(insert.relation()).isEqualTo(16384);
        assertThat(insert.values()).containsExactly("42");

        bytes.reset();
        out.write('E');
        assertThat(PgOutput.read(message())).isEqualTo(new PgOutput.StreamStop());
        assertThat(PgOutput.streamedXid(message())).isEqualTo(-1);

        bytes.reset();
        out.write('A');
        out.writeInt(700);
        out.writeInt(-3);
        assertThat(PgOutput.read(message())).isEqualTo(new PgOutput.StreamAbort(700, 4_294_967_293L));

        bytes.reset();
        out.write('c');
        out.writeInt(700);
        out.write(0);
        out.writeLong(0x500);
        out.writeLong(0x530);
        out.writeLong(2_000_000L);
        assertThat(PgOutput.read(message())).isEqualTo(new PgOutput.StreamCommit(700, 0x500, 0x530, 946_684_802_000L));
    }

    @Test
    void aRelationNamesItsColumnsTypesAndKeyAndAnEmptyNamespaceIsPgCatalog() throws IOException {
        out.write('R');
        out.writeInt(16384);
        string("");
        string("say \"hi\" é");
        out.write('i');
        out.writeShort(2);
        out.write(1);
        string("a;b");
        out.writeInt(23);
        out.writeInt(-1);
        out.write(0);
        string("doc");
        out.writeInt(17);
        out.writeInt(-1);
        PgOutput.Relation r = (PgOutput.Relation) PgOutput.read(message());
        assertThat(r.schema()).isEqualTo("pg_catalog");
        assertThat(r.name()).isEqualTo("say \"hi\" é");
        assertThat(r.replicaIdentity()).isEqualTo('i');
        assertThat(r.columns()).containsExactly(new PgOutput.Column("a;b", 23, -1, true), new PgOutput.Column("doc", 17, -1, false));
    }

    @Test
    void anUpdateWithItsOldKeyReadsNullUnchangedToastAndText() throws IOException {
        out.write('U');
        out.writeInt(7);
        out.write('K');
        out.writeShort(2);
        out.write('t');
        out.writeInt(1);
        out.write('1');
        out.write('n');
        out.write('N');
        out.writeShort(2);
        out.write('t');
        out.writeInt(2);
        out.write("é".getBytes(StandardCharsets.UTF_8));
        out.write('u');
        PgOutput.Update u = (PgOutput.Update) PgOutput.read(message());
        assertThat(u.relation()).isEqualTo(7);
        assertThat(u.old()).containsExactly("1", null);
        assertThat(u.values()).containsExactly("é", RowChange.UNCHANGED);
    }

    @Test
    void aTruncateListsItsTablesAndOptionsAndAnUnknownKindFailsLoudly() throws IOException {
        out.write('T');
        out.writeInt(2);
        out.write(1);
        out.writeInt(10);
        out.writeInt(11);
        PgOutput.Truncate t = (PgOutput.Truncate) PgOutput.read(message());
        assertThat(t.relations()).containsExactly(10, 11);
        assertThat(t.cascade()).isTrue();
        assertThat(t.restartIdentity()).isFalse();

        bytes.reset();
        out.write('P'); // Stream Prepare: protocol 3 (two-phase commit), never asked for
        assertThatThrownBy(() -> PgOutput.read(message())).hasMessageContaining("'P'").hasMessageContaining("protocol versions 1 and 2");
    }

    @Test
    void byteaTextIsHex() {
        assertThat(PgOutput.bytea("\\x00ff10")).containsExactly(0, 0xff, 0x10);
        assertThatThrownBy(() -> PgOutput.bytea("abc")).hasMessageContaining("bytea_output = hex");
    }
}

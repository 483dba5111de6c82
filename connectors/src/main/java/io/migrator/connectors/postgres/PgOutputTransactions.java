package io.migrator.connectors.postgres;

import io.migrator.core.change.ChangeBatch;
import io.migrator.core.change.RowChange;
import io.migrator.core.change.RowImage;
import io.migrator.core.change.RowKey;
import io.migrator.core.change.SourcePosition;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import io.migrator.core.schema.TableDef;
import io.migrator.core.schema.TableId;
import io.migrator.core.spi.ChangeStream.Handler;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@link PgOutputStream} reads, made into batches for the applier: pgoutput's messages in the order the walsender
 * sends them (transactions whole at their commit, or — protocol 2 — in stream blocks kept in a {@link PgOutputSpool}
 * each until their Stream Commit replays them), rows keyed by the plan's tables, positions that say how far the target
 * got ({@link PostgresPosition}), batches of at most {@value #MAX_BATCH} changes that go out open while a transaction
 * goes on ({@link ChangeBatch#open}), and the statements the target's judge reads (a table's columns, a TRUNCATE). A
 * resume inside a transaction skips the changes the target holds. One per stream session, on the stream's thread only.
 */
final class PgOutputTransactions implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PgOutputTransactions.class);
    /** Changes per batch: three batches in flight cover the applier's commit, and a large transaction is cut at this size. */
    static final int MAX_BATCH = 2048;
    /** How the statements this stream makes of a source TRUNCATE begin ({@link PostgresColumnJudge}). */
    static final String TRUNCATE = "TRUNCATE TABLE ";
    /**
     * How the statements begin that describe a plan table's columns as the walsender sends them ({@link PostgresColumnJudge}
     * adds on the target what the source added), made before the first change of the table in a session and after every
     * change of its shape.
     */
    static final String RELATION = "-- pgoutput relation ";
    private static final int BYTEA = 17;

    private final Map<TableId, TableDef> tables = new HashMap<>();
    private final Map<Integer, Rel> relations = new HashMap<>();
    private final String slot;
    private final PostgresSource source;
    /** The direction this stream feeds: transactions migrator's applier of the opposite direction wrote are not sent back. */
    private final String migration;
    private long originSkipped;

    // where the stream resumes (from the stored position)
    private final long resumeCommit;
    private final long resumeXid;
    private final long resumeSeq;
    private final long resumeLsn;

    // the transaction being read
    private long xid = -1;
    private long txMillis;
    /** Where the transaction being read commits (its Begin says): the slot may be confirmed up to there and still send it again. */
    private long txFinal;
    private long seq;
    private boolean skipping;
    /** The transaction being read was written by migrator's applier of the opposite direction (its Origin said): none of it goes. */
    private boolean echo;
    private long lastCommitEnd;
    private final List<RowChange> pending = new ArrayList<>();
    /** Where the pending batch ends, kept as numbers and made a position only when the batch goes (not once per change). */
    private boolean positionPending;
    private long pendingLsn;
    private long pendingTx;
    private long pendingSeq;
    private long pendingCommit;
    private long pendingFinal;
    private long pendingMillis;
    /** How many of the pending changes belong to transactions that ended (they come first), and their latest commit time. */
    private int committed;
    private long committedMillis;
    /** Protocol 2: transactions in progress that streamed ahead of their commit, each kept in a spool until then. */
    private final Map<Long, PgOutputSpool> spools = new HashMap<>();
    /** The spool of the stream block being read and its transaction; null outside blocks. */
    private PgOutputSpool block;
    private long blockXid;
    private java.nio.file.Path spoolDirectory;
    /** Open batches of the transaction being read went out (a target transaction holds them until a closed batch), the last one's position. */
    private boolean partsOpen;
    private SourcePosition lastPart;

    PgOutputTransactions(List<TableDef> tables, SourcePosition from, String slot, PostgresSource source, String migration) {
        this.migration = migration;
        for (TableDef t : tables) {
            this.tables.put(t.id(), t);
        }
        this.slot = slot;
        this.source = source;
        Map<String, Object> offset = PostgresPosition.offset(from);
        this.resumeCommit = resumeCommit(from);
        this.resumeXid = number(offset.get("txId"), -1);
        this.resumeSeq = number(offset.get("seq"), -1);
        this.resumeLsn = number(offset.get("lsn"), 0);
        this.lastCommitEnd = resumeCommit;
    }

    /** Where the server is asked to begin for this position: the end of the last transaction the target holds whole. */
    static long resumeCommit(SourcePosition from) {
        Map<String, Object> offset = PostgresPosition.offset(from);
        return PostgresPosition.isStart(from) ? number(offset.get("lsn"), 0) : number(offset.get("lsn_commit"), 0);
    }

    static long number(Object value, long otherwise) {
        return value instanceof Number n ? n.longValue() : otherwise;
    }

    /** Whether a change read is waiting to go (at a transaction's end, or a batch of a transaction whose rest is slow to come). */
    boolean hasPending() {
        return positionPending;
    }

    boolean inTransaction() {
        return xid >= 0;
    }

    /** What is pending goes now. */
    void flush(Handler handler) throws InterruptedException {
        emit(handler);
    }

    /** How often at most the stream's position moves to a keepalive's while no transaction comes ({@link #idleTo}). */
    private static final long IDLE_EVERY_NANOS = 5_000_000_000L;
    private long idleSent = System.nanoTime();

    /**
     * Between transactions, with nothing read left to send: every transaction that ended before the server's keepalive
     * position {@code serverLsn} was sent, so that position is where a restart may begin. It goes to the target as an empty
     * batch (at most every 5 s), the checkpoint moves there, and the slot is confirmed there only once the target holds it:
     * the slot keeps no WAL for tables the plan does not hold (or for a source without the heartbeat table) and is never
     * confirmed past the checkpoint. Never inside a transaction or while one streams. True when a batch went.
     */
    boolean idleTo(Handler handler, long serverLsn) throws InterruptedException {
        if (xid >= 0 || positionPending || skipping || !spools.isEmpty() || block != null || serverLsn <= lastCommitEnd
                || System.nanoTime() - idleSent < IDLE_EVERY_NANOS) {
            return false;
        }
        idleSent = System.nanoTime();
        lastCommitEnd = serverLsn;
        pendingAt(serverLsn, -1, 0);
        emit(handler);
        return true;
    }

    /**
     * The heartbeat message (PostgreSQL 14+, {@link PostgresHeartbeat#MESSAGE_PREFIX}), sent as the walsender decoded it:
     * between transactions, every transaction that committed before its LSN was sent, so that LSN is where a restart may
     * begin and its content — the source's clock then — is how fresh the target is once it holds it. Pending like a
     * transaction's end, and sent with the next batch or when the stream falls quiet; a transaction streaming ahead of its
     * commit keeps the position where it is (only the spooled transaction's commit moves it past its start).
     */
    private void heartbeat(long lsn, byte[] content) {
        if (xid >= 0 || skipping || !spools.isEmpty() || block != null || lsn <= lastCommitEnd) {
            return;
        }
        long millis;
        try {
            millis = Long.parseLong(new String(content, java.nio.charset.StandardCharsets.US_ASCII));
        } catch (NumberFormatException e) {
            return; // not migrator's
        }
        lastCommitEnd = lsn;
        pendingAt(lsn, -1, 0);
        pendingMillis = Math.max(pendingMillis, millis);
        committed = pending.size();
        committedMillis = pendingMillis;
    }

    /** Deletes the spools of transactions that did not commit while the stream ran (the server sends them again). */
    @Override
    public void close() {
        for (PgOutputSpool spool : spools.values()) {
            spool.close();
        }
        spools.clear();
        PgOutputSpool.deleteDirectory(spoolDirectory);
    }

    /**
     * A relation as the walsender described it, and what migrator makes of it; {@code described[0]}: its columns went to the
     * target's judge since this Relation message (this session). A new message makes a new Rel.
     */
    private record Rel(TableId id, PgOutput.Relation relation, TableDef def, boolean heartbeat, String[] names, boolean[] bytea, int[] key,
            boolean anyBytea, boolean[] described) {
    }

    /** The relation of the last change (a stream mostly changes one table after another): looked up again only when it differs. */
    private Rel lastRel;

    /**
     * One message from the walsender. Inside a stream block (protocol 2) a message is spooled to its transaction's file as
     * it came; its Stream Commit replays them as a transaction sent whole (Begin, the changes, Commit), so positions,
     * batches and the target transaction are the same as for one sent at its commit; its Stream Abort drops them.
     */
    void receive(Handler handler, ByteBuffer data, long lsn) throws InterruptedException {
        if (block != null) {
            if (data.get(data.position()) == 'E') {
                block = null;
                return;
            }
            long subxid = PgOutput.streamedXid(data);
            if (data.get(data.position()) == 'O') {
                subxid = blockXid; // a transaction's origin follows its first Stream Start, without an xid of its own
            }
            if (subxid < 0) {
                throw new IllegalStateException("pgoutput sent a message of kind '" + (char) data.get(data.position())
                        + "' inside a stream block");
            }
            block.add(subxid, lsn, data);
            return;
        }
        PgOutput.Message message = PgOutput.read(data);
        if (message instanceof PgOutput.StreamStart start) {
            if (spoolDirectory == null) {
                spoolDirectory = PgOutputSpool.directory(slot);
            }
            block = spools.computeIfAbsent(start.xid(), x -> new PgOutputSpool(spoolDirectory, x));
            blockXid = start.xid();
        } else if (message instanceof PgOutput.StreamAbort abort) {
            PgOutputSpool spool = spools.get(abort.xid());
            if (spool == null) {
                return;
            }
            if (abort.subxid() == abort.xid()) {
                spools.remove(abort.xid()).close();
            } else {
                spool.abort(abort.subxid());
            }
        } else if (message instanceof PgOutput.StreamCommit commit) {
            PgOutputSpool spool = spools.remove(commit.xid());
            if (spool == null) {
                throw new IllegalStateException("pgoutput committed streamed transaction " + commit.xid() + " without streaming it");
            }
            try (spool; PgOutputSpool.Reader messages = spool.reader()) {
                LOG.debug("transaction {} committed after streaming {} messages ({} bytes) ahead of its commit", commit.xid(),
                        spool.messages(), spool.bytes());
                handle(handler, new PgOutput.Begin(commit.commitLsn(), commit.commitMillis(), commit.xid()), commit.commitLsn());
                while (messages.next()) {
                    handle(handler, PgOutput.read(messages.message(), true), messages.lsn());
                }
                handle(handler, new PgOutput.Commit(commit.commitLsn(), commit.endLsn(), commit.commitMillis()), commit.endLsn());
            }
        } else {
            handle(handler, message, lsn);
        }
    }

    private void handle(Handler handler, PgOutput.Message message, long lsn) throws InterruptedException {
        if (message instanceof PgOutput.Begin b) {
            xid = b.xid();
            txMillis = b.commitMillis();
            txFinal = b.finalLsn();
            seq = 0;
            skipping = resumeCommit > 0 && b.finalLsn() < resumeCommit; // ended before the checkpoint: the target has it all
            echo = false;
        } else if (message instanceof PgOutput.Commit c) {
            xid = -1;
            echo = false;
            lastCommitEnd = c.endLsn();
            if (skipping) {
                skipping = false;
                return;
            }
            pendingAt(c.endLsn(), -1, 0);
            pendingMillis = Math.max(pendingMillis, c.commitMillis());
            committed = pending.size();
            committedMillis = pendingMillis;
            if (pending.size() >= MAX_BATCH) {
                emit(handler);
            }
        } else if (message instanceof PgOutput.Relation r) {
            Rel known = relations.get(r.id());
            // the walsender describes a table again after any invalidation of it (an ANALYZE or VACUUM of the table on the
            // source, a new stream block of a streamed transaction): the same description is no change, and describing it to
            // the target would commit a large transaction's open batches in its middle (PostgresBigTransactionIT met it)
            if (known == null || !known.relation().equals(r)) {
                relations.put(r.id(), relation(r)); // a new Rel: its columns are judged again before its next change
                lastRel = null;
            }
        } else if (message instanceof PgOutput.Insert i) {
            change(handler, lsn, i.relation(), null, i.values());
        } else if (message instanceof PgOutput.Update u) {
            change(handler, lsn, u.relation(), u.old(), u.values());
        } else if (message instanceof PgOutput.Delete d) {
            change(handler, lsn, d.relation(), d.old(), null);
        } else if (message instanceof PgOutput.Truncate t) {
            truncate(handler, lsn, t);
        } else if (message instanceof PgOutput.LogicalMessage m && !m.transactional()
                && PostgresHeartbeat.MESSAGE_PREFIX.equals(m.prefix())) {
            heartbeat(m.lsn(), m.content());
        } else if (message instanceof PgOutput.Origin o) {
            // its commit still moves the position like any transaction without plan rows; its changes do not go
            echo = PostgresOrigin.writtenByOpposite(o.name(), migration);
            if (echo && originSkipped++ % 100_000 == 0) {
                LOG.info("not sending back transactions migrator's other direction wrote (origin {}): {} so far in this session",
                        o.name(), originSkipped);
            } else if (!echo) {
                LOG.debug("transaction {} replayed from origin {}", xid, o.name());
            }
        }
        // Type and logical decoding messages carry no rows; values are text the target parses with the column's own type
    }

    /** Whether the change with this ordinal in the current transaction is already on the target (a resume inside it). */
    private boolean alreadyApplied(long lsn) {
        if (skipping || echo) {
            return true;
        }
        if (xid != resumeXid || resumeXid < 0) {
            return false;
        }
        // a Debezium position names the last applied change by its LSN, which several changes share (a multi-row insert is one
        // WAL record): those at that LSN are applied again (full images: the same result), none is skipped unapplied
        return resumeSeq >= 0 ? seq <= resumeSeq : lsn < resumeLsn;
    }

    private void change(Handler handler, long lsn, int relationId, Object[] old, Object[] values) throws InterruptedException {
        seq++;
        if (alreadyApplied(lsn)) {
            return;
        }
        Rel rel = lastRel;
        if (rel == null || rel.relation().id() != relationId) {
            rel = relations.get(relationId); // the lookup (and an Integer) only when the relation differs from the last change's
            lastRel = rel;
        }
        if (rel == null) {
            throw new IllegalStateException("pgoutput sent a change of relation " + relationId + " before describing it");
        }
        if (rel.def() == null) {
            return; // the heartbeat, or a table the plan does not hold
        }
        if (!rel.described()[0]) {
            rel.described()[0] = true;
            describe(handler, lsn, rel);
        }
        if (values == null) {
            pending.add(new RowChange.Delete(key(rel, old)));
        } else {
            RowKey key = key(rel, values);
            if (old != null) {
                RowKey before = key(rel, old);
                if (!before.equals(key)) {
                    pending.add(new RowChange.Delete(before)); // a key change: the old row goes, the new one comes
                    Map<String, Object> row = row(rel, values);
                    if (RowChange.partial(row)) {
                        // unchanged TOAST values are not sent and the row does not exist under its new key: read it from the source
                        // (a later state, which the stream's following changes bring back in line)
                        source.awaitVisible(xid); // or the read could miss this very transaction's row
                        pending.add(source.readRow(rel.def(), key.values()));
                    } else {
                        pending.add(new RowChange.Upsert(key, row));
                    }
                    afterChange(handler, lsn);
                    return;
                }
            }
            pending.add(new RowChange.Upsert(key, row(rel, values)));
        }
        afterChange(handler, lsn);
    }

    /**
     * Before the first change of a plan table in a session, and the first after its shape changed: the rows before it go,
     * then its columns as a statement of their own (the target adds what the source added), at the position just before
     * this change, so a restart that stops after the statement applies this change and none before it again.
     */
    private void describe(Handler handler, long lsn, Rel rel) throws InterruptedException {
        emit(handler, false); // the rows before it go first, and a target transaction the transaction's open batches hold commits
        String statement = PostgresColumnJudge.relationStatement(rel.id(), java.util.Arrays.asList(rel.names()));
        handler.onBatch(new ChangeBatch(List.of(), position(lsn, xid, seq - 1, lastCommitEnd, txFinal), txMillis, List.of(statement)));
        positionPending = false;
        pendingMillis = 0;
    }

    private void afterChange(Handler handler, long lsn) throws InterruptedException {
        pendingAt(lsn, xid, seq);
        pendingMillis = Math.max(pendingMillis, txMillis);
        if (pending.size() >= MAX_BATCH) {
            if (committed > 0) {
                // the transactions that ended before this one go closed, at the last one's end; only a transaction that
                // fills a batch by itself goes out open (else, under steady load, every batch would end inside a
                // transaction and the target's transaction would stay open until the stream fell quiet)
                List<RowChange> done = new ArrayList<>(pending.subList(0, committed));
                pending.subList(0, committed).clear();
                committed = 0;
                handler.onBatch(new ChangeBatch(done, position(lastCommitEnd, -1, 0, lastCommitEnd, 0), committedMillis, List.of(), false));
                partsOpen = false;
                pendingMillis = txMillis;
            }
            if (pending.size() >= MAX_BATCH) {
                emit(handler);
            }
        }
    }

    private void truncate(Handler handler, long lsn, PgOutput.Truncate t) throws InterruptedException {
        seq++;
        if (alreadyApplied(lsn)) {
            return;
        }
        List<String> names = new ArrayList<>();
        for (int id : t.relations()) {
            Rel rel = relations.get(id);
            if (rel != null && rel.def() != null) {
                names.add(PostgresDialect.quote(rel.id()));
            }
        }
        if (names.isEmpty()) {
            return;
        }
        // one statement for the tables the source truncated together (a table referencing another is in the same statement,
        // or the source's own TRUNCATE would have failed), with the source's options
        List<String> statements = List.of(TRUNCATE + String.join(", ", names) + (t.restartIdentity() ? " RESTART IDENTITY" : "")
                + (t.cascade() ? " CASCADE" : ""));
        emit(handler, false); // the rows before the TRUNCATE go first (and commit what open batches of the transaction wrote)
        SourcePosition position = position(lsn, xid, seq, lastCommitEnd, txFinal);
        handler.onBatch(new ChangeBatch(List.of(), position, Math.max(pendingMillis, txMillis), statements));
        positionPending = false;
        pendingMillis = 0;
    }

    private void pendingAt(long lsn, long tx, long ordinal) {
        positionPending = true;
        pendingLsn = lsn;
        pendingTx = tx;
        pendingSeq = ordinal;
        pendingCommit = lastCommitEnd;
        pendingFinal = txFinal;
    }

    /** What is pending goes; open when it ends inside a transaction (the target commits it with the transaction's last batch). */
    private void emit(Handler handler) throws InterruptedException {
        emit(handler, pendingTx >= 0);
    }

    private void emit(Handler handler, boolean open) throws InterruptedException {
        if (!positionPending) {
            if (!open && partsOpen) {
                // a statement inside the transaction: the open batches commit first, at the last one's position inside it
                handler.onBatch(new ChangeBatch(List.of(), lastPart, 0, List.of(), false));
                partsOpen = false;
            }
            return;
        }
        SourcePosition at = position(pendingLsn, pendingTx, pendingSeq, pendingCommit, pendingFinal);
        ChangeBatch batch = new ChangeBatch(pending, at, pendingMillis, List.of(), open);
        handler.onBatch(batch);
        partsOpen = open;
        lastPart = at;
        pending.clear();
        committed = 0;
        positionPending = false;
        pendingMillis = 0;
    }

    /**
     * A transaction's end ({@code tx} negative), or the change {@code seq} of transaction {@code tx} at {@code lsn}, which
     * commits at {@code finalLsn} ({@code lsn_final}: a resume needs the slot confirmed no further than there).
     */
    private static SourcePosition position(long lsn, long tx, long ordinal, long lastCommitEnd, long finalLsn) {
        Map<String, Object> offset = new LinkedHashMap<>();
        offset.put("lsn", lsn);
        offset.put("lsn_proc", lsn);
        offset.put("lsn_commit", lastCommitEnd);
        if (tx >= 0) {
            offset.put("txId", tx);
            offset.put("seq", ordinal);
            offset.put("lsn_final", finalLsn);
        }
        return PostgresPosition.of(offset);
    }

    private Rel relation(PgOutput.Relation r) {
        TableId id = new TableId(r.schema(), r.name());
        boolean heartbeat = id.schema().equals(PostgresHeartbeat.SCHEMA) && id.name().equals(PostgresHeartbeat.TABLE);
        TableDef def = heartbeat ? null : tables.get(id);
        Rel earlier = relations.get(r.id());
        if (earlier != null && earlier.def() != null && !earlier.id().equals(id)) {
            // the publication still holds the table under its new name: its changes would be dropped as outside the plan
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source's table " + earlier.id() + " was renamed to " + id
                    + " while streaming", "rename it back (ALTER TABLE " + PostgresDialect.quote(id) + " RENAME TO "
                    + PostgresDialect.quote(earlier.id().name()) + "), or rename the target's table the same way and put the new name in "
                    + "the plan's tables; then `migrator run` again resumes from the last applied change");
        }
        String[] names = new String[r.columns().size()];
        boolean[] bytea = new boolean[names.length];
        for (int i = 0; i < names.length; i++) {
            names[i] = r.columns().get(i).name();
            bytea[i] = r.columns().get(i).typeOid() == BYTEA;
        }
        int[] key = new int[0];
        if (def != null) {
            key = new int[def.key().size()];
            for (int k = 0; k < key.length; k++) {
                key[k] = java.util.Arrays.asList(names).indexOf(def.key().get(k));
                if (key[k] < 0) {
                    throw noKey(id, "its key column " + def.key().get(k) + " is not among the columns the publication sends");
                }
            }
            Rel known = relations.values().stream().filter(x -> x.id().equals(id)).findFirst().orElse(null);
            if (known != null && !known.relation().columns().equals(r.columns())) {
                LOG.warn("the source's table {} changed while streaming: columns {} are now {}; the target's table must be changed the same way",
                        id, known.relation().columns().stream().map(PgOutput.Column::name).toList(),
                        r.columns().stream().map(PgOutput.Column::name).toList());
            }
        }
        boolean anyBytea = false;
        for (boolean b : bytea) {
            anyBytea |= b;
        }
        return new Rel(id, r, def, heartbeat, names, bytea, key, anyBytea, new boolean[1]);
    }

    private static MigratorException noKey(TableId table, String why) {
        return new MigratorException(ErrorCode.PREFLIGHT_FAILED, "a change of " + table + " carries no key: " + why,
                "give the table a key its changes carry (ALTER TABLE ... REPLICA IDENTITY USING INDEX a unique index over NOT NULL "
                        + "columns, or ADD PRIMARY KEY), then `migrator run` again");
    }

    private static RowKey key(Rel rel, Object[] values) {
        List<String> columns = rel.def().key();
        List<Object> key = new ArrayList<>(columns.size());
        for (int k = 0; k < rel.key().length; k++) {
            int i = rel.key()[k];
            Object v = values[i];
            if (v == null || v == RowChange.UNCHANGED) {
                throw noKey(rel.id(), "the change does not send its key column " + columns.get(k) + " (replica identity "
                        + rel.relation().replicaIdentity() + ")");
            }
            key.add(rel.bytea()[i] ? PgOutput.bytea((String) v) : v);
        }
        return new RowKey(rel.id(), columns, key);
    }

    /** The tuple's values as a row image over the relation's column names (the tuple's array is the image's own from here on). */
    private static Map<String, Object> row(Rel rel, Object[] values) {
        if (rel.anyBytea()) {
            for (int i = 0; i < values.length; i++) {
                if (values[i] instanceof String s && rel.bytea()[i]) {
                    values[i] = PgOutput.bytea(s);
                }
            }
        }
        return new RowImage(rel.names(), values);
    }
}

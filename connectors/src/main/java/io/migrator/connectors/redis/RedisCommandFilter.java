package io.migrator.connectors.redis;

import io.migrator.connectors.redis.RedisItem.Command;
import io.migrator.core.error.ErrorCode;
import io.migrator.core.error.MigratorException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;

/**
 * Which commands of the stream the plan takes: its databases' (the appliers decide those), its key patterns' (keys.include
 * and keys.exclude), never migrator's own bookkeeping keys. A command whose keys are partly inside is split when it can be.
 */
final class RedisCommandFilter {
    private final Predicate<byte[]> keyFilter;
    private final RedisBookkeeping books;
    /** The source's command table (key positions), read again at every stream start. */
    RedisCommandTable commands;

    RedisCommandFilter(Predicate<byte[]> keyFilter, RedisBookkeeping books) {
        this.keyFilter = keyFilter;
        this.books = books;
    }

    /** Drops keys outside the plan's patterns; a command whose keys are partly in splits when it can, else stops. */
    byte[][] filtered(Command c) {
        byte[][] argv = c.argv();
        if (argv.length > 1 && RedisCheckpoint.bookkeeping(argv[1])) {
            return null; // migrator's own keys on the source (a reverse direction's checkpoint, a cutover's mark) stay there
        }
        if (RedisKeys.all(keyFilter)) {
            return argv;
        }
        List<byte[]> keys = commands.keys(argv);
        if (keys.isEmpty()) {
            return argv;
        }
        long in = keys.stream().filter(k -> keyFilter.test(k) && !RedisCheckpoint.bookkeeping(k)).count();
        if (in == keys.size()) {
            return argv;
        }
        if (in == 0) {
            return null;
        }
        List<byte[][]> parts = RedisCommandTable.split(argv);
        if (parts == null) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran " + c.name() + " on keys both inside and outside the "
                    + "plan's key patterns", "widen keys.include (or narrow keys.exclude) so related keys move together, then `migrator run` again");
        }
        List<byte[]> kept = new ArrayList<>();
        kept.add(argv[0]);
        for (byte[][] part : parts) {
            if (keyFilter.test(part[1])) {
                kept.addAll(Arrays.asList(part).subList(1, part.length));
            }
        }
        return kept.toArray(new byte[0][]);
    }

    /** A data command before any SELECT would be applied to a guessed database: never. */
    void requireSelected(Command c) {
        if (books.streamDb < 0) {
            throw new MigratorException(ErrorCode.INTERNAL, "the replication stream carried " + c.name() + " before selecting a database",
                    "start this migration afresh (`migrator complete`, empty the target, `migrator run`) and report this");
        }
    }

    void requireNoKeyFilter(String command) {
        if (!RedisKeys.all(keyFilter)) {
            throw new MigratorException(ErrorCode.PREFLIGHT_FAILED, "the source ran " + command + " while the plan moves only some keys "
                    + "(keys.include/exclude); migrator will not empty a target database it shares with keys outside the plan",
                    "empty the matching keys on the target by hand (or the whole database if it holds nothing else), then start this "
                            + "migration afresh");
        }
    }
}

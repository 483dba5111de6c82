package io.migrator.core.spi;

import java.util.List;
import java.util.Optional;

/**
 * Decides what a statement of the source's DDL, met by the stream, does on the target. An engine whose stream carries
 * source DDL judges it from the table's definition before and after the statement (never from the statement's text);
 * the others carry only statements their stream made itself (TRUNCATE).
 */
@FunctionalInterface
public interface DdlJudge {
    Decision judge(String statement);

    enum Verdict { APPLY, IGNORE, REFUSE }

    /**
     * {@code statements}: what to run on the target for APPLY (they may differ from the source's statement: only the
     * parts migrator replays); {@code reason}: why for REFUSE, what was left out for IGNORE (empty: nothing to say).
     */
    record Decision(Verdict verdict, Optional<String> table, String summary, List<String> statements, String reason) {
        public Decision {
            statements = List.copyOf(statements);
        }

        public static Decision apply(Optional<String> table, String summary, List<String> statements) {
            return new Decision(Verdict.APPLY, table, summary, statements, "");
        }

        public static Decision ignore(Optional<String> table, String summary, String note) {
            return new Decision(Verdict.IGNORE, table, summary, List.of(), note);
        }

        public static Decision refuse(Optional<String> table, String summary, String reason) {
            return new Decision(Verdict.REFUSE, table, summary, List.of(), reason);
        }
    }
}

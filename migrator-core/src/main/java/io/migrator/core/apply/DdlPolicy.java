package io.migrator.core.apply;

import java.util.regex.Pattern;

/**
 * The default judge of DDL met by a stream (see {@link io.migrator.core.spi.DdlJudge}), for streams that carry only
 * statements they made themselves: PostgreSQL's TRUNCATE. MySQL/MariaDB source DDL is judged by its target from the
 * table's definition before and after the statement, never by these patterns.
 */
public final class DdlPolicy {
    /** A table reference: `quoted` or bare, optionally qualified. */
    private static final String NAME = "(?:`(?:[^`]|``)+`|[\\w$]+)(?:\\s*\\.\\s*(?:`(?:[^`]|``)+`|[\\w$]+))?";
    private static final Pattern ADDITIVE = Pattern.compile(
            "^\\s*(CREATE\\s+(TABLE|(UNIQUE\\s+)?INDEX)\\b.*"
                    + "|ALTER\\s+TABLE\\s+" + NAME + "\\s+(ADD\\s+(COLUMN\\s+|INDEX\\s+|KEY\\s+|UNIQUE\\s+|FULLTEXT\\s+)?(?!.*\\b(DROP|CHANGE|MODIFY|RENAME)\\b).*))$",
            Pattern.CASE_INSENSITIVE | Pattern.DOTALL);
    private static final Pattern TABLE = Pattern.compile(
            "^\\s*(?:CREATE\\s+(?:TEMPORARY\\s+)?TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?|ALTER\\s+(?:ONLINE\\s+|IGNORE\\s+)*TABLE\\s+"
                    + "|DROP\\s+(?:TEMPORARY\\s+)?TABLE\\s+(?:IF\\s+EXISTS\\s+)?|TRUNCATE\\s+(?:TABLE\\s+)?|RENAME\\s+TABLE\\s+"
                    + "|CREATE\\s+(?:UNIQUE\\s+|FULLTEXT\\s+|SPATIAL\\s+)?INDEX\\s+\\S+\\s+ON\\s+)(" + NAME + ")",
            Pattern.CASE_INSENSITIVE | Pattern.DOTALL);
    /** TRUNCATE empties tables at a point of the stream; replaying it there is exact (and idempotent up to the next change). */
    private static final Pattern TRUNCATE = Pattern.compile("^\\s*TRUNCATE\\s+.*", Pattern.CASE_INSENSITIVE | Pattern.DOTALL);
    private static final Pattern IGNORABLE = Pattern.compile(
            "^\\s*(/\\*.*\\*/\\s*)*(SET\\s|FLUSH\\s|ANALYZE\\s|OPTIMIZE\\s|GRANT\\s|REVOKE\\s|CREATE\\s+USER|DROP\\s+USER|ALTER\\s+USER|# "
                    // database-level: creating a database (the plan's exists already) or changing its defaults leaves every table as it is
                    + "|CREATE\\s+(?:DATABASE|SCHEMA)\\b|ALTER\\s+(?:DATABASE|SCHEMA)\\b).*",
            Pattern.CASE_INSENSITIVE | Pattern.DOTALL);

    private DdlPolicy() {
    }

    public enum Verdict { APPLY, IGNORE, REFUSE }

    /** One source statement as the stream judged it: read once, then applied, skipped or refused by its verdict. */
    public record Statement(String text, Verdict verdict, java.util.Optional<String> table, String summary) {
    }

    /** The policy as a judge, for streams that carry only statements they made themselves (PostgreSQL's TRUNCATE). */
    public static io.migrator.core.spi.DdlJudge.Decision decide(String ddl) {
        Statement s = read(ddl);
        return switch (s.verdict()) {
            case APPLY -> io.migrator.core.spi.DdlJudge.Decision.apply(s.table(), s.summary(), java.util.List.of(ddl));
            case IGNORE -> io.migrator.core.spi.DdlJudge.Decision.ignore(s.table(), s.summary(), "");
            case REFUSE -> io.migrator.core.spi.DdlJudge.Decision.refuse(s.table(), s.summary(), "");
        };
    }

    public static Statement read(String ddl) {
        return new Statement(ddl, judge(ddl), table(ddl), summary(ddl));
    }

    public static Verdict judge(String ddl) {
        String text = ddl.strip();
        if (IGNORABLE.matcher(text).matches()) {
            return Verdict.IGNORE;
        }
        if (ADDITIVE.matcher(text).matches() || TRUNCATE.matcher(text).matches()) {
            return Verdict.APPLY;
        }
        return Verdict.REFUSE;
    }

    /** The table a statement changes, unquoted and without its schema, when the statement names one. */
    public static java.util.Optional<String> table(String ddl) {
        java.util.regex.Matcher m = TABLE.matcher(ddl);
        if (!m.find()) {
            return java.util.Optional.empty();
        }
        String name = m.group(1);
        java.util.regex.Matcher last = Pattern.compile("(`(?:[^`]|``)+`|[\\w$]+)\\s*$").matcher(name);
        String bare = last.find() ? last.group(1) : name;
        if (bare.startsWith("`")) {
            bare = bare.substring(1, bare.length() - 1).replace("``", "`");
        }
        return java.util.Optional.of(bare);
    }

    public static String summary(String ddl) {
        String oneLine = ddl.strip().replaceAll("\\s+", " ");
        return oneLine.length() > 160 ? oneLine.substring(0, 157) + "..." : oneLine;
    }

}

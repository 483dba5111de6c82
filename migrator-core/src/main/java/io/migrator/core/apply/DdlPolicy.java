package io.migrator.core.apply;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Which source DDL the stream may replay on the target: additive changes (ADD COLUMN, ADD INDEX, CREATE
 * TABLE / INDEX). Anything else stops the stream; the caller reports it with a remedy.
 */
public final class DdlPolicy {
    private static final Pattern ADDITIVE = Pattern.compile(
            "^\\s*(CREATE\\s+(TABLE|(UNIQUE\\s+)?INDEX)\\b.*"
                    + "|ALTER\\s+TABLE\\s+\\S+\\s+(ADD\\s+(COLUMN\\s+|INDEX\\s+|KEY\\s+|UNIQUE\\s+|FULLTEXT\\s+)?(?!.*\\b(DROP|CHANGE|MODIFY|RENAME)\\b).*))$",
            Pattern.CASE_INSENSITIVE | Pattern.DOTALL);
    private static final Pattern IGNORABLE = Pattern.compile(
            "^\\s*(/\\*.*\\*/\\s*)*(SET\\s|FLUSH\\s|ANALYZE\\s|OPTIMIZE\\s|GRANT\\s|REVOKE\\s|CREATE\\s+USER|DROP\\s+USER|ALTER\\s+USER|# ).*",
            Pattern.CASE_INSENSITIVE | Pattern.DOTALL);

    private DdlPolicy() {
    }

    public enum Verdict { APPLY, IGNORE, REFUSE }

    public static Verdict judge(String ddl) {
        String text = ddl.strip();
        if (IGNORABLE.matcher(text).matches()) {
            return Verdict.IGNORE;
        }
        if (ADDITIVE.matcher(text).matches()) {
            return Verdict.APPLY;
        }
        return Verdict.REFUSE;
    }

    public static String summary(String ddl) {
        String oneLine = ddl.strip().replaceAll("\\s+", " ");
        return oneLine.length() > 160 ? oneLine.substring(0, 157) + "..." : oneLine;
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }
}

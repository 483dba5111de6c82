package io.migrator.connectors.mysql;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Plain secondary indexes (non-unique {@code KEY} lines of SHOW CREATE TABLE) are left out while the
 * copy runs and built afterwards: loading into a table whose secondary indexes grow row by row is
 * the slow half of a bulk load (myloader does the same). Primary and unique keys stay, since the
 * copy and the stream rely on them.
 */
final class SecondaryIndexes {
    private static final Pattern KEY_LINE = Pattern.compile("^\\s*KEY\\s+(`(?:[^`]|``)+`)\\s*\\(.*?\\)[^,\\n]*,?\\s*$", Pattern.MULTILINE);

    private SecondaryIndexes() {
    }

    static List<String> deferred(String createStatement) {
        List<String> keys = new ArrayList<>();
        Matcher m = KEY_LINE.matcher(createStatement);
        while (m.find()) {
            String line = m.group().strip();
            keys.add(line.endsWith(",") ? line.substring(0, line.length() - 1) : line);
        }
        return keys;
    }

    static String withoutDeferred(String createStatement) {
        String stripped = KEY_LINE.matcher(createStatement).replaceAll("");
        // a removed last index leaves the line before it with a trailing comma
        return stripped.replaceAll(",\\s*\\n(\\s*\\)\\s*ENGINE)", "\n$1").replaceAll("\\n{2,}", "\n");
    }

    /** The index name of a KEY definition, unquoted. */
    static String name(String keyDefinition) {
        Matcher m = Pattern.compile("^KEY\\s+`((?:[^`]|``)+)`").matcher(keyDefinition);
        return m.find() ? m.group(1).replace("``", "`") : "";
    }
}

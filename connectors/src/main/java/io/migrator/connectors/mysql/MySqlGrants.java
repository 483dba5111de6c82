package io.migrator.connectors.mysql;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The privileges {@code SHOW GRANTS} lists, read as the server applies them: each line's privileges on its object,
 * database names that are LIKE patterns ({@code `shop\_%`.*}), {@code ALL [PRIVILEGES]}, and lines granted to the roles
 * the session has (MariaDB lists them itself; for MySQL the facts ask with {@code USING} the current roles). Table- and
 * column-level grants are not counted: a database-wide check needs them on every table.
 */
final class MySqlGrants {
    private record Grant(Set<String> privileges, String database, String table) {
    }

    private final List<Grant> grants = new ArrayList<>();

    MySqlGrants(List<String> lines) {
        for (String line : lines) {
            String text = line.strip();
            String upper = text.toUpperCase(Locale.ROOT);
            int on = upper.indexOf(" ON ");
            int to = upper.lastIndexOf(" TO ");
            if (!upper.startsWith("GRANT ") || on < 0 || to < on) {
                continue; // a role granted (GRANT `r` TO `u`), SET DEFAULT ROLE, or something else
            }
            Set<String> privileges = new LinkedHashSet<>();
            for (String p : upper.substring(6, on).split(",")) {
                String privilege = p.strip();
                if (!privilege.contains("(")) { // SELECT (col) is a column grant
                    privileges.add(privilege.equals("ALL") ? "ALL PRIVILEGES" : privilege);
                }
            }
            String object = text.substring(on + 4, to).strip();
            for (String kind : List.of("TABLE ", "FUNCTION ", "PROCEDURE ", "PACKAGE BODY ", "PACKAGE ")) {
                if (object.toUpperCase(Locale.ROOT).startsWith(kind)) {
                    object = kind.equals("TABLE ") ? object.substring(kind.length()).strip() : null;
                    break;
                }
            }
            if (object == null) {
                continue;
            }
            int dot = lastDotOutsideQuotes(object);
            String database = dot < 0 ? "*" : unquote(object.substring(0, dot));
            String table = unquote(dot < 0 ? object : object.substring(dot + 1));
            grants.add(new Grant(privileges, database, table));
        }
    }

    /** Whether {@code privilege} holds on every table of {@code database} (a global grant, or one on a matching database). */
    boolean onDatabase(String privilege, String database) {
        for (Grant g : grants) {
            if (g.table().equals("*") && allows(g, privilege) && (g.database().equals("*") || like(g.database(), database))) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code privilege} is granted on *.* (replication and other server-wide privileges). */
    boolean global(String privilege) {
        for (Grant g : grants) {
            if (g.database().equals("*") && g.table().equals("*") && allows(g, privilege)) {
                return true;
            }
        }
        return false;
    }

    private static boolean allows(Grant g, String privilege) {
        return g.privileges().contains(privilege) || g.privileges().contains("ALL PRIVILEGES");
    }

    private static int lastDotOutsideQuotes(String object) {
        boolean quoted = false;
        int dot = -1;
        for (int i = 0; i < object.length(); i++) {
            char c = object.charAt(i);
            if (c == '`') {
                quoted = !quoted;
            } else if (c == '.' && !quoted) {
                dot = i;
            }
        }
        return dot;
    }

    private static String unquote(String name) {
        String n = name.strip();
        return n.length() >= 2 && n.startsWith("`") && n.endsWith("`") ? n.substring(1, n.length() - 1).replace("``", "`") : n;
    }

    /** MySQL's database patterns: {@code %} any run, {@code _} one character, a backslash makes either literal. */
    static boolean like(String pattern, String name) {
        return like(pattern, 0, name, 0);
    }

    private static boolean like(String p, int i, String s, int j) {
        while (i < p.length()) {
            char c = p.charAt(i);
            if (c == '%') {
                for (int k = j; k <= s.length(); k++) {
                    if (like(p, i + 1, s, k)) {
                        return true;
                    }
                }
                return false;
            }
            if (j >= s.length()) {
                return false;
            }
            if (c == '\\' && i + 1 < p.length()) {
                c = p.charAt(++i);
                if (Character.toLowerCase(c) != Character.toLowerCase(s.charAt(j))) {
                    return false;
                }
            } else if (c != '_' && Character.toLowerCase(c) != Character.toLowerCase(s.charAt(j))) {
                return false;
            }
            i++;
            j++;
        }
        return j == s.length();
    }
}

package io.migrator.core.plan;

import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/** "Did you mean" for misspelt keys and values. */
final class Suggestions {
    private Suggestions() {
    }

    static Optional<String> closest(String wrong, Collection<String> candidates) {
        String w = wrong.toLowerCase(Locale.ROOT);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : candidates) {
            String c = candidate.toLowerCase(Locale.ROOT);
            int d = c.equals(w) ? 0 : (c.startsWith(w) || w.startsWith(c)) ? 1 : distance(w, c);
            if (d < bestDistance) {
                bestDistance = d;
                best = candidate;
            }
        }
        int allowed = wrong.length() <= 3 ? 1 : wrong.length() <= 6 ? 2 : 3;
        return bestDistance <= allowed ? Optional.ofNullable(best) : Optional.empty();
    }

    static String didYouMean(String wrong, Collection<String> candidates) {
        return closest(wrong, candidates).map(c -> " — did you mean '" + c + "'?").orElse("");
    }

    /** Edit distance where swapping two neighbouring letters counts as one edit ("hots" → "host"). */
    private static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}

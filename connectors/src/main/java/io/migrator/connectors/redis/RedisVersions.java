package io.migrator.connectors.redis;

/** Which RDB (and DUMP payload) version a Redis release writes and reads. */
final class RedisVersions {
    private RedisVersions() {
    }

    /** The RDB version of a {@code redis_version} such as {@code 7.0.15}; unknown or newer releases count as the newest known. */
    static int rdbVersion(String redisVersion) {
        String[] parts = redisVersion.split("\\.");
        int major;
        int minor;
        try {
            major = Integer.parseInt(parts[0]);
            minor = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
        } catch (NumberFormatException e) {
            return 12;
        }
        int v = major * 100 + minor;
        if (v < 206) {
            return 5;
        } else if (v < 300) {
            return 6;
        } else if (v < 400) {
            return 7;
        } else if (v < 500) {
            return 8;
        } else if (v < 700) {
            return 9;
        } else if (v < 702) {
            return 10;
        } else if (v < 704) {
            return 11;
        }
        return 12;
    }

    /** Whether a {@code redis_version} is at least major.minor (an unreadable one is not). */
    static boolean atLeast(String redisVersion, int major, int minor) {
        String[] parts = redisVersion.split("\\.");
        try {
            int ma = Integer.parseInt(parts[0]);
            int mi = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
            return ma > major || ma == major && mi >= minor;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}

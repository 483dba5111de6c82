package io.migrator.core.spi;

/** The result of one preflight check on a source or target: what was checked, what was found, what to do. */
public record Assessment(Role role, String check, Severity severity, String finding, String remedy) {
    public enum Severity { OK, WARN, FAIL }

    public static Assessment ok(Role role, String check, String finding) {
        return new Assessment(role, check, Severity.OK, finding, "");
    }

    public static Assessment warn(Role role, String check, String finding, String remedy) {
        return new Assessment(role, check, Severity.WARN, finding, remedy);
    }

    public static Assessment fail(Role role, String check, String finding, String remedy) {
        return new Assessment(role, check, Severity.FAIL, finding, remedy);
    }
}

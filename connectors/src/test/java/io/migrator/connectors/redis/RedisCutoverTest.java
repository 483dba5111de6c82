package io.migrator.connectors.redis;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The ACL rules kept before the lasting freeze go back through ACL SETUSER token by token, a selector kept whole. */
class RedisCutoverTest {
    @Test
    void anAclListLineSplitsIntoSetuserRulesKeepingSelectorsWhole() {
        assertThat(RedisCutover.aclTokens("on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~* &* +@all"))
                .containsExactly("on", "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", "~*", "&*", "+@all");
        assertThat(RedisCutover.aclTokens("on nopass sanitize-payload ~cache:* resetchannels -@all +get (~session:* +@all) (%R~log:* +xread)"))
                .containsExactly("on", "nopass", "sanitize-payload", "~cache:*", "resetchannels", "-@all", "+get", "(~session:* +@all)",
                        "(%R~log:* +xread)");
        assertThat(RedisCutover.aclTokens("  off  resetkeys  ")).containsExactly("off", "resetkeys");
    }
}

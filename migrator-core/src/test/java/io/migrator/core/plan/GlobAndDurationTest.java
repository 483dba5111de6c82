package io.migrator.core.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class GlobAndDurationTest {
    @Test
    void globsMatchLikeShellPatterns() {
        assertThat(Glob.compile("a?c").matches("s", "abc")).isTrue();
        assertThat(Glob.compile("a?c").matches("s", "abbc")).isFalse();
        assertThat(Glob.compile("[!t]*").matches("s", "orders")).isTrue();
        assertThat(Glob.compile("[!t]*").matches("s", "tmp")).isFalse();
        assertThat(Glob.compile("odd$name(1)").matches("s", "odd$name(1)")).isTrue();
        assertThatThrownBy(() -> Glob.compile("a]")).hasMessageContaining("no opening");
        assertThatThrownBy(() -> Glob.compile(" ")).hasMessageContaining("empty");
    }

    @Test
    void durationsInTheirCommonForms() {
        assertThat(Durations.parse("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(Durations.parse("1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThat(Durations.parse("2m")).isEqualTo(Duration.ofMinutes(2));
        assertThat(Durations.parse("PT30S")).isEqualTo(Duration.ofSeconds(30));
        assertThat(Durations.format(Duration.ofSeconds(90))).isEqualTo("90s");
        assertThatThrownBy(() -> Durations.parse("10 parsecs")).hasMessageContaining("not a duration");
    }

    @Test
    void suggestionsFindNearKeys() {
        assertThat(Suggestions.closest("databse", java.util.List.of("database", "databases"))).contains("database");
        assertThat(Suggestions.closest("zzzzzz", java.util.List.of("host", "port"))).isEmpty();
    }
}

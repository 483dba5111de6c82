package io.migrator.connectors.mysql;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SecondaryIndexesTest {
    private static final String CREATE = """
            CREATE TABLE `orders` (
              `id` bigint(20) NOT NULL AUTO_INCREMENT,
              `customer` varchar(40) NOT NULL,
              `sku` varchar(20) DEFAULT NULL,
              PRIMARY KEY (`id`),
              UNIQUE KEY `uniq_sku` (`sku`),
              KEY `by_customer` (`customer`),
              KEY `odd``name` (`customer`,`sku`) COMMENT 'x'
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""";

    @Test
    void plainKeysAreLeftForAfterTheCopy() {
        assertThat(SecondaryIndexes.deferred(CREATE)).containsExactly("KEY `by_customer` (`customer`)",
                "KEY `odd``name` (`customer`,`sku`) COMMENT 'x'");
        String stripped = SecondaryIndexes.withoutDeferred(CREATE);
        assertThat(stripped).contains("PRIMARY KEY (`id`)").contains("UNIQUE KEY `uniq_sku` (`sku`)\n) ENGINE=InnoDB")
                .doesNotContain("by_customer").doesNotContain("odd");
        assertThat(SecondaryIndexes.name("KEY `odd``name` (`customer`)")).isEqualTo("odd`name");
    }

    @Test
    void aTableWithoutSecondaryKeysIsUnchanged() {
        String create = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB";
        assertThat(SecondaryIndexes.withoutDeferred(create)).isEqualTo(create);
        assertThat(SecondaryIndexes.deferred(create)).isEmpty();
    }
}

package io.migrator.core.plan;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A YAML document as a tree that remembers where each node starts, so every problem can name its line:column. */
public sealed interface YamlNode {
    Mark mark();

    /** What a user would call this node's kind, for messages such as "expected a list, found a scalar". */
    String kindName();

    record Scalar(String text, Mark mark) implements YamlNode {
        @Override
        public String kindName() {
            return "a value";
        }
    }

    record Null(Mark mark) implements YamlNode {
        @Override
        public String kindName() {
            return "nothing (null)";
        }
    }

    record Sequence(List<YamlNode> items, Mark mark) implements YamlNode {
        public Sequence {
            items = List.copyOf(items);
        }

        @Override
        public String kindName() {
            return "a list";
        }
    }

    /** A mapping; {@code keyMarks} gives where each key is written. */
    record Mapping(Map<String, YamlNode> entries, Map<String, Mark> keyMarks, Mark mark) implements YamlNode {
        public Mapping {
            entries = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(entries));
            keyMarks = Map.copyOf(keyMarks);
        }

        @Override
        public String kindName() {
            return "a section (key: value pairs)";
        }
    }
}

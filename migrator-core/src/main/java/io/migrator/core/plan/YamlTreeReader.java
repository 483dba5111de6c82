package io.migrator.core.plan;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads YAML into {@link YamlNode}s with positions. Jackson's tree model drops positions, so this walks
 * the token stream itself. Syntax errors and duplicate keys become {@link PlanProblem}s.
 */
final class YamlTreeReader {
    private static final YAMLFactory FACTORY = YAMLFactory.builder().build();

    private final String file;
    private final List<PlanProblem> problems;

    YamlTreeReader(String file, List<PlanProblem> problems) {
        this.file = file;
        this.problems = problems;
    }

    /** Returns the document's root, or null when the text is not valid YAML (the problem is recorded). */
    YamlNode read(String text) {
        try (JsonParser parser = FACTORY.createParser(text)) {
            JsonToken first = parser.nextToken();
            if (first == null) {
                return new YamlNode.Null(new Mark(1, 1));
            }
            YamlNode root = readValue(parser);
            if (parser.nextToken() != null) {
                problems.add(new PlanProblem(file, mark(parser.currentTokenLocation()),
                        "the file holds more than one YAML document", "keep one plan per file (remove the extra '---')"));
            }
            return root;
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            problems.add(new PlanProblem(file, at == null ? Mark.UNKNOWN : mark(at),
                    "not valid YAML: " + firstLine(e.getOriginalMessage()),
                    "check indentation (spaces, not tabs), colons after keys and closing quotes or brackets; inside { } or [ ] quote values such as \"${env:NAME}\""));
            return null;
        } catch (IOException e) {
            problems.add(new PlanProblem(file, Mark.UNKNOWN, "cannot read the plan: " + e.getMessage(),
                    "check the file is readable text"));
            return null;
        }
    }

    private YamlNode readValue(JsonParser parser) throws IOException {
        Mark at = mark(parser.currentTokenLocation());
        JsonToken token = parser.currentToken();
        switch (token) {
            case START_OBJECT:
                return readMapping(parser, at);
            case START_ARRAY:
                List<YamlNode> items = new ArrayList<>();
                while (parser.nextToken() != JsonToken.END_ARRAY) {
                    items.add(readValue(parser));
                }
                return new YamlNode.Sequence(items, at);
            case VALUE_NULL:
                return new YamlNode.Null(at);
            default:
                return new YamlNode.Scalar(parser.getText(), at);
        }
    }

    private YamlNode readMapping(JsonParser parser, Mark at) throws IOException {
        Map<String, YamlNode> entries = new LinkedHashMap<>();
        Map<String, Mark> keyMarks = new HashMap<>();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String key = parser.currentName();
            Mark keyMark = mark(parser.currentTokenLocation());
            parser.nextToken();
            YamlNode value = readValue(parser);
            if (value instanceof YamlNode.Mapping nested) {
                // A section is where its key is written: "missing 'host' in source" points at "source:".
                value = new YamlNode.Mapping(nested.entries(), nested.keyMarks(), keyMark);
            }
            if (entries.containsKey(key)) {
                problems.add(new PlanProblem(file, keyMark, "key '" + key + "' appears twice (first at line "
                        + keyMarks.get(key).line() + ")", "keep one '" + key + "' entry"));
                continue;
            }
            entries.put(key, value);
            keyMarks.put(key, keyMark);
        }
        return new YamlNode.Mapping(entries, keyMarks, at);
    }

    private static Mark mark(JsonLocation location) {
        if (location == null || location.getLineNr() <= 0) {
            return Mark.UNKNOWN;
        }
        return new Mark(location.getLineNr(), Math.max(1, location.getColumnNr()));
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "syntax error";
        }
        int newline = message.indexOf('\n');
        return (newline < 0 ? message : message.substring(0, newline)).trim();
    }
}

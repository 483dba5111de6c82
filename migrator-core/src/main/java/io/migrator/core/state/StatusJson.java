package io.migrator.core.state;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The status document's JSON form, shared by the worker's API and the CLI (which reads it back). */
public final class StatusJson {
    private static final ObjectMapper JSON = new ObjectMapper()
            .setSerializationInclusion(JsonInclude.Include.ALWAYS)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private StatusJson() {
    }

    public static ObjectMapper mapper() {
        return JSON;
    }

    public static String write(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static MigrationStatus read(String json) {
        try {
            return JSON.readValue(json, MigrationStatus.class);
        } catch (IOException e) {
            throw new UncheckedIOException("not a migrator status document: " + e.getMessage(), e);
        }
    }
}

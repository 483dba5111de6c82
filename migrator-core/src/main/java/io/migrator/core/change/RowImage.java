package io.migrator.core.change;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * A row image as a read-only map over two arrays: the column names, shared by every image of one table shape, and this
 * row's values in the same order. A stream that reads rows as arrays (pgoutput's tuples) hands them on without building a
 * hash map per change; whether the image leaves a column {@link RowChange#UNCHANGED} is known once, at construction, instead
 * of being looked for each time the coalescer meets the key again. Lookups compare names by identity first (callers pass
 * the stream's own strings), then by content. Column names must be distinct; values may be null (SQL NULL).
 */
public final class RowImage extends AbstractMap<String, Object> {
    private final String[] names;
    private final Object[] values;
    private final boolean partial;

    /** {@code names} is kept, not copied (share one array per table shape); {@code values} becomes this image's own. */
    public RowImage(String[] names, Object[] values) {
        if (names.length != values.length) {
            throw new IllegalArgumentException(names.length + " column names for " + values.length + " values");
        }
        this.names = names;
        this.values = values;
        boolean unchanged = false;
        for (Object v : values) {
            if (v == RowChange.UNCHANGED) {
                unchanged = true;
                break;
            }
        }
        this.partial = unchanged;
    }

    /** Whether some column kept its value and was not sent ({@link RowChange#UNCHANGED}). */
    public boolean partial() {
        return partial;
    }

    private int index(Object name) {
        for (int i = 0; i < names.length; i++) {
            if (names[i] == name) {
                return i;
            }
        }
        if (name != null) {
            for (int i = 0; i < names.length; i++) {
                if (names[i].equals(name)) {
                    return i;
                }
            }
        }
        return -1;
    }

    @Override
    public int size() {
        return names.length;
    }

    @Override
    public Object get(Object name) {
        int i = index(name);
        return i < 0 ? null : values[i];
    }

    @Override
    public boolean containsKey(Object name) {
        return index(name) >= 0;
    }

    @Override
    public Collection<Object> values() {
        return java.util.Collections.unmodifiableList(Arrays.asList(values));
    }

    @Override
    public Set<Entry<String, Object>> entrySet() {
        return new AbstractSet<>() {
            @Override
            public int size() {
                return names.length;
            }

            @Override
            public Iterator<Entry<String, Object>> iterator() {
                return new Iterator<>() {
                    private int next;

                    @Override
                    public boolean hasNext() {
                        return next < names.length;
                    }

                    @Override
                    public Entry<String, Object> next() {
                        if (next >= names.length) {
                            throw new NoSuchElementException();
                        }
                        int i = next++;
                        return new SimpleImmutableEntry<>(names[i], values[i]);
                    }
                };
            }
        };
    }
}

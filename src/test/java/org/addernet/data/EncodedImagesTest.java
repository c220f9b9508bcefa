package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EncodedImagesTest {
    @Test
    void builderAppendsRecordsCompactly() {
        EncodedImages.Builder b = EncodedImages.builder("shard0", 5);
        byte[][] data = new byte[40][];
        for (int i = 0; i < 40; i++) {
            data[i] = new byte[i * 37 % 101]; // some empty, sizes vary
            for (int k = 0; k < data[i].length; k++) data[i][k] = (byte) (i + k);
            b.add(1000 + 3 * i, i % 5, "/train/c" + (i % 5) + "/" + i + ".JPEG", data[i]);
        }
        byte[] padded = {9, 9, 1, 2, 3, 9};
        b.add(7, 4, "sub", padded, 2, 3);
        EncodedImages e = b.build();
        assertEquals(41, e.count());
        assertEquals(5, e.numClasses());
        long total = 3;
        for (int i = 0; i < 40; i++) {
            assertArrayEquals(data[i], e.bytes(i));
            assertEquals(data[i].length, e.length(i));
            assertEquals(1000 + 3 * i, e.id(i));
            assertEquals(i % 5, e.label(i));
            assertEquals("/train/c" + (i % 5) + "/" + i + ".JPEG", e.path(i));
            total += data[i].length;
        }
        assertArrayEquals(new byte[] {1, 2, 3}, e.bytes(40));
        assertEquals(total, e.byteSize());
        assertEquals(total, e.blob().length, "the blob is trimmed");
        assertEquals(42, e.offsets().length);
        // What a deserializer does: the arrays back into the public constructor.
        EncodedImages copy = new EncodedImages(e.name(), e.blob(), e.offsets(), e.labels(), e.ids(), e.paths(), e.numClasses());
        for (int i = 0; i < e.count(); i++) assertArrayEquals(e.bytes(i), copy.bytes(i));
        assertThrows(IndexOutOfBoundsException.class, () -> e.bytes(41));
        assertEquals(0, EncodedImages.builder("empty", 3).build().count());
    }

    @Test
    void constructorValidatesTheLayout() {
        byte[] blob = new byte[10];
        String[] p2 = {"a", "b"};
        assertThrows(IllegalArgumentException.class, () -> new EncodedImages("x", blob, new int[] {0, 4}, new int[] {0, 1}, new int[] {0, 1}, p2, 2));
        assertThrows(IllegalArgumentException.class, () -> new EncodedImages("x", blob, new int[] {0, 4, 9}, new int[] {0, 1}, new int[] {0, 1}, p2, 2));
        assertThrows(IllegalArgumentException.class, () -> new EncodedImages("x", blob, new int[] {1, 4, 10}, new int[] {0, 1}, new int[] {0, 1}, p2, 2));
        assertThrows(IllegalArgumentException.class, () -> new EncodedImages("x", blob, new int[] {0, 6, 4, 10}, new int[] {0, 1, 1},
                new int[] {0, 1, 2}, new String[] {"a", "b", "c"}, 2));
        assertThrows(IllegalArgumentException.class, () -> new EncodedImages("x", blob, new int[] {0, 4, 10}, new int[] {0, 1}, new int[] {0, -1}, p2, 2));
        assertThrows(IllegalArgumentException.class, () -> new EncodedImages("x", blob, new int[] {0, 4, 10}, new int[] {0, 1}, new int[] {0, 1},
                new String[] {"a", null}, 2));
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> new EncodedImages("x", blob, new int[] {0, 4, 10}, new int[] {0, 2}, new int[] {0, 1}, p2, 2));
        assertTrue(e.getMessage().contains("label 2 of b"), e.getMessage());
        assertThrows(DataFormatException.class, () -> EncodedImages.builder("x", 2).add(0, 2, "p", new byte[1]));
        assertTrue(EncodedImages.builder("x", 2).fits(1000));
        assertTrue(!EncodedImages.builder("x", 2).fits(Integer.MAX_VALUE));
    }
}

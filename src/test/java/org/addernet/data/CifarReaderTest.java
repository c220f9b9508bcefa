package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CifarReaderTest {
    @TempDir
    Path tmp;

    /** A synthetic batch: record r of file f has label (f*7 + r) % classes and pixel k = (f + r + k) % 251. */
    static byte[] batch(int file, int records, int labelBytes, int classes) {
        int rec = labelBytes + 3072;
        byte[] b = new byte[records * rec];
        for (int r = 0; r < records; r++) {
            int label = (file * 7 + r) % classes;
            if (labelBytes == 2) b[r * rec] = (byte) (label / 5); // coarse label: must be ignored
            b[r * rec + labelBytes - 1] = (byte) label;
            for (int k = 0; k < 3072; k++) b[r * rec + labelBytes + k] = (byte) ((file + r + k) % 251);
        }
        return b;
    }

    static void writeCifar10(Path dir, int records) {
        for (int f = 1; f <= 5; f++) Fixtures.write(dir.resolve("data_batch_" + f + ".bin"), batch(f, records, 1, 10));
        Fixtures.write(dir.resolve("test_batch.bin"), batch(0, records, 1, 10));
    }

    @Test
    void readsCifar10FromArchiveSubdirectory() {
        writeCifar10(tmp.resolve("cifar-10-batches-bin"), 3);
        ImageDataset train = CifarReader.readCifar10(tmp, true);
        assertEquals(15, train.count());
        assertEquals(3, train.channels());
        assertEquals(32, train.height());
        assertEquals(10, train.numClasses());
        // Sample 4 = file 2, record 1: label (14 + 1) % 10, channel 1 (green) row 2 col 5 -> k = 1024 + 69.
        assertEquals(5, train.label(4));
        assertEquals((2 + 1 + 1024 + 2 * 32 + 5) % 251, train.pixel(4, 1, 2, 5));
        ImageDataset test = Datasets.load("cifar10", tmp, false);
        assertEquals(3, test.count());
        assertEquals(2, test.label(2));
    }

    @Test
    void readsCifar100FineLabel() {
        Fixtures.write(tmp.resolve("train.bin"), batch(0, 4, 2, 100));
        Fixtures.write(tmp.resolve("test.bin"), batch(1, 2, 2, 100));
        ImageDataset train = CifarReader.readCifar100(tmp, true);
        assertEquals(4, train.count());
        assertEquals(100, train.numClasses());
        assertEquals(3, train.label(3));
        assertEquals((3 + 7) % 251, train.pixel(3, 0, 0, 7));
        assertEquals(8, CifarReader.readCifar100(tmp, false).label(1));
    }

    @Test
    void truncatedFileNamesSizes() {
        writeCifar10(tmp, 2);
        byte[] b = batch(3, 2, 1, 10);
        Fixtures.write(tmp.resolve("data_batch_3.bin"), Arrays.copyOf(b, b.length - 10));
        DataFormatException e = assertThrows(DataFormatException.class, () -> CifarReader.readCifar10(tmp, true));
        String m = e.getMessage();
        assertTrue(m.contains("data_batch_3.bin") && m.contains("truncated") && m.contains(String.valueOf(6146 - 10))
                && m.contains("3073"), m);
    }

    @Test
    void labelOutOfRange() {
        writeCifar10(tmp, 2);
        byte[] b = batch(0, 2, 1, 10);
        b[3073] = 10;
        Fixtures.write(tmp.resolve("test_batch.bin"), b);
        DataFormatException e = assertThrows(DataFormatException.class, () -> CifarReader.readCifar10(tmp, false));
        assertTrue(e.getMessage().contains("test_batch.bin") && e.getMessage().contains("label 10 in record 1"),
                e.getMessage());
    }

    @Test
    void missingBatchIsNamed() {
        writeCifar10(tmp, 1);
        assertTrue(tmp.resolve("data_batch_4.bin").toFile().delete());
        DataFormatException e = assertThrows(DataFormatException.class, () -> CifarReader.readCifar10(tmp, true));
        assertTrue(e.getMessage().contains("missing") && e.getMessage().contains("data_batch_4.bin"), e.getMessage());
    }
}

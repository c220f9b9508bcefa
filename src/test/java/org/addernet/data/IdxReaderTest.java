package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdxReaderTest {
    private static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    private static final String TRAIN_LABELS = "train-labels-idx1-ubyte";

    @TempDir
    Path tmp;

    private static long pixelSum(ImageDataset d, int i) {
        long s = 0;
        byte[] px = d.pixels();
        for (int k = d.pixelOffset(i), end = k + d.sampleSize(); k < end; k++) s += px[k] & 0xFF;
        return s;
    }

    @Test
    void readsFixtureTrainAndTest() {
        ImageDataset train = IdxReader.readMnist(Fixtures.fashionSmall(), true);
        assertEquals(1000, train.count());
        assertEquals(1, train.channels());
        assertEquals(28, train.height());
        assertEquals(28, train.width());
        assertEquals(10, train.numClasses());
        // Expected values printed by scripts/make-fixtures.sh (python gzip/struct over the Debian files).
        assertEquals(76247, pixelSum(train, 0));
        assertEquals(84598, pixelSum(train, 1));
        assertEquals(69838, pixelSum(train, 999));
        int[] first = {train.label(0), train.label(1), train.label(2), train.label(3), train.label(4)};
        assertArrayEquals(new int[] {9, 0, 0, 3, 0}, first);
        int[] counts = new int[10];
        for (int i = 0; i < train.count(); i++) counts[train.label(i)]++;
        assertArrayEquals(new int[] {107, 104, 86, 92, 95, 100, 100, 115, 102, 99}, counts);

        ImageDataset test = IdxReader.readMnist(Fixtures.fashionSmall(), false);
        assertEquals(500, test.count());
        assertEquals(33456, pixelSum(test, 0));
        assertEquals(100994, pixelSum(test, 1));
        assertEquals(70958, pixelSum(test, 499));
        assertEquals(9, test.label(0));
    }

    @Test
    void pixelLayoutMatchesRawBytes() {
        ImageDataset train = IdxReader.readMnist(Fixtures.fashionSmall(), true);
        byte[] raw = Fixtures.raw(TRAIN_IMAGES);
        // Sample 3, row 10, column 20: IDX is row-major after the 16-byte header.
        assertEquals(raw[16 + 3 * 784 + 10 * 28 + 20] & 0xFF, train.pixel(3, 0, 10, 20));
    }

    @Test
    void subsetSharesDataAndReindexes() {
        ImageDataset train = IdxReader.readMnist(Fixtures.fashionSmall(), true);
        ImageDataset sub = train.subset(100, 400);
        assertEquals(300, sub.count());
        assertEquals(train.label(100), sub.label(0));
        assertEquals(train.pixel(399, 0, 14, 14), sub.pixel(299, 0, 14, 14));
        assertThrows(IndexOutOfBoundsException.class, () -> sub.label(300));
        assertThrows(IndexOutOfBoundsException.class, () -> train.subset(10, 1001));
    }

    @Test
    void rawAndGzipGiveTheSameDataset() {
        for (String base : new String[] {TRAIN_IMAGES, TRAIN_LABELS}) {
            Fixtures.write(tmp.resolve(base), Fixtures.raw(base)); // raw, no .gz suffix
        }
        ImageDataset raw = IdxReader.readMnist(tmp, true);
        ImageDataset gz = IdxReader.readMnist(Fixtures.fashionSmall(), true);
        assertEquals(gz.count(), raw.count());
        assertArrayEquals(gz.pixels(), raw.pixels());
        for (int i = 0; i < gz.count(); i++) assertEquals(gz.label(i), raw.label(i));
    }

    @Test
    void gzipIsDetectedByMagicNotName() {
        // gzip content under the raw name, and raw content under the .gz name.
        Fixtures.write(tmp.resolve(TRAIN_IMAGES), Fixtures.gzip(Fixtures.raw(TRAIN_IMAGES)));
        Fixtures.write(tmp.resolve(TRAIN_LABELS + ".gz"), Fixtures.raw(TRAIN_LABELS));
        assertEquals(1000, IdxReader.readMnist(tmp, true).count());
    }

    /** Writes the fixture's train split to tmp with the images replaced by {@code images}. */
    private void writeTrain(byte[] images, byte[] labels, boolean gz) {
        Fixtures.write(tmp.resolve(TRAIN_IMAGES + (gz ? ".gz" : "")), gz ? Fixtures.gzip(images) : images);
        Fixtures.write(tmp.resolve(TRAIN_LABELS + (gz ? ".gz" : "")), gz ? Fixtures.gzip(labels) : labels);
    }

    private DataFormatException failure() {
        return assertThrows(DataFormatException.class, () -> IdxReader.readMnist(tmp, true));
    }

    private static void assertMessage(DataFormatException e, String file, String... parts) {
        String m = e.getMessage();
        assertTrue(m.contains(file), "message should name " + file + ": " + m);
        for (String p : parts) assertTrue(m.contains(p), "message should contain '" + p + "': " + m);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void badMagic(boolean gz) {
        byte[] img = Fixtures.raw(TRAIN_IMAGES);
        Fixtures.putInt(img, 0, 0x12345678);
        writeTrain(img, Fixtures.raw(TRAIN_LABELS), gz);
        assertMessage(failure(), TRAIN_IMAGES, "bad magic number", "expected 0x00000803", "found 0x12345678");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void labelFileGivenAsImages(boolean gz) {
        writeTrain(Fixtures.raw(TRAIN_LABELS), Fixtures.raw(TRAIN_LABELS), gz);
        assertMessage(failure(), TRAIN_IMAGES, "bad magic number", "found 0x00000801", "label file");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void wrongDimensionCount(boolean gz) {
        byte[] img = Fixtures.raw(TRAIN_IMAGES);
        img[3] = 2;
        writeTrain(img, Fixtures.raw(TRAIN_LABELS), gz);
        assertMessage(failure(), TRAIN_IMAGES, "wrong dimension count", "expected 3, found 2");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void truncatedImages(boolean gz) {
        byte[] img = Arrays.copyOf(Fixtures.raw(TRAIN_IMAGES), 16 + 1000 * 784 - 100);
        writeTrain(img, Fixtures.raw(TRAIN_LABELS), gz);
        assertMessage(failure(), TRAIN_IMAGES, "truncated", "expected " + (16 + 784000) + " bytes",
                "found " + (16 + 784000 - 100));
    }

    @Test
    void truncatedGzipStream() {
        byte[] gz = Fixtures.gzip(Fixtures.raw(TRAIN_IMAGES));
        Fixtures.write(tmp.resolve(TRAIN_IMAGES + ".gz"), Arrays.copyOf(gz, gz.length / 2));
        Fixtures.write(tmp.resolve(TRAIN_LABELS + ".gz"), Fixtures.gzip(Fixtures.raw(TRAIN_LABELS)));
        assertMessage(failure(), TRAIN_IMAGES + ".gz", "truncated");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void truncatedHeader(boolean gz) {
        writeTrain(Arrays.copyOf(Fixtures.raw(TRAIN_IMAGES), 10), Fixtures.raw(TRAIN_LABELS), gz);
        assertMessage(failure(), TRAIN_IMAGES, "truncated", "16 header bytes, found 10");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void trailingGarbage(boolean gz) {
        byte[] img = Arrays.copyOf(Fixtures.raw(TRAIN_IMAGES), 16 + 784000 + 7);
        writeTrain(img, Fixtures.raw(TRAIN_LABELS), gz);
        assertMessage(failure(), TRAIN_IMAGES, "trailing garbage", "7 bytes");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void countMismatch(boolean gz) {
        // A consistent label file of 999 labels next to 1000 images.
        byte[] lab = Arrays.copyOf(Fixtures.raw(TRAIN_LABELS), 8 + 999);
        Fixtures.putInt(lab, 4, 999);
        writeTrain(Fixtures.raw(TRAIN_IMAGES), lab, gz);
        assertMessage(failure(), TRAIN_IMAGES, "count mismatch", "1000 images", "999 labels", TRAIN_LABELS);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void labelOutOfRange(boolean gz) {
        byte[] lab = Fixtures.raw(TRAIN_LABELS);
        lab[8 + 17] = 12;
        writeTrain(Fixtures.raw(TRAIN_IMAGES), lab, gz);
        assertMessage(failure(), TRAIN_LABELS, "label out of range", "label 12 at index 17", "0..9");
    }

    @Test
    void hugeCountFailsAsTruncationNotOutOfMemory() {
        byte[] img = Fixtures.raw(TRAIN_IMAGES);
        Fixtures.putInt(img, 4, 2_000_000);
        writeTrain(img, Fixtures.raw(TRAIN_LABELS), true);
        assertMessage(failure(), TRAIN_IMAGES, "truncated", "expected " + (16 + 2_000_000L * 784));
    }

    @Test
    void missingFileNamesDirAndCandidates() {
        Fixtures.write(tmp.resolve(TRAIN_LABELS + ".gz"), Fixtures.gzip(Fixtures.raw(TRAIN_LABELS)));
        DataFormatException e = failure();
        assertMessage(e, tmp.toAbsolutePath().toString(), "missing file", TRAIN_IMAGES + ".gz", TRAIN_IMAGES + ",");
        DataFormatException none = assertThrows(DataFormatException.class,
                () -> IdxReader.readMnist(tmp.resolve("nope"), false));
        assertMessage(none, "nope", "does not exist", "t10k-images-idx3-ubyte.gz");
    }

    @Test
    void datasetsLoadUsesTheReader() {
        ImageDataset d = Datasets.load("Fashion-MNIST", Fixtures.fashionSmall(), false);
        assertEquals(500, d.count());
        assertTrue(d.name().startsWith("fashion-mnist"), d.name());
        assertTrue(Files.isDirectory(Fixtures.fashionSmall()));
    }
}

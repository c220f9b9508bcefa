package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local shard file and index, the record budget, and the one worker function. */
class LocalShardTest {
    @TempDir
    Path tmp;

    @AfterEach
    void noBudget() {
        LocalShard.budget(0);
    }

    /** Records written in a scrambled id order; record id k holds 100 + 7k bytes of value (k * 31 + j) & 0xff. */
    private LocalShard shard(int n, File f) throws Exception {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Random r = new Random(5);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        LocalShard.Writer w = LocalShard.writer("s", 4, f, new String[] {"src"});
        for (int k : order) {
            byte[] b = record(k);
            w.add(3 * k + 1, k % 4, "img" + k, b, 0, b.length);
        }
        return w.finish();
    }

    private static byte[] record(int k) {
        byte[] b = new byte[100 + 7 * k];
        for (int j = 0; j < b.length; j++) b[j] = (byte) (k * 31 + j);
        return b;
    }

    private static byte[] bytes(LocalShard s, int i) {
        CompressedImages.Bytes b = s.bytes(i);
        return Arrays.copyOfRange(b.data(), b.offset(), b.offset() + b.length());
    }

    @Test
    void theIndexIsInIdOrderAndEveryRecordReadsBack() throws Exception {
        LocalShard s = shard(50, tmp.resolve("a.bin").toFile());
        assertEquals(50, s.count());
        long total = 0;
        for (int k = 0; k < 50; k++) {
            assertEquals(3 * k + 1, s.id(k));
            assertEquals(k % 4, s.label(k));
            assertEquals("img" + k, s.path(k));
            assertArrayEquals(record(k), bytes(s, k));
            assertEquals(k, s.indexOf(3 * k + 1));
            total += record(k).length;
        }
        assertEquals(total, s.byteSize());
        assertEquals(total, new File(s.file()).length(), "one copy of each record in the file");
        assertTrue(s.indexOf(2) < 0);
        assertTrue(s.present());
    }

    @Test
    void aBudgetSmallerThanTheShardReadsTheSameBytesAndStaysWithinIt() throws Exception {
        LocalShard s = shard(50, tmp.resolve("b.bin").toFile());
        long budget = s.byteSize() / 5;
        LocalShard.budget(budget);
        LocalShard.resetPeak();
        for (int pass = 0; pass < 3; pass++) {
            for (int k = 0; k < 50; k++) {
                int i = (k * 17) % 50; // every position once per pass, in a scrambled order
                assertArrayEquals(record(i), bytes(s, i), "pass " + pass);
                assertTrue(LocalShard.cachedBytes() <= budget);
            }
        }
        assertTrue(LocalShard.peakCachedBytes() > 0 && LocalShard.peakCachedBytes() <= budget, "peak " + LocalShard.peakCachedBytes());
        s.close(true);
        assertEquals(0, LocalShard.cachedBytes(), "closing drops the shard's records");
        assertTrue(!new File(s.file()).exists());
    }

    @Test
    void aTruncatedFileDuplicateIdsAndBadLabelsAreErrors() throws Exception {
        File f = tmp.resolve("c.bin").toFile();
        LocalShard s = shard(10, f);
        try (RandomAccessFile raf = new RandomAccessFile(f, "rw")) {
            raf.setLength(s.offset(9) + 3); // the records written after id 9's, and id 9's own tail, are cut off
        }
        boolean failed = false;
        for (int i = 0; i < 10; i++) {
            if (s.offset(i) + s.length(i) > f.length()) {
                int at = i;
                DataFormatException e = assertThrows(DataFormatException.class, () -> s.bytes(at));
                assertTrue(e.getMessage().contains(f.getPath()) && e.getMessage().contains("img" + at), e.getMessage());
                failed = true;
            }
        }
        assertTrue(failed);
        assertTrue(!s.present());
        LocalShard.Writer w = LocalShard.writer("d", 2, tmp.resolve("d.bin").toFile(), null);
        w.add(4, 0, "x", new byte[3], 0, 3);
        w.add(4, 1, "y", new byte[3], 0, 3);
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class, w::finish);
        assertTrue(dup.getMessage().contains("twice"), dup.getMessage());
        LocalShard.Writer w2 = LocalShard.writer("e", 2, tmp.resolve("e.bin").toFile(), null);
        w2.add(1, 2, "z", new byte[3], 0, 3);
        assertThrows(DataFormatException.class, w2::finish);
    }

    @Test
    void workersOfBucketsAreIdModWWhenWDividesBAndDifferByAtMostABucketOtherwise() {
        for (int id = 0; id < 5000; id++) {
            for (int w : new int[] {1, 2, 4, 8, 16}) assertEquals(id % w, Buckets.worker(id, 1024, w));
        }
        int n = 1001, b = 8, w = 3;
        int[] sizes = new int[w];
        for (int id = 0; id < n; id++) sizes[Buckets.worker(id, b, w)]++;
        // 1001 = 8 * 125 + 1: bucket 0 holds 126 images, the others 125; workers 0 and 1 own three buckets
        // ({0,3,6}, {1,4,7}), worker 2 two ({2,5}).
        assertArrayEquals(new int[] {126 + 125 + 125, 125 + 125 + 125, 125 + 125}, sizes);
        Sampler sampler = new Sampler(sizes, 6, 1, true);
        assertEquals(250 / 2, sampler.stepsPerEpoch(), "the smallest shard sets the steps of an epoch");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Buckets.check(8, 9, "data"));
        assertTrue(e.getMessage().contains("9 workers for the 8 buckets"), e.getMessage());
    }
}

package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import org.addernet.model.Checkpoint;
import org.addernet.train.Checkpoints;
import org.addernet.train.RunFiles;
import org.addernet.train.SingleProcess;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The run folder on stores other than a local disk, through the trainer itself: an object store (S3 semantics:
 * objects appear on close, rename is a copy) gets its checkpoints written to their final keys with no rename and no
 * temporary object; a store that renames (HDFS-like) gets a temporary file and a rename; a write that fails midway
 * (a crash, a full store) leaves the previous checkpoints intact and the run resumable to the same weights.
 */
class FsStoreTest {
    @TempDir
    static Path shared;
    static float[] straight, straightMomentum;

    static final String[] RUN = {"epochs=2", "train_limit=300", "test_limit=100", "batch_size=50", "seed=3", "threads=2"};

    static org.addernet.train.Recipe recipe(String... more) throws Exception {
        List<String> o = new java.util.ArrayList<>(List.of(RUN));
        o.addAll(List.of(more));
        return SparkJobTest.recipe(o.toArray(String[]::new));
    }

    static Configuration conf() {
        Configuration c = new Configuration();
        for (String scheme : new String[] {"s3a", "renamefs"}) {
            c.set("fs." + scheme + ".impl", ObjectStoreFs.class.getName());
            c.setBoolean("fs." + scheme + ".impl.disable.cache", true);
        }
        return c;
    }

    @BeforeAll
    static void straightRun() throws Exception {
        try (SingleProcess t = new SingleProcess(recipe(), RunFiles.local(shared.resolve("straight")), SparkJobTest.QUIET)) {
            t.trainer().run();
            straight = t.trainer().model().params().data.clone();
            straightMomentum = t.trainer().optimizer().momentumBuffer().clone();
        }
    }

    @BeforeEach
    void clean() {
        ObjectStoreFs.reset();
    }

    static void stopAfter(RunFiles files, int steps) throws Exception {
        try (SingleProcess t = new SingleProcess(recipe("max_steps=" + steps), files, SparkJobTest.QUIET)) {
            t.trainer().run();
        }
    }

    static void resumeToTheEnd(RunFiles files) throws Exception {
        try (SingleProcess t = new SingleProcess(recipe(), files, SparkJobTest.QUIET)) {
            t.trainer().resume();
            t.trainer().run();
            assertArrayEquals(straight, t.trainer().model().params().data, "weights, bit for bit");
            assertArrayEquals(straightMomentum, t.trainer().optimizer().momentumBuffer(), "momentum, bit for bit");
        }
    }

    @Test
    void anObjectStoreGetsItsFinalKeysDirectlyAndNoRename() throws Exception {
        FsStore s3 = new FsStore(conf(), "s3a://bucket/run");
        Checkpoints.prepareRunFolder(s3, false, false, SparkJobTest.QUIET);
        stopAfter(s3, 9);
        assertEquals(List.of("checkpoints/ckpt-e0001-s000000.ckpt", "checkpoints/ckpt-e0001-s000003.ckpt"), Checkpoints.list(s3));
        resumeToTheEnd(s3);
        assertEquals(0, ObjectStoreFs.RENAMES.get(), "an object store is never asked to rename (a copy of the whole object)");
        for (String k : ObjectStoreFs.CREATED) assertFalse(k.contains(".tmp"), "temporary object created: " + k);
        assertTrue(ObjectStoreFs.OBJECTS.containsKey("s3a://bucket/run/metrics.jsonl"));
        assertEquals(List.of("checkpoints/ckpt-e0001-s000000.ckpt", "checkpoints/ckpt-e0001-s000003.ckpt", "checkpoints/ckpt-e0002-s000000.ckpt"),
                Checkpoints.list(s3));
    }

    @Test
    void aStoreThatRenamesGetsATemporaryFileThenARename() throws Exception {
        FsStore fs = new FsStore(conf(), "renamefs://nn/run");
        stopAfter(fs, 7);
        assertTrue(ObjectStoreFs.RENAMES.get() >= 2, "renames: " + ObjectStoreFs.RENAMES.get());
        assertTrue(ObjectStoreFs.CREATED.stream().anyMatch(k -> k.contains("/checkpoints/.ckpt-e0001-s000000.ckpt.") && k.endsWith(".tmp")));
        for (String k : ObjectStoreFs.OBJECTS.keySet()) assertFalse(k.endsWith(".tmp"), "temporary file left: " + k);
        resumeToTheEnd(fs);
    }

    @Test
    void aWriteThatFailsMidwayLeavesThePreviousCheckpointsAndTheRunResumes() throws Exception {
        for (String where : new String[] {"s3a://bucket/full", "renamefs://nn/full"}) {
            ObjectStoreFs.reset();
            FsStore fs = new FsStore(conf(), where);
            stopAfter(fs, 7); // checkpoints at the end of epoch 1 and at step 1 of epoch 2
            byte[] before = ObjectStoreFs.OBJECTS.get(where + "/checkpoints/ckpt-e0001-s000001.ckpt").clone();
            ObjectStoreFs.SPACE.set(before.length / 2); // the next checkpoint runs out of space halfway
            IOException e = assertThrows(IOException.class, () -> {
                try (SingleProcess t = new SingleProcess(recipe("checkpoint_every_steps=2"), fs, SparkJobTest.QUIET)) {
                    t.trainer().resume();
                    t.trainer().run();
                }
            });
            assertTrue(e.getMessage().startsWith("cannot write " + where + "/checkpoints/ckpt-e0001-s000002.ckpt")
                    && e.getMessage().contains("No space left on device"), e.getMessage());
            ObjectStoreFs.SPACE.set(-1);
            assertEquals(List.of("checkpoints/ckpt-e0001-s000000.ckpt", "checkpoints/ckpt-e0001-s000001.ckpt"), Checkpoints.list(fs), where);
            assertArrayEquals(before, ObjectStoreFs.OBJECTS.get(where + "/checkpoints/ckpt-e0001-s000001.ckpt"), "the previous checkpoint is intact");
            try (InputStream in = fs.open("checkpoints/ckpt-e0001-s000001.ckpt")) {
                Checkpoint.read(in, where); // its checksum verifies
            }
            for (String k : ObjectStoreFs.OBJECTS.keySet()) assertFalse(k.endsWith(".tmp"), "temporary file left: " + k);
            resumeToTheEnd(fs);
        }
    }

    @Test
    void aLocalPathUsesOneRenameAndNoHadoopChecksumFiles() throws Exception {
        Path dir = shared.resolve("local-run");
        FsStore fs = new FsStore(new Configuration(), dir.toString());
        fs.writeText("metrics.jsonl", "a\n");
        fs.writeText("metrics.jsonl", "b\n");
        assertEquals("b\n", java.nio.file.Files.readString(dir.resolve("metrics.jsonl")));
        assertEquals(List.of("metrics.jsonl"), fs.list(""), "no .crc or temporary files");
        FsStore qualified = new FsStore(new Configuration(), "file:" + dir);
        assertEquals(List.of("metrics.jsonl"), qualified.list(""));
    }
}

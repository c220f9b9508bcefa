package org.addernet.faults;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.addernet.data.SyntheticImageNet;
import org.addernet.model.Checkpoint;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A real HDFS: {@code MiniDFSCluster} (hadoop-client-minicluster 3.5.0, the Hadoop of Spark 4.2; a dependency of the
 * {@code faults} profile only, so it is reached by reflection and the default build compiles without it) runs a
 * NameNode and a DataNode in this JVM on ephemeral ports. A Spark job in a child JVM reads a small ImageFolder tree
 * from {@code hdfs://} and checkpoints to {@code hdfs://}; the driver is killed with SIGKILL inside a checkpoint
 * write, and the same command plus {@code --resume} finishes from HDFS with the undisturbed run's weights bit for bit.
 */
class HdfsIT {
    /** ResNet-18's 11M parameters: 45 MB of weights per broadcast and result, 90 MB per checkpoint. */
    static final String HEAP = "3g";
    static Object cluster;
    static FileSystem hdfs;
    static String uri;

    @BeforeAll
    static void startCluster() throws Exception {
        Path base = DriverKillIT.WORK.resolve("minidfs");
        DriverKillIT.deleteTree(base);
        Configuration conf = new Configuration();
        conf.set("hdfs.minidfs.basedir", base.toString());
        Class<?> builder = Class.forName("org.apache.hadoop.hdfs.MiniDFSCluster$Builder");
        Object b = builder.getConstructor(Configuration.class).newInstance(conf);
        b = builder.getMethod("numDataNodes", int.class).invoke(b, 1);
        cluster = builder.getMethod("build").invoke(b);
        cluster.getClass().getMethod("waitActive").invoke(cluster);
        hdfs = (FileSystem) cluster.getClass().getMethod("getFileSystem").invoke(cluster);
        uri = hdfs.getUri().toString();
        System.out.println("[faults] MiniDFSCluster at " + uri);
        Path local = DriverKillIT.WORK.resolve("hdfs-imagenet");
        DriverKillIT.deleteTree(local);
        SyntheticImageNet.generate(local, 2, 6, 2, 7);
        hdfs.copyFromLocalFile(new org.apache.hadoop.fs.Path(local.toUri()), new org.apache.hadoop.fs.Path(uri + "/data/imagenet"));
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) cluster.getClass().getMethod("shutdown").invoke(cluster);
    }

    static List<String> recipe(String out) {
        return new ArrayList<>(List.of("train", "--master", "local[2]", "--out", uri + out, "model=resnet18", "dataset=imagenet",
                "data_dir=" + uri + "/data/imagenet", "image_size=64", "eval_resize=73", "batch_size=4", "eval_batch_size=4", "lr=0.05",
                "weight_decay=1e-4", "threads=1", "log_every=1", "seed=11", "epochs=1", "workers=2", "checkpoint_every_steps=1",
                "spark.ui.enabled=false"));
    }

    static Checkpoint read(String path) throws Exception {
        try (InputStream in = hdfs.open(new org.apache.hadoop.fs.Path(uri + path))) {
            return Checkpoint.read(in, path);
        }
    }

    static boolean writing(String dir) throws Exception {
        org.apache.hadoop.fs.Path d = new org.apache.hadoop.fs.Path(uri + dir);
        if (!hdfs.exists(d)) return false;
        for (FileStatus s : hdfs.listStatus(d)) if (s.getPath().getName().endsWith(".tmp")) return true;
        return false;
    }

    @Test
    void aDriverKilledInsideAnHdfsCheckpointWriteResumesFromHdfs() throws Exception {
        Path logs = DriverKillIT.WORK;
        assertEquals(0, DriverKillIT.runToEnd(recipe("/runs/straight"), logs.resolve("hdfs-straight.log"), HEAP),
                () -> DriverKillIT.tail(logs.resolve("hdfs-straight.log")));
        // Killed in its second checkpoint write (the temporary file complete on HDFS, not yet renamed).
        Process p = DriverKillIT.start(recipe("/runs/killed"), logs.resolve("hdfs-killed-0.log"), 400, HEAP);
        int seen = 0;
        boolean inside = false, killed = false;
        long deadline = System.nanoTime() + 600_000_000_000L;
        while (p.isAlive() && System.nanoTime() < deadline) {
            if (writing("/runs/killed/checkpoints")) {
                if (!inside && ++seen == 2) {
                    p.destroyForcibly();
                    killed = true;
                    break;
                }
                inside = true;
            } else {
                inside = false;
            }
            Thread.sleep(5);
        }
        p.waitFor(60, TimeUnit.SECONDS);
        assertTrue(killed, "the driver was not killed in a checkpoint write: " + DriverKillIT.tail(logs.resolve("hdfs-killed-0.log")));
        List<String> resume = recipe("/runs/killed");
        resume.add("--resume");
        Path log = logs.resolve("hdfs-killed-1.log");
        assertEquals(0, DriverKillIT.runToEnd(resume, log, HEAP), () -> DriverKillIT.tail(log));
        String text = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(text.contains("removed 1 temporary file") && text.contains("resumed from " + uri + "/runs/killed/checkpoints/"), text);
        Checkpoint want = read("/runs/straight/checkpoints/ckpt-e0001-s000000.ckpt"), got = read("/runs/killed/checkpoints/ckpt-e0001-s000000.ckpt");
        for (Map.Entry<String, Checkpoint.Entry> e : want.tensors().entrySet()) {
            assertArrayEquals(e.getValue().values(), got.tensors().get(e.getKey()).values(), "tensor " + e.getKey());
        }
        List<String> metrics;
        try (InputStream in = hdfs.open(new org.apache.hadoop.fs.Path(uri + "/runs/killed/metrics.jsonl"))) {
            metrics = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
        assertEquals(1, metrics.size(), metrics.toString());
        DriverKillIT.ROWS.add(String.format(Locale.ROOT, "| HDFS (MiniDFSCluster): Spark driver killed in its 2nd checkpoint write, resumed from hdfs:// | 3 |"
                + " yes: every tensor bit-identical, metrics each epoch once | none | resume names the hdfs:// checkpoint; the stale .tmp on HDFS removed and reported |"));
        DriverKillIT.table();
    }
}

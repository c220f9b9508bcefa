package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.addernet.data.BatchAssembler;
import org.addernet.data.Datasets;
import org.addernet.data.ImageDataset;
import org.addernet.engine.Engine;
import org.addernet.engine.Tensor;
import org.addernet.model.Model;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code addernet predict}: Parquet and CSV output of a trained checkpoint on the fixture's test split. */
class PredictJobTest {
    @TempDir
    static Path run;
    static Path checkpoint;

    @BeforeAll
    static void trainOnce() throws Exception {
        checkpoint = EvaluateJobTest.train(run);
    }

    static LoadedCheckpoint load(String... overrides) throws Exception {
        return LoadedCheckpoint.read(checkpoint.toString(), null, List.of(overrides), EvaluateJobTest.hadoop());
    }

    @Test
    void parquetHoldsTheTop5OfEverySample() throws Exception {
        Path out = run.resolve("pred-parquet");
        PredictJob.Result r = PredictJob.run(LocalSpark.get(), load("workers=3"), "test", out.toString(), "parquet", SparkJobTest.QUIET);
        assertEquals(500, r.rows());
        assertEquals(3, r.workers());

        List<Row> rows = LocalSpark.get().read().parquet(out.toString()).orderBy("id").collectAsList();
        assertEquals(500, rows.size());
        ImageDataset test = EvaluateJobTest.wholeTestSplit();
        for (int i = 0; i < rows.size(); i++) {
            Row row = rows.get(i);
            assertEquals(i, row.getInt(row.fieldIndex("id")), "ids are distinct and cover 0..n-1");
            assertEquals(test.label(i), row.getInt(row.fieldIndex("label")));
            List<Integer> cls = row.getList(row.fieldIndex("top5_classes"));
            List<Float> prob = row.getList(row.fieldIndex("top5_probs"));
            assertEquals(5, cls.size());
            assertEquals(5, prob.size());
            assertEquals(5, cls.stream().distinct().count(), "distinct classes " + cls);
            double sum = 0;
            for (int j = 0; j < 5; j++) {
                assertTrue(cls.get(j) >= 0 && cls.get(j) < 10);
                assertTrue(prob.get(j) >= 0);
                if (j > 0) assertTrue(prob.get(j) <= prob.get(j - 1), "descending: " + prob);
                sum += prob.get(j);
            }
            // Rounding each probability to float may push a near-1 sum a few ulps over 1.
            assertTrue(sum > 0 && sum <= 1 + 1e-6, "sum " + sum);
        }

        // The model run directly on a handful of samples, one at a time: the first class is the logits' argmax,
        // and the first probability their softmax maximum.
        int[] probe = {0, 1, 166, 167, 333, 499};
        try (Engine engine = Engine.create(1, "auto")) {
            Model m = EvaluateJobTest.restored(engine, checkpoint);
            BatchAssembler a = BatchAssembler.of(test, Datasets.spec("fashion-mnist"), false, 0);
            for (int id : probe) {
                float[] x = new float[test.sampleSize()];
                a.fillSample(0, id, x, 0);
                float[] z = m.forward(new Tensor(1, 1, 28, 28, x), false).data;
                int arg = 0;
                for (int j = 1; j < z.length; j++) if (z[j] > z[arg]) arg = j;
                double den = 0;
                for (float v : z) den += Math.exp(v - z[arg]);
                Row row = rows.get(id);
                assertEquals(arg, (int) row.<Integer>getList(row.fieldIndex("top5_classes")).get(0), "sample " + id);
                assertEquals(1 / den, row.<Float>getList(row.fieldIndex("top5_probs")).get(0), 1e-5, "sample " + id);
            }
        }

        // Contiguous blocks: each part file holds its ids in order, and the files follow each other.
        List<Path> parts = partFiles(out, ".parquet");
        assertEquals(3, parts.size());
        int next = 0;
        for (Path p : parts) {
            for (Row row : LocalSpark.get().read().parquet(p.toString()).collectAsList()) assertEquals(next++, row.getInt(0), p.toString());
        }
        assertEquals(500, next);
    }

    @Test
    void csvHasAHeaderAndOneLinePerSample() throws Exception {
        Path out = run.resolve("pred-csv");
        PredictJob.Result r = PredictJob.run(LocalSpark.get(), load("workers=2"), "test", out.toString(), "csv", SparkJobTest.QUIET);
        assertEquals(500, r.rows());
        List<Path> parts = partFiles(out, ".csv");
        assertEquals(2, parts.size());
        List<String> data = new ArrayList<>();
        for (Path p : parts) {
            List<String> lines = Files.readAllLines(p);
            assertEquals("id,label,class1,class2,class3,class4,class5,prob1,prob2,prob3,prob4,prob5", lines.get(0), p.toString());
            data.addAll(lines.subList(1, lines.size()));
        }
        assertEquals(500, data.size());
        ImageDataset test = EvaluateJobTest.wholeTestSplit();
        for (int i = 0; i < data.size(); i++) {
            String[] f = data.get(i).split(",");
            assertEquals(12, f.length, data.get(i));
            assertEquals(i, Integer.parseInt(f[0]));
            assertEquals(test.label(i), Integer.parseInt(f[1]));
            assertTrue(Float.parseFloat(f[7]) >= Float.parseFloat(f[8]), data.get(i));
        }
        // Writing again overwrites an earlier prediction.
        PredictJob.run(LocalSpark.get(), load("workers=2", "test_limit=10"), "test", out.toString(), "csv", SparkJobTest.QUIET);
        long lines = 0;
        for (Path p : partFiles(out, ".csv")) lines += Files.readAllLines(p).size() - 1;
        assertEquals(10, lines);
    }

    @Test
    void aFolderWithOtherFilesOrTheCheckpointIsNotOverwritten() throws Exception {
        Path other = Files.createDirectories(run.resolve("notes"));
        Files.writeString(other.resolve("todo.txt"), "keep me");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PredictJob.run(LocalSpark.get(), load(), "test", other.toString(), "parquet", SparkJobTest.QUIET));
        assertTrue(e.getMessage().contains("todo.txt"), e.getMessage());
        assertTrue(Files.exists(other.resolve("todo.txt")));
        IllegalArgumentException own = assertThrows(IllegalArgumentException.class,
                () -> PredictJob.run(LocalSpark.get(), load(), "test", run.toString(), "parquet", SparkJobTest.QUIET));
        assertTrue(own.getMessage().contains("holds the checkpoint"), own.getMessage());
        assertTrue(Files.exists(checkpoint));
    }

    @Test
    void topKRanksDescendingWithTiesToTheLowerClass() {
        float[] z = {0f, 3f, 1f, 3f, -2f, 2f, 9f};
        int[] cls = new int[5];
        float[] prob = new float[5];
        PredictJob.topK(z, 1, 6, cls, prob); // z[1..7)
        assertEquals(List.of(5, 0, 2, 4, 1), List.of(cls[0], cls[1], cls[2], cls[3], cls[4]));
        double den = 0;
        for (int j = 1; j < 7; j++) den += Math.exp(z[j] - 9.0);
        assertEquals(1 / den, prob[0], 1e-7);
        assertEquals(Math.exp(3 - 9.0) / den, prob[1], 1e-7);
        assertEquals(prob[1], prob[2]);
        assertFalse(prob[3] > prob[2]);
    }

    private static List<Path> partFiles(Path dir, String suffix) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("part-") && p.getFileName().toString().endsWith(suffix))
                    .sorted().toList();
        }
    }
}

package org.addernet.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.addernet.data.DataFormatException;
import org.addernet.interop.Interop;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code predict --input}: the released ResNet-20 (imported) on PNG images in nested folders and in a Parquet table,
 * a corrupt file among them; expected classes and probabilities from the official code in float64
 * ({@code scripts/make-interop-fixtures.py}: {@code predict-logits.f64}, images in path order).
 */
class PredictInputTest {
    static final String[] CIFAR10 = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
    @TempDir
    static Path tmp;
    static Path checkpoint, images;
    /** Softmax of the official logits, [image][class]. */
    static double[][] expected;

    static Path resource(String name) throws Exception {
        return Path.of(PredictInputTest.class.getResource("/interop/" + name).toURI());
    }

    @BeforeAll
    static void setUp() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        checkpoint = dir.resolve("r20.ckpt");
        Interop.importFile(resource("ResNet20-AdderNet.pth"), "resnet20", true, 10, "cifar10", null, null, checkpoint);
        Files.write(dir.resolve("classes.txt"), List.of(CIFAR10));
        images = tmp.resolve("images");
        Path src = resource("predict-images");
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                Path to = images.resolve(src.relativize(p).toString());
                Files.createDirectories(to.getParent());
                Files.copy(p, to);
            }
        }
        byte[] png = Files.readAllBytes(images.resolve("0.png"));
        Files.write(images.resolve("a/broken.png"), Arrays.copyOf(png, png.length / 2)); // truncated
        Files.writeString(images.resolve("a/notes.txt"), "not an image: ignored");
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(resource("predict-logits.f64"))).order(ByteOrder.LITTLE_ENDIAN);
        expected = new double[6][10];
        for (int i = 0; i < 6; i++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int c = 0; c < 10; c++) max = Math.max(max, expected[i][c] = b.getDouble());
            for (int c = 0; c < 10; c++) sum += expected[i][c] = Math.exp(expected[i][c] - max);
            for (int c = 0; c < 10; c++) expected[i][c] /= sum;
        }
    }

    static LoadedCheckpoint load(String... overrides) throws Exception {
        return LoadedCheckpoint.read(checkpoint.toString(), null, List.of(overrides), new org.apache.hadoop.conf.Configuration());
    }

    /** Image number of a path ("a/b/3.png" is 3). */
    static int number(String path) {
        String name = path.substring(path.lastIndexOf('/') + 1);
        return Integer.parseInt(name.substring(0, name.indexOf('.')));
    }

    static void checkRow(int image, List<Integer> cls, List<Float> prob, List<String> names) {
        double[] p = expected[image];
        int best = 0;
        for (int c = 1; c < 10; c++) if (p[c] > p[best]) best = c;
        assertEquals(best, (int) cls.get(0), "top-1 of image " + image);
        for (int r = 0; r < 5; r++) {
            assertEquals(p[cls.get(r)], prob.get(r), 1e-3, "probability of class " + cls.get(r) + " for image " + image);
            if (names != null) assertEquals(CIFAR10[cls.get(r)], names.get(r));
        }
    }

    @Test
    void imageFolderWithACorruptFile() throws Exception {
        Path out = tmp.resolve("pred");
        // Without a budget for bad files the job fails, naming the file.
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> PredictInput.run(LocalSpark.get(), load("workers=2"), images.toString(), out.toString(), "parquet", SparkJobTest.QUIET));
        assertTrue(e.getMessage().contains("broken.png"), e.getMessage());

        PredictJob.Result r = PredictInput.run(LocalSpark.get(), load("workers=2", "max_bad_images=1"), images.toString(), out.toString(),
                "parquet", SparkJobTest.QUIET);
        List<Row> rows = LocalSpark.get().read().parquet(out.toString()).orderBy("id").collectAsList();
        assertEquals(6, r.rows());
        assertEquals(6, rows.size());
        List<Integer> seen = new ArrayList<>();
        for (Row row : rows) {
            String path = row.getString(row.fieldIndex("path"));
            int image = number(path);
            seen.add(image);
            checkRow(image, row.getList(row.fieldIndex("top5_classes")), row.getList(row.fieldIndex("top5_probs")),
                    row.getList(row.fieldIndex("top5_names")));
        }
        assertEquals(List.of(0, 1, 2, 3, 4, 5), seen, "sorted by id = path order, broken.png (id 4) skipped");
        assertEquals(List.of(0, 1, 2, 3, 5, 6), rows.stream().map(x -> x.getInt(0)).toList());
    }

    @Test
    void parquetTableWithImageBytesAndCsvOutput() throws Exception {
        List<Row> in = new ArrayList<>();
        StructType schema = DataTypes.createStructType(List.of(
                DataTypes.createStructField("name", DataTypes.StringType, false),
                DataTypes.createStructField("jpeg", DataTypes.BinaryType, false)));
        List<Path> files;
        try (Stream<Path> s = Files.walk(images)) {
            files = s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
        }
        for (Path f : files) in.add(RowFactory.create(f.getFileName().toString(), Files.readAllBytes(f)));
        Path table = tmp.resolve("table.parquet");
        LocalSpark.get().createDataFrame(in, schema).coalesce(1).write().parquet(table.toString());
        Path out = tmp.resolve("pred-csv");
        PredictJob.Result r = PredictInput.run(LocalSpark.get(), load("workers=3", "max_bad_images=1"), table.toString(), out.toString(),
                "csv", SparkJobTest.QUIET);
        assertEquals(6, r.rows());
        List<Row> rows = LocalSpark.get().read().option("header", "true").schema(PredictInput.schema(true, 5, true)).csv(out.toString())
                .orderBy("id").collectAsList();
        assertEquals(6, rows.size());
        for (Row row : rows) {
            int id = row.getInt(row.fieldIndex("id"));
            // No id or path column: ids are the rows' ranks, paths name the table and the id.
            assertEquals(table + "#" + id, row.getString(row.fieldIndex("path")));
            String name = files.get(id).getFileName().toString();
            assertTrue(!name.equals("broken.png"), "the corrupt row is skipped");
            List<Integer> cls = new ArrayList<>();
            List<Float> prob = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (int k = 1; k <= 5; k++) {
                cls.add(row.getInt(row.fieldIndex("class" + k)));
                prob.add(row.getFloat(row.fieldIndex("prob" + k)));
                names.add(row.getString(row.fieldIndex("name" + k)));
            }
            checkRow(number(name), cls, prob, names);
        }
    }

    @Test
    void cifarBinaryDatasetFile() throws Exception {
        // The six PNGs as one CIFAR-10 batch: per record a label byte, then the R, G and B planes (32x32 each).
        List<Path> files;
        try (Stream<Path> s = Files.walk(images)) {
            files = s.filter(p -> p.toString().endsWith(".png") && !p.toString().endsWith("broken.png")).sorted().toList();
        }
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        for (Path f : files) {
            java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(f.toFile());
            b.write(7);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++) b.write((img.getRGB(x, y) >> (16 - 8 * c)) & 0xff);
        }
        Path bin = tmp.resolve("test_batch.bin");
        Files.write(bin, b.toByteArray());
        Path out = tmp.resolve("pred-bin");
        PredictJob.Result r = PredictInput.run(LocalSpark.get(), load("workers=2"), bin.toString(), out.toString(), "parquet", SparkJobTest.QUIET);
        assertEquals(6, r.rows());
        List<Row> rows = LocalSpark.get().read().parquet(out.toString()).orderBy("id").collectAsList();
        for (int i = 0; i < 6; i++) {
            Row row = rows.get(i);
            assertEquals(i, row.getInt(0));
            assertEquals(bin + "#" + i, row.getString(1));
            checkRow(number(files.get(i).toString()), row.getList(row.fieldIndex("top5_classes")), row.getList(row.fieldIndex("top5_probs")),
                    row.getList(row.fieldIndex("top5_names")));
        }
    }

    @Test
    void inputsThatAreNotImagesAreErrors() throws Exception {
        Path text = tmp.resolve("list.txt");
        Files.writeString(text, "x");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PredictInput.run(LocalSpark.get(), load(), text.toString(), tmp.resolve("o").toString(), "parquet", SparkJobTest.QUIET));
        assertTrue(e.getMessage().contains("--input " + text), e.getMessage());
        IllegalArgumentException m = assertThrows(IllegalArgumentException.class, () -> PredictInput.run(LocalSpark.get(), load(),
                tmp.resolve("missing").toString(), tmp.resolve("o").toString(), "parquet", SparkJobTest.QUIET));
        assertTrue(m.getMessage().contains("does not exist"), m.getMessage());
    }
}

package org.addernet.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.addernet.data.EncodedImages;
import org.addernet.data.ImageFolder;
import org.addernet.data.ImageTransforms;
import org.addernet.data.JpegDecoder;
import org.addernet.data.JpegSamples;
import org.addernet.data.RgbImage;
import org.addernet.engine.ThreadPool;
import org.apache.hadoop.conf.Configuration;

/**
 * Throughput of the JPEG input pipeline on an ImageFolder tree ({@code ROOT/train/<class>/*}, e.g. from
 * {@code scripts/make-synthetic-imagenet}), in images/s, on 1 thread and on N threads:
 * <ul>
 *   <li>{@code read}: the files' bytes through the Hadoop FileSystem API as the jobs read them (the page cache is
 *       warm after the warm-up pass, so this is the in-memory cost, not the disk's);</li>
 *   <li>{@code decode}: {@link JpegDecoder}, one per thread, reusing its ImageIO reader;</li>
 *   <li>{@code decode_fresh_reader}: the same with a new decoder (new ImageIO reader) per image, 1 thread: what
 *       reusing the reader saves;</li>
 *   <li>{@code decode+train}, {@code decode+eval}: {@link JpegSamples#fill} in batches of {@code --batch}, i.e.
 *       decode + RandomResizedCrop/flip/normalize, resp. Resize/CenterCrop/normalize, to 3 x size x size floats.</li>
 * </ul>
 * Usage: {@code PipelineBench --root DIR [--split train] [--threads N] [--images M] [--size 224] [--resize 256]
 * [--batch 32] [--reps R]}. Each row is the median of {@code R} timed passes over the same {@code M} images (spread
 * evenly over the sorted file list), after one untimed pass. Prints one JSON object per line, then a table whose
 * lines start with {@code #}. {@code images_per_s_per_core} divides by {@code min(threads, available processors)}.
 */
public final class PipelineBench {
    private PipelineBench() {
    }

    public static void main(String[] args) {
        run(args, System.out);
    }

    public static void run(String[] args, PrintStream out) {
        String root = null;
        String split = "train";
        int threads = Runtime.getRuntime().availableProcessors(), images = 256, size = ImageTransforms.DEFAULT_SIZE;
        int resize = ImageTransforms.DEFAULT_RESIZE, batch = 32, reps = 3;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) throw new IllegalArgumentException("missing value after " + a);
            switch (a) {
                case "--root" -> root = args[++i];
                case "--split" -> split = args[++i];
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--images" -> images = Integer.parseInt(args[++i]);
                case "--size" -> size = Integer.parseInt(args[++i]);
                case "--resize" -> resize = Integer.parseInt(args[++i]);
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + a + " (--root DIR, --split S, --threads N, "
                        + "--images M, --size S, --resize R, --batch B, --reps R)");
            }
        }
        if (root == null) throw new IllegalArgumentException("--root DIR is required (an ImageFolder tree, e.g. from make-synthetic-imagenet)");
        if (threads < 1 || images < 1 || batch < 1 || reps < 1) throw new IllegalArgumentException("--threads, --images, --batch, --reps must be >= 1");
        if (Math.max(1, resize) < size) resize = size;

        // The jobs' own listing (ImageFolder order, through the Hadoop FileSystem API), spread evenly over the ids.
        Configuration conf = new Configuration();
        String dir = ImageFolder.splitDir(root, split);
        List<String> classes;
        List<ImageFolder.Entry> picked;
        try {
            classes = ImageFolder.classes(conf, dir);
            picked = ImageFolder.limit(ImageFolder.list(conf, dir, classes), images);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        int m = picked.size();
        String[] files = new String[m];
        int[] label = new int[m];
        for (int i = 0; i < m; i++) {
            files[i] = picked.get(i).path();
            label[i] = picked.get(i).label();
        }

        int cores = Runtime.getRuntime().availableProcessors();
        int[] threadCounts = threads == 1 ? new int[] {1} : new int[] {1, threads};
        List<String[]> table = new ArrayList<>();
        try (ThreadPool big = new ThreadPool(threads)) {
            byte[][] bytes = new byte[m][];
            readAll(conf, files, bytes, null); // also warms the page cache
            EncodedImages.Builder b = EncodedImages.builder(dir, classes.size());
            long pixels = 0;
            try (JpegDecoder d = new JpegDecoder()) {
                for (int i = 0; i < m; i++) {
                    b.add(i, label[i], files[i], bytes[i]);
                    RgbImage img = d.decode(bytes[i], files[i]);
                    pixels += (long) img.width() * img.height();
                }
            }
            EncodedImages chunk = b.build();
            out.printf(Locale.ROOT, "{\"bench\":\"pipeline_input\",\"root\":\"%s\",\"images\":%d,\"classes\":%d,"
                    + "\"mean_bytes\":%.0f,\"mean_megapixels\":%.4f,\"size\":%d,\"resize\":%d,\"batch\":%d,\"reps\":%d,\"cores\":%d}%n",
                    json(dir), m, classes.size(), (double) chunk.byteSize() / m, pixels / 1e6 / m, size, resize,
                    batch, reps, cores);
            ImageTransforms t = new ImageTransforms(size, resize);
            JpegSamples train = new JpegSamples("bench-train", List.of(chunk), t, true, 1);
            JpegSamples eval = new JpegSamples("bench-eval", List.of(chunk), t, false, 1);
            int[] order = new int[m];
            for (int i = 0; i < m; i++) order[i] = i;
            float[] x = new float[batch * t.sampleSize()];
            int[] y = new int[batch];
            int bs = batch;
            for (int tc : threadCounts) {
                ThreadPool pool = tc == threads ? big : null;
                row(out, table, "read", tc, m, reps, cores, () -> readAll(conf, files, new byte[m][], pool));
                row(out, table, "decode", tc, m, reps, cores, () -> decodeAll(chunk, pool, false));
                if (tc == 1) row(out, table, "decode_fresh_reader", tc, m, reps, cores, () -> decodeAll(chunk, null, true));
                row(out, table, "decode+train", tc, m, reps, cores, () -> fillAll(train, order, x, y, bs, pool));
                row(out, table, "decode+eval", tc, m, reps, cores, () -> fillAll(eval, order, x, y, bs, pool));
            }
        }
        out.println("# phase                 threads   images/s   images/s/core   ms/image/core");
        for (String[] r : table) out.printf(Locale.ROOT, "# %-22s %7s %10s %15s %15s%n", (Object[]) r);
    }

    /** Times {@code reps} passes after one untimed one; prints the median as a JSON row and keeps a table row. */
    private static void row(PrintStream out, List<String[]> table, String phase, int threads, int m, int reps, int cores, Runnable pass) {
        pass.run();
        double[] s = new double[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            pass.run();
            s[r] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(s);
        double sec = s[reps / 2], ips = m / sec, perCore = ips / Math.min(threads, cores);
        out.printf(Locale.ROOT, "{\"bench\":\"pipeline\",\"phase\":\"%s\",\"threads\":%d,\"images\":%d,\"seconds\":%.4f,"
                + "\"images_per_s\":%.1f,\"images_per_s_per_core\":%.1f,\"seconds_min\":%.4f,\"seconds_max\":%.4f}%n",
                phase, threads, m, sec, ips, perCore, s[0], s[reps - 1]);
        table.add(new String[] {phase, String.valueOf(threads), String.format(Locale.ROOT, "%.1f", ips),
            String.format(Locale.ROOT, "%.1f", perCore), String.format(Locale.ROOT, "%.2f", 1000 / perCore)});
    }

    private static void readAll(Configuration conf, String[] files, byte[][] into, ThreadPool pool) {
        ThreadPool.RangeBody body = (t, a, b) -> {
            for (int i = a; i < b; i++) {
                try {
                    into[i] = ImageFolder.read(conf, files[i]);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
        if (pool == null) body.run(0, 0, files.length);
        else pool.parallelFor(files.length, body);
    }

    private static void decodeAll(EncodedImages c, ThreadPool pool, boolean freshReader) {
        ThreadPool.RangeBody body = (t, a, b) -> {
            JpegDecoder d = new JpegDecoder();
            try {
                for (int i = a; i < b; i++) {
                    if (freshReader) {
                        d.close();
                        d = new JpegDecoder();
                    }
                    d.decode(c.blob(), c.offset(i), c.length(i), c.path(i));
                }
            } finally {
                d.close();
            }
        };
        if (pool == null) body.run(0, 0, c.count());
        else pool.parallelFor(c.count(), body);
    }

    private static void fillAll(JpegSamples s, int[] order, float[] x, int[] y, int batch, ThreadPool pool) {
        for (int from = 0; from < order.length; from += batch) {
            s.fill(0, order, from, Math.min(batch, order.length - from), x, y, pool);
        }
    }

    private static String json(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}

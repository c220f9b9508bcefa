package org.addernet.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.addernet.engine.ThreadPool;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * The ImageFolder layout ({@code <root>/<split>/<class>/<image>}), read through the Hadoop FileSystem API so the
 * same code lists a local disk, {@code hdfs://} or {@code s3a://}. Numbering follows torchvision's
 * {@code ImageFolder}: the class index is the position of the folder name in the sorted list of class folders
 * of the training split, and images are numbered class by class, in sorted path order inside a class. An
 * image's number is its <em>id</em>: it keys its augmentation draws and decides its shard ({@link Buckets#worker}), so a
 * run does not depend on how a file system orders its listings.
 */
public final class ImageFolder {
    /** torchvision's {@code IMG_EXTENSIONS}: other files (READMEs, checksums, hidden files) are not images. */
    public static final List<String> EXTENSIONS = List.of(".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp");

    /** One image: its id, class index and path. */
    public record Entry(int id, int label, String path) implements Serializable {}

    private ImageFolder() {}

    public static boolean isImage(String fileName) {
        String n = fileName.toLowerCase(Locale.ROOT);
        if (n.startsWith(".")) return false;
        for (String e : EXTENSIONS) if (n.endsWith(e)) return true;
        return false;
    }

    /** {@code root/split} as a path string. */
    public static String splitDir(String root, String split) {
        return new Path(root, split).toString();
    }

    /** The sorted class folder names of {@code splitDir}; an error naming the folder when it has none. */
    public static List<String> classes(Configuration conf, String splitDir) throws IOException {
        Path dir = new Path(splitDir);
        FileSystem fs = dir.getFileSystem(conf);
        if (!fs.exists(dir)) throw new DataFormatException(splitDir + ": no such folder (expected the ImageFolder layout <root>/train/<class>/*.JPEG)");
        List<String> names = new ArrayList<>();
        for (FileStatus s : fs.listStatus(dir)) {
            String n = s.getPath().getName();
            if (s.isDirectory() && !n.startsWith(".") && !n.startsWith("_")) names.add(n);
        }
        if (names.isEmpty()) throw new DataFormatException(splitDir + ": no class folders (expected <class>/*.JPEG inside)");
        names.sort(null);
        return names;
    }

    /** The image files under one class folder (recursively), sorted by path as torchvision does. */
    public static List<String> listClass(Configuration conf, String classDir) throws IOException {
        Path dir = new Path(classDir);
        FileSystem fs = dir.getFileSystem(conf);
        List<String> files = new ArrayList<>();
        RemoteIterator<LocatedFileStatus> it = fs.listFiles(dir, true);
        while (it.hasNext()) {
            LocatedFileStatus s = it.next();
            if (s.isFile() && isImage(s.getPath().getName())) files.add(s.getPath().toString());
        }
        files.sort(null);
        return files;
    }

    /**
     * Numbers the images of a split listed class by class ({@code perClass.get(c)} holds class c's sorted paths,
     * for the training split's classes). A class without images is an error, as in torchvision.
     */
    public static List<Entry> number(List<String> classes, List<List<String>> perClass, String splitDir) {
        List<Entry> out = new ArrayList<>();
        for (int c = 0; c < classes.size(); c++) {
            for (String p : perClass.get(c)) {
                if (out.size() == Integer.MAX_VALUE) throw new DataFormatException(splitDir + ": more than 2^31-1 images");
                out.add(new Entry(out.size(), c, p));
            }
        }
        if (out.isEmpty()) throw new DataFormatException(splitDir + ": no image files (" + String.join(", ", EXTENSIONS) + ")");
        return out;
    }

    /**
     * The class folders of a split checked against the training classes: the same names, or for an evaluation
     * split a subset of them (a class missing there has no samples); a folder the model has no class for is an
     * error.
     */
    public static void checkClasses(List<String> trainClasses, List<String> splitClasses, String splitDir) {
        for (String c : splitClasses) {
            if (!trainClasses.contains(c)) {
                throw new DataFormatException(splitDir + ": class folder '" + c + "' is not one of the " + trainClasses.size()
                        + " training classes");
            }
        }
    }

    /** Lists the image files of class folders: {@code dirs.get(c)} is class c's folder, or null if the split lacks it. */
    public interface ClassLister {
        List<List<String>> list(List<String> dirs) throws IOException;
    }

    /** Every entry of a split, the class folders listed one after the other in this process. */
    public static List<Entry> list(Configuration conf, String splitDir, List<String> trainClasses) throws IOException {
        return list(conf, splitDir, trainClasses, dirs -> {
            List<List<String>> perClass = new ArrayList<>();
            for (String d : dirs) perClass.add(d == null ? List.of() : listClass(conf, d));
            return perClass;
        });
    }

    /** Every entry of a split, numbered over the training classes, the class folders listed by {@code lister}. */
    public static List<Entry> list(Configuration conf, String splitDir, List<String> trainClasses, ClassLister lister) throws IOException {
        List<String> present = classes(conf, splitDir);
        checkClasses(trainClasses, present, splitDir);
        List<String> dirs = new ArrayList<>();
        for (String c : trainClasses) dirs.add(present.contains(c) ? new Path(splitDir, c).toString() : null);
        List<List<String>> perClass = lister.list(dirs);
        // An empty class folder would silently become a class no sample teaches (torchvision refuses it too).
        for (int c = 0; c < dirs.size(); c++) {
            if (dirs.get(c) != null && perClass.get(c).isEmpty()) {
                throw new DataFormatException(dirs.get(c) + ": class folder holds no image files (" + String.join(", ", EXTENSIONS)
                        + "): add images or remove the folder");
            }
        }
        return number(trainClasses, perClass, splitDir);
    }

    /** The bytes of one file; an error naming it when it cannot be read or is larger than 2 GB. */
    public static byte[] read(Configuration conf, String path) throws IOException {
        Path p = new Path(path);
        FileSystem fs = p.getFileSystem(conf);
        try (InputStream in = fs.open(p)) {
            return in.readAllBytes();
        } catch (OutOfMemoryError e) {
            throw new DataFormatException(path + ": file too large to hold as one image");
        }
    }

    /**
     * Keeps {@code limit} entries spread evenly over the ids (every class keeps its share), for quick runs with
     * {@code train_limit}/{@code test_limit}; 0 keeps everything.
     */
    public static List<Entry> limit(List<Entry> all, int limit) {
        if (limit <= 0 || limit >= all.size()) return all;
        List<Entry> out = new ArrayList<>(limit);
        for (Entry e : all) if (keep(e.id(), all.size(), limit)) out.add(e);
        return out;
    }

    /** Whether id {@code id} of {@code total} is one of the {@code limit} kept ones: {@code floor(k*total/limit)}, k < limit. */
    public static boolean keep(int id, long total, int limit) {
        if (limit <= 0 || limit >= total) return true;
        long k = (id * (long) limit + total - 1) / total; // the smallest k with k*total/limit >= id
        return k < limit && k * total / limit == id;
    }

    /**
     * The bytes of an image file, fully decoded once to check them; null if the file cannot be read or decoded, the
     * problem then added to {@code problems} as "path: problem".
     */
    public static byte[] readChecked(Configuration conf, String path, Consumer<String> problems) {
        try {
            byte[] data = read(conf, path);
            JpegSamples.validate(data, path);
            return data;
        } catch (DataFormatException | IOException e) {
            // The decoder's and Hadoop's messages usually name the file already: name it once.
            String m = String.valueOf(e.getMessage());
            problems.accept(m.contains(path) ? m : path + ": " + m);
            return null;
        }
    }

    /** Reports every skipped image ("path: problem") to {@code log}; more than {@code limit} of them is an error listing them. */
    public static void checkRejected(List<String> rejected, int limit, String where, PrintStream log) {
        if (rejected.size() > limit) {
            // One line (the CLI prints one): the first few here, every one in the log.
            for (String r : rejected) log.println("unreadable image " + r);
            StringBuilder b = new StringBuilder(where + ": " + rejected.size() + " unreadable image" + (rejected.size() > 1 ? "s" : "")
                    + " (max_bad_images=" + limit + "): ");
            for (int i = 0; i < Math.min(3, rejected.size()); i++) b.append(i > 0 ? "; " : "").append(rejected.get(i).replace('\n', ' '));
            if (rejected.size() > 3) b.append("; and ").append(rejected.size() - 3).append(" more (listed above)");
            throw new DataFormatException(b.toString());
        }
        for (String r : rejected) log.println("skipping unreadable image " + r);
    }

    /**
     * Reads and validates {@code entries} in this process (the single-process trainer; the Spark jobs do this in
     * tasks), in parallel on {@code pool}, and returns the shards {@link Buckets#worker}{@code (id, buckets, workers) == p}
     * (the Spark job's shards), each sorted by id and in
     * chunks of at most {@code chunkBytes}. Unreadable files are skipped up to {@code maxBad}, each reported.
     */
    public static List<List<EncodedImages>> readShards(Configuration conf, List<Entry> entries, int numClasses, int workers, int buckets, int maxBad,
                                                       int chunkBytes, String where, ThreadPool pool, PrintStream log) {
        byte[][] bytes = new byte[entries.size()][];
        String[] problems = new String[entries.size()];
        pool.parallelFor(entries.size(), (t, a, b) -> {
            for (int i = a; i < b; i++) {
                int at = i;
                bytes[i] = readChecked(conf, entries.get(i).path(), problem -> problems[at] = problem);
            }
        });
        List<String> rejected = new ArrayList<>();
        for (String p : problems) if (p != null) rejected.add(p);
        checkRejected(rejected, maxBad, where, log);
        List<List<EncodedImages>> shards = new ArrayList<>();
        for (int p = 0; p < workers; p++) {
            List<EncodedImages> chunks = new ArrayList<>();
            EncodedImages.Builder b = EncodedImages.builder(where, numClasses);
            for (int i = 0; i < entries.size(); i++) {
                Entry e = entries.get(i);
                if (Buckets.worker(e.id(), buckets, workers) != p || bytes[i] == null) continue;
                b.add(e.id(), e.label(), e.path(), bytes[i]);
                if (b.byteSize() >= chunkBytes) {
                    chunks.add(b.build());
                    b = EncodedImages.builder(where, numClasses);
                }
            }
            if (b.count() > 0 || chunks.isEmpty()) chunks.add(b.build());
            shards.add(chunks);
        }
        return shards;
    }
}

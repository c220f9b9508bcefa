package org.addernet.spark;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.addernet.data.DataFormatException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * What {@code prepare} recorded in {@value PrepareJob#MARKER} (written last, with Jackson): the bucket count B, the
 * classes, and per split and bucket the image count and the Parquet files with their byte sizes, so the jobs can
 * check the layout with one listing per split instead of decoding every image, and give each worker its buckets.
 * File names are relative to the split folder ({@code bucket=17/part-....parquet}).
 */
record PreparedLayout(String format, int version, String source, int buckets, List<String> classes, Map<String, Split> splits,
                      List<String> rejected) {
    static final String FORMAT = "addernet-prepared";
    static final int VERSION = 2;

    record Split(long images, long bytes, List<Bucket> buckets) {}

    record Bucket(int bucket, long images, List<FileEntry> files) {}

    record FileEntry(String name, long bytes) {}

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    String toJson() throws IOException {
        return JSON.writeValueAsString(this) + "\n";
    }

    Split split(String name, Path marker) {
        Split s = splits == null ? null : splits.get(name);
        if (s == null) throw new DataFormatException(marker + ": no split '" + name + "'");
        return s;
    }

    /** Reads {@code root/prepared.json}; a folder prepared before buckets existed is an error saying to re-run prepare. */
    static PreparedLayout read(Configuration hadoop, String root) throws IOException {
        Path p = new Path(root, PrepareJob.MARKER);
        FileSystem fs = p.getFileSystem(hadoop);
        if (!fs.exists(p)) throw new DataFormatException(p + ": not found (is this the output folder of addernet prepare?)");
        JsonNode tree;
        try (InputStream in = fs.open(p)) {
            tree = JSON.readTree(in);
        } catch (IOException e) {
            throw new DataFormatException(p + ": not valid JSON (" + e.getMessage() + ")");
        }
        if (tree == null || !tree.has("buckets") || !tree.has("version")) {
            throw new DataFormatException(p + ": written by an older addernet prepare without buckets; re-run addernet prepare on the"
                    + " ImageFolder tree to get the bucketed layout the jobs read without a shuffle");
        }
        if (tree.get("version").asInt() > VERSION) {
            throw new DataFormatException(p + ": layout version " + tree.get("version").asInt() + " is newer than this build reads ("
                    + VERSION + ")");
        }
        PreparedLayout l;
        try {
            l = JSON.treeToValue(tree, PreparedLayout.class);
        } catch (IOException e) {
            throw new DataFormatException(p + ": malformed (" + e.getMessage() + ")");
        }
        if (l.buckets < 1 || l.classes == null || l.classes.isEmpty()) throw new DataFormatException(p + ": no buckets or no classes");
        return l;
    }

    /**
     * Checks that every recorded file of {@code split} exists with its recorded size (one recursive listing), naming
     * the first missing or truncated files by path; returns the absolute paths of each bucket's files.
     */
    List<List<String>> checkFiles(Configuration hadoop, String root, String split) throws IOException {
        Path dir = new Path(root, split);
        Split s = split(split, new Path(root, PrepareJob.MARKER));
        FileSystem fs = dir.getFileSystem(hadoop);
        Map<String, Long> found = new HashMap<>();
        if (fs.exists(dir)) {
            String base = fs.makeQualified(dir).toString() + "/";
            RemoteIterator<LocatedFileStatus> it = fs.listFiles(dir, true);
            while (it.hasNext()) {
                LocatedFileStatus f = it.next();
                String q = f.getPath().toString();
                if (q.startsWith(base)) found.put(q.substring(base.length()), f.getLen());
            }
        }
        List<List<String>> files = new ArrayList<>();
        for (int b = 0; b < buckets; b++) files.add(new ArrayList<>());
        List<String> problems = new ArrayList<>();
        for (Bucket bk : s.buckets()) {
            if (bk.bucket() < 0 || bk.bucket() >= buckets) throw new DataFormatException(dir + ": bucket " + bk.bucket() + " of " + buckets);
            for (FileEntry f : bk.files()) {
                Path path = new Path(dir, f.name());
                Long len = found.get(f.name());
                if (len == null) problems.add(path + ": missing (recorded " + f.bytes() + " bytes)");
                else if (len != f.bytes()) problems.add(path + ": " + len + " bytes, prepare recorded " + f.bytes() + " (truncated or replaced)");
                files.get(bk.bucket()).add(path.toString());
            }
        }
        if (!problems.isEmpty()) {
            StringBuilder m = new StringBuilder(dir + ": " + problems.size() + " bucket file" + (problems.size() > 1 ? "s" : "")
                    + " not as prepare wrote them (re-run addernet prepare):");
            for (int i = 0; i < Math.min(10, problems.size()); i++) m.append("\n  ").append(problems.get(i));
            if (problems.size() > 10) m.append("\n  ... and ").append(problems.size() - 10).append(" more");
            throw new DataFormatException(m.toString());
        }
        return files;
    }
}

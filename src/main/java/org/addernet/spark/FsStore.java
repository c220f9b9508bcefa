package org.addernet.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import org.addernet.train.RunFiles;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSError;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;

/**
 * A run folder on the Hadoop FileSystem API, so {@code --out} may be a local path, {@code hdfs://...} or
 * {@code s3a://...}. A file is complete before it becomes visible, and replacing one never deletes the old one
 * first, on each kind of store in its own way:
 * <ul>
 *   <li>local paths ({@code file:} or no scheme): {@link RunFiles#local}, a temporary file and one
 *       {@code rename(2)} (Hadoop's {@code FileContext.rename(OVERWRITE)} there unlinks the target first,
 *       measured: the folder had no checkpoint for 5-13 ms per write);</li>
 *   <li>object stores ({@code s3a}, {@code s3}, {@code s3n}, {@code gs}, {@code oss}, {@code abfs}...; see
 *       {@link #DIRECT_WRITE_SCHEMES}): the final key is written directly, because an object appears whole when
 *       its stream is closed and a rename is a copy of the whole object;</li>
 *   <li>HDFS: a temporary file, then {@code FileContext.rename(OVERWRITE)}, one atomic operation on the
 *       NameNode;</li>
 *   <li>any other file system: a temporary file and a rename (replacing an existing file deletes it first there:
 *       checkpoints never need that, see {@link #writeAtomic}).</li>
 * </ul>
 * The Hadoop setting {@code addernet.fs.direct-write.schemes} (comma-separated) replaces the list of object-store
 * schemes.
 */
public final class FsStore implements RunFiles {
    /** Schemes whose stores publish an object on close and copy on rename. */
    public static final Set<String> DIRECT_WRITE_SCHEMES = Set.of("s3a", "s3", "s3n", "gs", "oss", "cos", "cosn", "obs", "abfs", "abfss", "wasb", "wasbs");
    public static final String DIRECT_WRITE_KEY = "addernet.fs.direct-write.schemes";

    private final Configuration conf;
    private final Path dir;
    /** The local-disk implementation when {@code dir} is a local path, else null. */
    private final RunFiles local;

    public FsStore(Configuration conf, String dir) {
        this.conf = conf;
        this.dir = new Path(dir);
        String scheme = this.dir.toUri().getScheme();
        this.local = scheme == null || scheme.equals("file") ? RunFiles.local(java.nio.file.Path.of(this.dir.toUri().getPath())) : null;
    }

    private Path path(String name) {
        return name.isEmpty() ? dir : new Path(dir, name);
    }

    /** Whether files under {@code p} are written to their final name directly (an object store). */
    boolean writesDirectly(Path p) throws IOException {
        String scheme = p.getFileSystem(conf).getUri().getScheme();
        String list = conf.get(DIRECT_WRITE_KEY);
        Set<String> schemes = DIRECT_WRITE_SCHEMES;
        if (list != null) {
            schemes = new java.util.HashSet<>();
            for (String s : list.split(",")) if (!s.isBlank()) schemes.add(s.trim().toLowerCase(Locale.ROOT));
        }
        return scheme != null && schemes.contains(scheme.toLowerCase(Locale.ROOT));
    }

    @Override
    public String describe(String name) {
        return path(name).toString();
    }

    @Override
    public boolean exists(String name) throws IOException {
        if (local != null) return local.exists(name);
        Path p = path(name);
        FileSystem fs = p.getFileSystem(conf);
        return fs.exists(p) && fs.getFileStatus(p).isFile();
    }

    @Override
    public List<String> list(String folder) throws IOException {
        if (local != null) return local.list(folder);
        Path f = path(folder);
        FileSystem fs = f.getFileSystem(conf);
        List<String> r = new ArrayList<>();
        if (!fs.exists(f)) return r;
        for (FileStatus s : fs.listStatus(f)) if (s.isFile()) r.add(s.getPath().getName());
        r.sort(null);
        return r;
    }

    @Override
    public void delete(String name) throws IOException {
        if (local != null) {
            local.delete(name);
            return;
        }
        Path p = path(name);
        FileSystem fs = p.getFileSystem(conf);
        if (fs.exists(p)) fs.delete(p, false);
    }

    @Override
    public void writeAtomic(String name, Body body) throws IOException {
        if (local != null) {
            local.writeAtomic(name, body);
            return;
        }
        Path target = path(name);
        Path tmp = null;
        FileSystem fs = target.getFileSystem(conf);
        try {
            if (writesDirectly(target)) {
                // The object is published by close(); a crash before it leaves the previous object (or none).
                try (OutputStream out = fs.create(target, true)) {
                    body.write(out);
                }
                return;
            }
            fs.mkdirs(target.getParent());
            tmp = new Path(target.getParent(), TMP_PREFIX + target.getName() + "." + UUID.randomUUID() + TMP_SUFFIX);
            try (OutputStream out = fs.create(tmp, false)) {
                body.write(out);
            }
            org.addernet.train.FaultInjection.pauseBeforeRename();
            if ("hdfs".equalsIgnoreCase(fs.getUri().getScheme())) {
                // One NameNode operation, also when it replaces the target.
                FileContext.getFileContext(target.toUri(), conf).rename(tmp, target, Options.Rename.OVERWRITE);
            } else {
                // Elsewhere a replacing rename is not known to be atomic. Checkpoints have names of their own and are
                // never replaced in a run's normal course (only a corrupt one skipped on resume is written again);
                // metrics files are, and lose at worst their previous copy in this window.
                if (fs.exists(target)) fs.delete(target, false);
                if (!fs.rename(tmp, target)) throw new IOException("rename of " + tmp + " failed");
            }
        } catch (IOException e) {
            throw new IOException("cannot write " + target + ": " + RunFiles.oneLine(e), e);
        } catch (FSError e) {
            // Hadoop's local file system turns a full disk into this Error.
            throw new IOException("cannot write " + target + ": " + RunFiles.oneLine(e), e);
        } finally {
            if (tmp != null && fs.exists(tmp)) fs.delete(tmp, false);
        }
    }

    @Override
    public InputStream open(String name) throws IOException {
        if (local != null) return local.open(name);
        Path p = path(name);
        FileSystem fs = p.getFileSystem(conf);
        if (!fs.exists(p)) throw new IOException("not found: " + p);
        return fs.open(p);
    }
}

package org.addernet.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.UUID;
import org.addernet.train.RunFiles;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;

/**
 * A run folder on the Hadoop FileSystem API, so {@code --out} may be a local path, {@code hdfs://...} or
 * {@code s3a://...}. Writes go to a temporary file in the same folder, then a rename with overwrite: atomic on
 * local disks and HDFS, so a crash never leaves a torn checkpoint. (On S3 a rename is a copy: the new object
 * appears whole or not at all.)
 */
public final class FsStore implements RunFiles {
    private final Configuration conf;
    private final Path dir;

    public FsStore(Configuration conf, String dir) {
        this.conf = conf;
        this.dir = new Path(dir);
    }

    private Path path(String name) {
        return new Path(dir, name);
    }

    @Override
    public String describe(String name) {
        return path(name).toString();
    }

    @Override
    public boolean exists(String name) throws IOException {
        Path p = path(name);
        return p.getFileSystem(conf).exists(p);
    }

    @Override
    public void writeAtomic(String name, Body body) throws IOException {
        Path target = path(name);
        FileSystem fs = target.getFileSystem(conf);
        fs.mkdirs(dir);
        Path tmp = new Path(dir, "." + name + "." + UUID.randomUUID() + ".tmp");
        try {
            try (OutputStream out = fs.create(tmp, true)) {
                body.write(out);
            }
            FileContext.getFileContext(target.toUri(), conf).rename(tmp, target, Options.Rename.OVERWRITE);
        } finally {
            if (fs.exists(tmp)) fs.delete(tmp, false);
        }
    }

    @Override
    public InputStream open(String name) throws IOException {
        Path p = path(name);
        FileSystem fs = p.getFileSystem(conf);
        if (!fs.exists(p)) throw new IOException("not found: " + p);
        return fs.open(p);
    }
}

package org.addernet.spark;

import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FSInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * An in-memory Hadoop FileSystem with an object store's semantics, for tests: an object appears whole when its
 * output stream is closed (never before), a rename is a copy followed by a delete, there are no real folders.
 * Registered per scheme ({@code fs.<scheme>.impl}); all instances share one store. It can fail an upload after a
 * byte budget (a crash or a full store mid-write) and counts renames and every key ever created.
 */
public final class ObjectStoreFs extends FileSystem {
    static final Map<String, byte[]> OBJECTS = new ConcurrentHashMap<>();
    static final AtomicInteger RENAMES = new AtomicInteger();
    static final List<String> CREATED = new CopyOnWriteArrayList<>();
    /** Bytes the store still accepts before every write fails with "No space left on device" (negative: unlimited). */
    static final AtomicLong SPACE = new AtomicLong(-1);

    static void reset() {
        OBJECTS.clear();
        RENAMES.set(0);
        CREATED.clear();
        SPACE.set(-1);
    }

    private URI uri;

    @Override
    public void initialize(URI name, org.apache.hadoop.conf.Configuration conf) throws IOException {
        super.initialize(name, conf);
        setConf(conf);
        uri = URI.create(name.getScheme() + "://" + name.getAuthority());
    }

    @Override
    public URI getUri() { return uri; }

    @Override
    public String getScheme() { return uri.getScheme(); }

    private String key(Path p) {
        return uri + p.toUri().getPath();
    }

    @Override
    public FSDataInputStream open(Path f, int bufferSize) throws IOException {
        byte[] b = OBJECTS.get(key(f));
        if (b == null) throw new FileNotFoundException(f.toString());
        return new FSDataInputStream(new FSInputStream() {
            int pos;

            @Override
            public void seek(long p) { pos = (int) p; }

            @Override
            public long getPos() { return pos; }

            @Override
            public boolean seekToNewSource(long targetPos) { return false; }

            @Override
            public int read() { return pos < b.length ? b[pos++] & 0xff : -1; }

            @Override
            public int read(byte[] buf, int off, int len) {
                if (pos >= b.length) return -1;
                int n = Math.min(len, b.length - pos);
                System.arraycopy(b, pos, buf, off, n);
                pos += n;
                return n;
            }
        });
    }

    @Override
    public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite, int bufferSize, short replication,
                                     long blockSize, Progressable progress) throws IOException {
        String k = key(f);
        if (!overwrite && OBJECTS.containsKey(k)) throw new IOException(f + " exists");
        CREATED.add(k);
        ByteArrayOutputStream upload = new ByteArrayOutputStream() {
            boolean failed, closed;

            private void take(int n) throws IOException {
                if (SPACE.get() >= 0 && SPACE.addAndGet(-n) < 0) {
                    failed = true;
                    throw new IOException("No space left on device");
                }
            }

            @Override
            public synchronized void write(int b) {
                throw new UnsupportedOperationException("use write(byte[], int, int)");
            }

            @Override
            public synchronized void write(byte[] b, int off, int len) {
                try {
                    take(len);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                super.write(b, off, len);
            }

            @Override
            public void close() {
                if (closed) return;
                closed = true;
                if (!failed) OBJECTS.put(k, toByteArray()); // the object appears whole, on close
            }
        };
        // Unwrap the unchecked failure into the IOException a real store throws.
        java.io.OutputStream checked = new java.io.OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    upload.write(b, off, len);
                } catch (java.io.UncheckedIOException e) {
                    throw e.getCause();
                }
            }

            @Override
            public void close() throws IOException {
                upload.close();
            }
        };
        return new FSDataOutputStream(checked, null);
    }

    @Override
    public FSDataOutputStream append(Path f, int bufferSize, Progressable progress) {
        throw new UnsupportedOperationException("append");
    }

    @Override
    public boolean rename(Path src, Path dst) throws IOException {
        RENAMES.incrementAndGet();
        byte[] b = OBJECTS.get(key(src));
        if (b == null) return false;
        OBJECTS.put(key(dst), b.clone()); // a copy of the whole object...
        OBJECTS.remove(key(src)); // ...then a delete
        return true;
    }

    @Override
    public boolean delete(Path f, boolean recursive) {
        String k = key(f);
        boolean any = OBJECTS.remove(k) != null;
        if (recursive) any |= OBJECTS.keySet().removeIf(x -> x.startsWith(k + "/"));
        return any;
    }

    @Override
    public FileStatus[] listStatus(Path f) throws IOException {
        String prefix = key(f) + "/";
        TreeSet<String> dirs = new TreeSet<>();
        List<FileStatus> r = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : OBJECTS.entrySet()) {
            if (!e.getKey().startsWith(prefix)) continue;
            String rest = e.getKey().substring(prefix.length());
            int slash = rest.indexOf('/');
            if (slash < 0) r.add(new FileStatus(e.getValue().length, false, 1, 1, 0, new Path(e.getKey())));
            else dirs.add(rest.substring(0, slash));
        }
        for (String d : dirs) r.add(new FileStatus(0, true, 1, 1, 0, new Path(prefix + d)));
        if (r.isEmpty() && !OBJECTS.containsKey(key(f))) throw new FileNotFoundException(f.toString());
        return r.toArray(FileStatus[]::new);
    }

    @Override
    public void setWorkingDirectory(Path dir) {}

    @Override
    public Path getWorkingDirectory() { return new Path(uri + "/"); }

    @Override
    public boolean mkdirs(Path f, FsPermission permission) { return true; }

    @Override
    public FileStatus getFileStatus(Path f) throws IOException {
        String k = key(f);
        byte[] b = OBJECTS.get(k);
        if (b != null) return new FileStatus(b.length, false, 1, 1, 0, new Path(k));
        for (String x : OBJECTS.keySet()) if (x.startsWith(k + "/")) return new FileStatus(0, true, 1, 1, 0, new Path(k));
        throw new FileNotFoundException(f.toString());
    }
}

package org.addernet.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The output folder of a run (checkpoints, metrics, plot). Names are relative to the folder and may hold one
 * sub-folder ({@code checkpoints/ckpt-e0001-s000000.ckpt}). Every write is complete before the file becomes
 * visible, and replacing a file never removes the old one first: on a local disk a temporary file in the same
 * folder, then one {@code rename(2)} over the target (the old file stays until the new one replaces it). The
 * Spark job supplies an implementation on the Hadoop FileSystem API (HDFS, S3); {@link #local} is the plain-disk
 * one.
 */
public interface RunFiles {
    interface Body {
        void write(OutputStream out) throws IOException;
    }

    /** Prefix and suffix of temporary files: {@code .<name>.<random>.tmp}, removed by {@link #removeStale}. */
    String TMP_PREFIX = ".", TMP_SUFFIX = ".tmp";

    void writeAtomic(String name, Body body) throws IOException;

    InputStream open(String name) throws IOException;

    boolean exists(String name) throws IOException;

    /** Names of the regular files directly in sub-folder {@code folder} ("" = the run folder), sorted; empty if absent. */
    List<String> list(String folder) throws IOException;

    /** Deletes a file if it exists. */
    void delete(String name) throws IOException;

    /** Full name of a file, for messages. */
    String describe(String name);

    default void writeText(String name, String text) throws IOException {
        writeAtomic(name, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Fails with one line naming the folder unless a file can be created and deleted in it (called before any data
     * is read, so an unwritable {@code --out} does not surface after an epoch).
     */
    default void checkWritable() throws IOException {
        String probe = ".addernet-write-probe";
        try {
            writeAtomic(probe, out -> out.write(0));
            delete(probe);
        } catch (IOException | RuntimeException e) {
            Throwable why = e.getCause() != null && e.getMessage() != null && e.getMessage().startsWith("cannot write ") ? e.getCause() : e;
            throw new IOException("output folder " + describe("") + " is not writable: " + oneLine(why), e);
        }
    }

    /**
     * Deletes temporary files a crashed writer left in the run folder and in {@code folders}; returns how many.
     * Call only when no other process writes to this run folder.
     */
    default int removeStale(String... folders) throws IOException {
        int n = 0;
        List<String> all = new ArrayList<>(List.of(""));
        all.addAll(List.of(folders));
        for (String f : all) {
            for (String name : list(f)) {
                // Hadoop's local file system also leaves a checksum file ".<tmp>.crc" next to each.
                if (name.startsWith(TMP_PREFIX) && (name.endsWith(TMP_SUFFIX) || name.endsWith(TMP_SUFFIX + ".crc"))) {
                    delete(f.isEmpty() ? name : f + "/" + name);
                    n++;
                }
            }
        }
        return n;
    }

    /** An exception's message without its class name, and its cause's where that names the problem. */
    static String oneLine(Throwable e) {
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() == null) {
            // java.nio's messages are the bare path; say what happened to it.
            String what = e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                    : e instanceof java.nio.file.FileAlreadyExistsException ? "exists and is not a folder"
                    : e instanceof java.nio.file.NotDirectoryException ? "not a folder"
                    : e instanceof java.nio.file.NoSuchFileException ? "no such file or folder" : e.getClass().getSimpleName();
            return f.getFile() + ": " + what;
        }
        String m = e.getMessage();
        if (m == null || m.isBlank()) m = e.getClass().getSimpleName();
        Throwable c = e.getCause();
        if (c != null && c.getMessage() != null && !m.contains(c.getMessage())) m += ": " + c.getMessage();
        return m.replace('\n', ' ');
    }

    static RunFiles local(Path dir) {
        return new RunFiles() {
            @Override
            public void writeAtomic(String name, Body body) throws IOException {
                Path target = dir.resolve(name);
                Path folder = target.getParent();
                Path tmp = null;
                try {
                    Files.createDirectories(folder);
                    // Not Files.createTempFile: its files are private (0600); a run's files get the umask's permissions.
                    tmp = folder.resolve(TMP_PREFIX + target.getFileName() + "." + java.util.UUID.randomUUID() + TMP_SUFFIX);
                    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                        OutputStream out = Channels.newOutputStream(ch);
                        body.write(out);
                        out.flush();
                        ch.force(true); // on disk before it gets the final name: a power loss leaves the old file, not an empty new one
                    }
                    FaultInjection.pauseBeforeRename();
                    try {
                        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    } catch (AtomicMoveNotSupportedException e) {
                        throw new IOException("cannot replace " + target + " atomically (the file system has no atomic rename)", e);
                    }
                } catch (IOException e) {
                    throw new IOException("cannot write " + target + ": " + oneLine(e), e);
                } finally {
                    if (tmp != null) Files.deleteIfExists(tmp);
                }
            }

            @Override
            public InputStream open(String name) throws IOException {
                Path p = dir.resolve(name);
                if (!Files.isRegularFile(p)) throw new IOException("not found: " + p);
                return Files.newInputStream(p);
            }

            @Override
            public boolean exists(String name) {
                return Files.isRegularFile(dir.resolve(name));
            }

            @Override
            public List<String> list(String folder) throws IOException {
                Path f = folder.isEmpty() ? dir : dir.resolve(folder);
                List<String> r = new ArrayList<>();
                if (!Files.isDirectory(f)) return r;
                try (DirectoryStream<Path> s = Files.newDirectoryStream(f)) {
                    for (Path p : s) if (Files.isRegularFile(p)) r.add(p.getFileName().toString());
                }
                r.sort(null);
                return r;
            }

            @Override
            public void delete(String name) throws IOException {
                Files.deleteIfExists(dir.resolve(name));
            }

            @Override
            public String describe(String name) {
                return name.isEmpty() ? dir.toString() : dir.resolve(name).toString();
            }
        };
    }
}

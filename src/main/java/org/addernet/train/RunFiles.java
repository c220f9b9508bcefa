package org.addernet.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The output folder of a run (checkpoint, metrics, plot). Every write is atomic: a temporary file in the same
 * folder, then a rename over the target, so a crash never leaves a torn checkpoint. The Spark job supplies an
 * implementation on the Hadoop FileSystem API (HDFS, S3); {@link #local} is the plain-disk one.
 */
public interface RunFiles {
    interface Body {
        void write(OutputStream out) throws IOException;
    }

    void writeAtomic(String name, Body body) throws IOException;

    InputStream open(String name) throws IOException;

    boolean exists(String name) throws IOException;

    /** Full name of a file, for messages. */
    String describe(String name);

    default void writeText(String name, String text) throws IOException {
        writeAtomic(name, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    static RunFiles local(Path dir) {
        return new RunFiles() {
            @Override
            public void writeAtomic(String name, Body body) throws IOException {
                Files.createDirectories(dir);
                Path target = dir.resolve(name);
                Path tmp = Files.createTempFile(dir, "." + name + ".", ".tmp");
                try {
                    try (OutputStream out = Files.newOutputStream(tmp)) {
                        body.write(out);
                    }
                    try {
                        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    } catch (AtomicMoveNotSupportedException e) {
                        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                    }
                } finally {
                    Files.deleteIfExists(tmp);
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
            public String describe(String name) {
                return dir.resolve(name).toString();
            }
        };
    }
}

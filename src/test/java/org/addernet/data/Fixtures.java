package org.addernet.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/** Test helpers: the Fashion-MNIST fixture (scripts/make-fixtures.sh) and byte-level file makers. */
final class Fixtures {
    private Fixtures() {
    }

    /** src/test/resources/fashion-mnist-small: first 1000 train / 500 test samples of Fashion-MNIST. */
    static Path fashionSmall() {
        try {
            return Path.of(Fixtures.class.getResource("/fashion-mnist-small").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The decompressed content of a fixture file, read with plain JDK gzip (independent of IdxReader). */
    static byte[] raw(String name) {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(fashionSmall().resolve(name + ".gz")))) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] gzip(byte[] data) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(bos)) {
            g.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bos.toByteArray();
    }

    static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    static Path write(Path file, byte[] data) {
        try {
            Files.createDirectories(file.getParent());
            return Files.write(file, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

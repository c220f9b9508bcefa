package org.addernet.data;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Extracts the regular files of a tar or tar.gz archive (gzip detected by magic). Just enough of the
 * format for the CIFAR archives: ustar / GNU headers, regular files and directories. Links and device
 * entries are skipped (never created), pax headers are skipped, and any entry whose path is absolute
 * or climbs out of the destination ({@code ..}) rejects the whole archive.
 *
 * <p>Each file is written to a temporary name next to its target and then renamed, so an interrupted
 * extraction never leaves a half-written file under the real name.
 */
final class TarExtractor {
    private static final int BLOCK = 512;

    private TarExtractor() {
    }

    /** Extracts {@code archive} under {@code dest}; returns the files written, in archive order. */
    static List<Path> extract(Path archive, Path dest) throws IOException {
        Path root = dest.toAbsolutePath().normalize();
        Files.createDirectories(root);
        List<Path> written = new ArrayList<>();
        byte[] header = new byte[BLOCK];
        try (InputStream in = IdxReader.open(archive)) {
            while (true) {
                int got = in.readNBytes(header, 0, BLOCK);
                if (got == 0) break; // no end-of-archive blocks: tolerated, as GNU tar does
                if (got < BLOCK) throw bad(archive, "truncated header block (" + got + " of 512 bytes)");
                if (isZero(header)) break; // end-of-archive marker
                checkChecksum(archive, header);
                String name = cString(header, 0, 100);
                String magic = cString(header, 257, 6);
                if (magic.startsWith("ustar")) {
                    String prefix = cString(header, 345, 155);
                    // GNU tar uses this area for other things; only POSIX ustar ("ustar\0") has a prefix.
                    if (!prefix.isEmpty() && header[262] == 0) name = prefix + "/" + name;
                } else if (!magic.isEmpty()) {
                    throw bad(archive, "not a ustar archive (magic '" + magic + "')");
                }
                long size = octal(archive, header, 124, 12);
                char type = (char) header[156];
                if (type == '0' || type == 0 || type == '7') {
                    Path target = safeTarget(archive, root, name);
                    Files.createDirectories(target.getParent());
                    Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".part");
                    try {
                        try (OutputStream out = Files.newOutputStream(tmp)) {
                            copy(archive, name, in, out, size);
                        }
                        DatasetDownloader.moveAtomically(tmp, target);
                    } finally {
                        Files.deleteIfExists(tmp);
                    }
                    written.add(target);
                } else {
                    if (type == '5') Files.createDirectories(safeTarget(archive, root, name));
                    copy(archive, name, in, OutputStream.nullOutputStream(), size);
                }
                long pad = (BLOCK - size % BLOCK) % BLOCK;
                try {
                    in.skipNBytes(pad);
                } catch (EOFException e) {
                    throw bad(archive, "truncated padding after entry '" + name + "'");
                }
            }
        }
        return written;
    }

    private static Path safeTarget(Path archive, Path root, String name) throws IOException {
        if (name.isEmpty()) throw bad(archive, "entry with an empty name");
        if (name.startsWith("/") || name.contains("\\") || name.matches("^[A-Za-z]:.*")) {
            throw bad(archive, "refusing absolute path entry '" + name + "'");
        }
        for (String part : name.split("/")) {
            if (part.equals("..")) throw bad(archive, "refusing path traversal entry '" + name + "'");
        }
        Path target = root.resolve(name).normalize();
        if (!target.startsWith(root) || target.equals(root)) {
            throw bad(archive, "refusing entry '" + name + "' outside " + root);
        }
        return target;
    }

    private static void copy(Path archive, String name, InputStream in, OutputStream out, long size) throws IOException {
        byte[] buf = new byte[1 << 16];
        long left = size;
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
                throw bad(archive, "truncated file: entry '" + name + "' expected " + size + " bytes, found "
                        + (size - left));
            }
            out.write(buf, 0, n);
            left -= n;
        }
    }

    private static void checkChecksum(Path archive, byte[] h) throws IOException {
        long stored;
        try {
            stored = octal(archive, h, 148, 8);
        } catch (IOException e) {
            throw bad(archive, "unreadable header checksum: not a tar archive or corrupt");
        }
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156) ? ' ' : (h[i] & 0xFF);
        if (sum != stored) {
            throw bad(archive, "header checksum mismatch (stored " + stored + ", computed " + sum
                    + "): not a tar archive or corrupt");
        }
    }

    private static long octal(Path archive, byte[] h, int at, int len) throws IOException {
        if ((h[at] & 0x80) != 0) throw bad(archive, "base-256 sizes (files over 8 GB) are not supported");
        int i = at, end = at + len;
        while (i < end && (h[i] == ' ' || h[i] == 0)) i++; // leading padding
        long v = 0;
        for (; i < end && h[i] != 0 && h[i] != ' '; i++) {
            if (h[i] < '0' || h[i] > '7') throw bad(archive, "bad octal field at header offset " + at);
            v = v * 8 + (h[i] - '0');
        }
        return v;
    }

    private static String cString(byte[] h, int at, int len) {
        int end = at;
        while (end < at + len && h[end] != 0) end++;
        return new String(h, at, end - at, StandardCharsets.UTF_8);
    }

    private static boolean isZero(byte[] b) {
        for (byte x : b) if (x != 0) return false;
        return true;
    }

    private static IOException bad(Path archive, String problem) {
        return new IOException(archive + ": " + problem);
    }
}

package org.addernet.data;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.addernet.engine.Rng;

/**
 * Writes a CIFAR-10-format dataset of synthetic images ({@code data_batch_1..5.bin}, {@code test_batch.bin}: one
 * label byte and 3x32x32 pixel bytes per record), for benchmarks and tests on machines that cannot download
 * CIFAR. Each class has its own smooth colour pattern, and every image is its class pattern shifted and mixed
 * with noise, so a network can learn something from it; nothing about real CIFAR accuracy follows from it.
 */
public final class SyntheticCifar {
    private static final int SIDE = 32, PLANE = SIDE * SIDE, RECORD = 1 + 3 * PLANE;

    private SyntheticCifar() {}

    public static void write(Path dir, int train, int test, long seed) throws IOException {
        Files.createDirectories(dir);
        float[][] patterns = new float[10][3 * PLANE];
        for (int k = 0; k < 10; k++) {
            Rng r = Rng.derive(seed, 1000 + k);
            double fx = 1 + r.nextInt(3), fy = 1 + r.nextInt(3), phase = r.nextDouble() * Math.PI;
            for (int c = 0; c < 3; c++) {
                double base = 60 + 140 * r.nextDouble();
                for (int i = 0; i < PLANE; i++) {
                    int y = i / SIDE, x = i % SIDE;
                    patterns[k][c * PLANE + i] = (float) (base + 50 * Math.sin(fx * x * Math.PI / SIDE + phase + c) * Math.cos(fy * y * Math.PI / SIDE));
                }
            }
        }
        int perBatch = (train + 4) / 5;
        for (int b = 0; b < 5; b++) {
            int from = b * perBatch, to = Math.min(train, from + perBatch);
            writeFile(dir.resolve("data_batch_" + (b + 1) + ".bin"), from, Math.max(to - from, 0), patterns, seed);
        }
        writeFile(dir.resolve("test_batch.bin"), 1 << 24, test, patterns, seed);
    }

    private static void writeFile(Path file, int firstId, int n, float[][] patterns, long seed) throws IOException {
        byte[] rec = new byte[RECORD];
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            for (int i = 0; i < n; i++) {
                Rng r = Rng.derive(seed, firstId + i);
                int label = r.nextInt(10);
                int dx = r.nextInt(9) - 4, dy = r.nextInt(9) - 4;
                rec[0] = (byte) label;
                for (int c = 0; c < 3; c++) {
                    for (int p = 0; p < PLANE; p++) {
                        int y = Math.floorMod(p / SIDE + dy, SIDE), x = Math.floorMod(p % SIDE + dx, SIDE);
                        double v = patterns[label][c * PLANE + y * SIDE + x] + 40 * r.nextGaussian();
                        rec[1 + c * PLANE + p] = (byte) Math.max(0, Math.min(255, (int) Math.round(v)));
                    }
                }
                out.write(rec);
            }
        }
    }
}

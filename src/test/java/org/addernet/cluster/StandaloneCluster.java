package org.addernet.cluster;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The test's handle on {@code scripts/cluster}: a master and two workers on 127.0.0.1 in their own folder
 * ({@code target/cluster-it/cluster}, so a cluster someone started by hand in {@code target/cluster} is left
 * alone), on the default ports when they are free and on free ephemeral ports otherwise. Every call runs the
 * script, so what the tests exercise is what users run.
 */
final class StandaloneCluster {
    static final String HOST = "127.0.0.1";

    final Path root;
    final Path dir;
    final int masterPort, masterUiPort, workerUiPort;

    StandaloneCluster(Path root, Path dir) throws IOException {
        this.root = root;
        this.dir = dir;
        this.masterPort = portOr(7077, 1);
        this.masterUiPort = portOr(8080, 1);
        this.workerUiPort = portOr(8081, 2);
    }

    /** The script's environment: our folder and ports; never Maven (the build ran before the tests). */
    Map<String, String> env() {
        Map<String, String> e = new HashMap<>();
        e.put("ADDERNET_CLUSTER_DIR", dir.toString());
        e.put("ADDERNET_MASTER_PORT", Integer.toString(masterPort));
        e.put("ADDERNET_MASTER_UI_PORT", Integer.toString(masterUiPort));
        e.put("ADDERNET_WORKER_UI_PORT", Integer.toString(workerUiPort));
        e.put("ADDERNET_WORKERS", "2");
        e.put("ADDERNET_NO_BUILD", "1");
        return e;
    }

    void start() throws Exception {
        Files.createDirectories(dir);
        run(180, "start");
    }

    String stop() throws Exception {
        return run(60, "stop");
    }

    /** {@code scripts/cluster executors}: pid, executor id, app id, worker port per line. */
    List<long[]> executors() throws Exception {
        List<long[]> r = new ArrayList<>();
        for (String line : run(30, "executors").split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 2) r.add(new long[] {Long.parseLong(f[0]), Long.parseLong(f[1])});
        }
        return r;
    }

    /** Starts {@code scripts/cluster submit ARGS...}; the caller reads its stdout. Its stderr goes to {@code err}. */
    Process submit(Path err, Map<String, String> extraEnv, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("bash", root.resolve("scripts/cluster").toString(), "submit"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile()).redirectError(err.toFile());
        pb.environment().putAll(env());
        pb.environment().putAll(extraEnv);
        return pb.start();
    }

    /** Runs {@code scripts/cluster CMD}, returns its stdout; fails with its output on a non-zero exit or timeout. */
    String run(int timeoutSeconds, String... command) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("bash", root.resolve("scripts/cluster").toString()));
        cmd.addAll(List.of(command));
        Path out = Files.createTempFile("cluster-", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true).redirectOutput(out.toFile());
            pb.environment().putAll(env());
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("scripts/cluster " + String.join(" ", command) + " timed out after " + timeoutSeconds
                        + " s:\n" + Files.readString(out, StandardCharsets.UTF_8));
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new IllegalStateException("scripts/cluster " + String.join(" ", command) + " exited with " + p.exitValue() + ":\n" + text);
            }
            return text;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** {@code preferred} (and the {@code count - 1} ports after it) if free on 127.0.0.1, else a free run of ports. */
    static int portOr(int preferred, int count) throws IOException {
        if (free(preferred, count)) return preferred;
        for (int attempt = 0; attempt < 50; attempt++) {
            int p;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
                p = s.getLocalPort();
            }
            if (p + count < 65536 && free(p, count)) return p;
        }
        throw new IOException("found no " + count + " free consecutive ports on " + HOST);
    }

    private static boolean free(int first, int count) {
        for (int p = first; p < first + count; p++) {
            // Spark binds the UIs and RPC to 127.0.0.1; a listener on the wildcard address conflicts too.
            for (String addr : new String[] {HOST, "0.0.0.0"}) {
                try (ServerSocket s = new ServerSocket()) {
                    s.bind(new InetSocketAddress(addr, p));
                } catch (IOException e) {
                    return false;
                }
            }
        }
        return true;
    }
}

package org.addernet.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The Spark job on a real standalone cluster (a master and two 1-core workers on 127.0.0.1, started with
 * {@code scripts/cluster}): gradients and weights cross JVMs over Netty, the executors are separate processes.
 * Runs only in the {@code cluster} Maven profile ({@code mvn -Pcluster verify}).
 *
 * <p>The recipe: 2 epochs of LeNet-5-BN adder on Fashion-MNIST (6000 training / 1000 test images of Debian's
 * full set, or the shipped 1000/500 fixture if that is not installed), batch 256 over W = 2 workers with one
 * engine thread each. The job is a deterministic function of (data, config, seed, W) (DESIGN.md §4), so
 * <ul>
 *   <li>the cluster run ends with the weights of the same recipe in Spark local mode, and</li>
 *   <li>a cluster run in which one executor JVM is killed with SIGKILL mid-epoch recovers through Spark's task
 *       retry (the worker launches a new executor, the lost cached shard is rebuilt from the dataset broadcast)
 *       and ends with the same weights too.</li>
 * </ul>
 * Both must be bit-identical (weights, BN buffers and momentum), as the README says: the engine's results do not
 * depend on the thread count and the workers' gradients are summed in a fixed tree order. The same two runs with {@code sync=sharded} (weights, BN buffers and momentum owned in slices by
 * the executors) must be bit-identical to local mode: the killed one loses the slices of the dead executor and
 * replays from its last checkpoint ({@code checkpoint_every_steps=2}).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class StandaloneClusterIT {
    static final Path DEBIAN = Path.of("/usr/share/datasets/fashion-mnist");
    static final int EPOCHS = 2;
    /** After the driver has printed this step of epoch 1 (log_every=1), the next step's tasks get an executor killed. */
    static final int KILL_AFTER_STEP = 3;
    static final int RUN_TIMEOUT_S = 360;

    static Path root, work;
    static StandaloneCluster cluster;
    static Path reference, undisturbed, shardedUndisturbed;
    /** SHA-256 of target/addernet-spark-*.jar when each run started: others may rebuild it while the tests run. */
    static final List<String> jars = new ArrayList<>();

    @BeforeAll
    static void startCluster() throws Exception {
        root = Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
        work = root.resolve("target/cluster-it");
        deleteTree(work.resolve("runs"));
        Files.createDirectories(work.resolve("runs"));
        cluster = new StandaloneCluster(root, work.resolve("cluster"));
        long t0 = System.nanoTime();
        cluster.start();
        System.out.printf(Locale.ROOT, "[cluster-it] cluster started in %.1f s: master spark://%s:%d, UI :%d, worker UIs :%d-%d, dir %s%n",
                seconds(t0), StandaloneCluster.HOST, cluster.masterPort, cluster.masterUiPort, cluster.workerUiPort,
                cluster.workerUiPort + 1, cluster.dir);
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) System.out.print("[cluster-it] " + cluster.stop());
    }

    /** The training arguments of every run; only the output folder and the extra keys differ. */
    static List<String> recipe(Path out, String... extra) throws Exception {
        List<String> a = new ArrayList<>(List.of("train", "--config", root.resolve("conf/lenet5bn-fashion-mnist.properties").toString(),
                "--out", out.toString(), "epochs=" + EPOCHS, "workers=2", "threads=1", "log_every=1", "spark.ui.enabled=false"));
        a.addAll(List.of(extra));
        if (Files.exists(DEBIAN.resolve("train-images-idx3-ubyte.gz"))) {
            a.addAll(List.of("data_dir=" + DEBIAN, "train_limit=6000", "test_limit=1000", "batch_size=256"));
        } else {
            // 1000 training images: batch 64 still gives 16 steps per epoch to kill an executor in.
            a.addAll(List.of("data_dir=" + root.resolve("src/test/resources/fashion-mnist-small"), "batch_size=64"));
        }
        return a;
    }

    /** The same recipe in Spark local mode ({@code scripts/addernet train ... --master local[2]}), run once. */
    static synchronized Path reference() throws Exception {
        if (reference == null) reference = localRun("local");
        return reference;
    }

    /** A local[2] run of the recipe with {@code extra} keys into {@code runs/NAME}; returns its checkpoint. */
    static Path localRun(String name, String... extra) throws Exception {
        Path out = work.resolve("runs/" + name);
        List<String> cmd = new ArrayList<>(List.of("bash", root.resolve("scripts/addernet").toString()));
        cmd.addAll(recipe(out, extra));
        cmd.addAll(List.of("--master", "local[2]"));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile())
                .redirectOutput(work.resolve("runs/" + name + ".out").toFile()).redirectError(work.resolve("runs/" + name + ".err").toFile());
        pb.environment().put("ADDERNET_HEAP", "2g");
        long t0 = System.nanoTime();
        noteJar(name);
        Process p = pb.start();
        if (!p.waitFor(RUN_TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("local[2] run timed out after " + RUN_TIMEOUT_S + " s; output in " + work.resolve("runs"));
        }
        assertEquals(0, p.exitValue(), () -> "local[2] run failed:\n" + tail(work.resolve("runs/" + name + ".err"), 40));
        System.out.printf(Locale.ROOT, "[cluster-it] local[2] run %s: %.1f s; %s%n", name, seconds(t0), finalLine(work.resolve("runs/" + name + ".out")));
        return out.resolve(org.addernet.train.Checkpoints.newest(org.addernet.train.RunFiles.local(out)));
    }

    @Test
    @Order(1)
    void clusterRunEndsWithTheWeightsOfLocalMode() throws Exception {
        Path local = reference();
        Path ckpt = submit("cluster", false);
        CheckpointDiff d = CheckpointDiff.of(ckpt, local);
        System.out.println("[cluster-it] cluster vs local[2]: " + d);
        assertTrue(d.bitIdentical(), "cluster run vs local[2]: " + d + "; jar per run: " + jars);
        undisturbed = ckpt;
    }

    @Test
    @Order(2)
    void killedExecutorIsReplacedAndTheRunEndsWithTheSameWeights() throws Exception {
        Path local = reference();
        Path ckpt = submit("killed", true);
        Path err = work.resolve("runs/killed.err");
        String log = Files.readString(err, StandardCharsets.UTF_8);
        List<String> recovery = log.lines().filter(RECOVERY.asPredicate()).collect(Collectors.toList());
        System.out.println("[cluster-it] driver log lines of the recovery:");
        recovery.forEach(l -> System.out.println("    " + l));
        assertTrue(Pattern.compile("Lost executor \\d+ on").matcher(log).find(), "the driver never noticed the lost executor; log " + err);
        assertTrue(Pattern.compile("Granted executor ID \\S+/2 ").matcher(log).find(), "no replacement executor was launched; log " + err);
        // Spark words it in two ways: "Lost task ... ExecutorLostFailure (executor N exited caused by one of the running
        // tasks)" when it blames the task (counts towards spark.task.maxFailures), or "task ... failed because while it
        // was being computed, its executor exited for a reason unrelated to the task" (does not count).
        assertTrue(LOST_TASK.matcher(log).find(), "no task was lost with the executor; log " + err);
        assertTrue(Pattern.compile("Starting task \\d+\\.[1-9] ").matcher(log).find(), "the lost task was never retried; log " + err);

        Map<Long, Integer> tasks = new java.util.TreeMap<>();
        for (String l : log.lines().toList()) {
            Matcher m = STARTED.matcher(l);
            if (m.find()) tasks.merge(Long.parseLong(m.group(2)), 1, Integer::sum);
        }
        System.out.println("[cluster-it] tasks started per executor id: " + tasks);

        CheckpointDiff d = CheckpointDiff.of(ckpt, local);
        System.out.println("[cluster-it] killed-executor run vs local[2]: " + d);
        assertTrue(d.bitIdentical(), "killed-executor run vs local[2]: " + d + "; jar per run: " + jars);
        if (undisturbed != null) {
            CheckpointDiff u = CheckpointDiff.of(ckpt, undisturbed);
            System.out.println("[cluster-it] killed-executor run vs undisturbed cluster run: " + u);
            assertTrue(u.bitIdentical(), "killed-executor run vs undisturbed cluster run: " + u + "; jar per run: " + jars);
        }
    }

    /** sync=sharded keys: the state lives in the executors; a checkpoint every 2 steps is the replay point after a loss. */
    static final String[] SHARDED = {"sync=sharded", "checkpoint_every_steps=2"};

    @Test
    @Order(3)
    void shardedClusterRunEndsWithTheBitsOfLocalMode() throws Exception {
        Path local = reference();
        Path ckpt = submit("sharded", false, SHARDED);
        assertTrue(Files.readString(work.resolve("runs/sharded.out"), StandardCharsets.UTF_8).contains("sync=sharded"), "the run was not sharded");
        CheckpointDiff d = CheckpointDiff.of(ckpt, local);
        System.out.println("[cluster-it] sync=sharded cluster vs local[2] (sync=driver): " + d);
        // sync=sharded, sync=driver and the single process are bit-identical by construction (same slices, same sums).
        assertTrue(d.bitIdentical(), "sync=sharded cluster run vs local[2]: " + d + "; jar per run: " + jars);
        shardedUndisturbed = ckpt;
    }

    @Test
    @Order(4)
    void shardedRunWithAKilledExecutorReplaysFromTheCheckpointToTheSameBits() throws Exception {
        Path local = reference();
        Path ckpt = submit("sharded-killed", true, SHARDED);
        String out = Files.readString(work.resolve("runs/sharded-killed.out"), StandardCharsets.UTF_8);
        String err = Files.readString(work.resolve("runs/sharded-killed.err"), StandardCharsets.UTF_8);
        out.lines().filter(l -> l.contains("sharded state lost") || l.contains("task slots")).forEach(l -> System.out.println("    " + l));
        assertTrue(Pattern.compile("Lost executor \\d+ on").matcher(err).find(), "the driver never noticed the lost executor");
        assertTrue(out.contains("sharded state lost") && out.contains("replaying from"), "no replay after the loss; see runs/sharded-killed.out");
        CheckpointDiff d = CheckpointDiff.of(ckpt, local);
        System.out.println("[cluster-it] sync=sharded killed-executor run vs local[2]: " + d);
        assertTrue(d.bitIdentical(), "sync=sharded killed-executor run vs local[2]: " + d + "; jar per run: " + jars);
        if (shardedUndisturbed != null) {
            CheckpointDiff u = CheckpointDiff.of(ckpt, shardedUndisturbed);
            System.out.println("[cluster-it] sync=sharded killed-executor run vs undisturbed sharded run: " + u);
            assertTrue(u.bitIdentical(), "killed vs undisturbed sharded run: " + u);
        }
    }

    /**
     * {@code wire=bf16}, sharded, with a killed executor: the slices cross between two executor JVMs as bfloat16
     * (fetched straight from the transfer callback), the run replays after the loss and ends with the bits of the
     * local[2] run with the same roundings ({@code sync=driver}, which rounds as the owners do).
     */
    @Test
    @Order(5)
    void bf16ShardedRunWithAKilledExecutorEndsWithTheBitsOfLocalMode() throws Exception {
        Path local = localRun("local-bf16", "wire=bf16");
        String[] keys = Arrays.copyOf(SHARDED, SHARDED.length + 1);
        keys[SHARDED.length] = "wire=bf16";
        Path ckpt = submit("sharded-bf16-killed", true, keys);
        String out = Files.readString(work.resolve("runs/sharded-bf16-killed.out"), StandardCharsets.UTF_8);
        assertTrue(out.contains("sync=sharded"), "the run was not sharded");
        assertTrue(out.contains("sharded state lost") && out.contains("replaying from"), "no replay after the loss; see runs/sharded-bf16-killed.out");
        CheckpointDiff d = CheckpointDiff.of(ckpt, local);
        System.out.println("[cluster-it] wire=bf16 sync=sharded killed-executor run vs local[2] wire=bf16: " + d);
        assertTrue(d.bitIdentical(), "wire=bf16 sharded killed-executor run vs local[2]: " + d + "; jar per run: " + jars);
        CheckpointDiff f = CheckpointDiff.of(ckpt, reference());
        assertTrue(!f.bitIdentical(), "wire=bf16 must end elsewhere than fp32: " + f);
    }

    static final Pattern LOST_TASK = Pattern.compile(
            "Lost task \\S+ in stage .*ExecutorLostFailure|task \\S+ in stage \\S+ \\(TID \\d+\\) failed because while it was being computed, its executor exited");
    static final Pattern RECOVERY = Pattern.compile(
            "Lost executor|Lost task|its executor exited|Starting task \\d+\\.[1-9] |removed: |Granted executor ID \\S+/[2-9]|No more replicas|Executor lost|EXITED|Resubmitt|FetchFailed");

    /**
     * {@code scripts/cluster submit} of the recipe into {@code runs/NAME}; with {@code kill}, SIGKILLs the executor
     * JVM of a task of the step after epoch 1's step {@link #KILL_AFTER_STEP} while that task runs. Returns the
     * checkpoint.
     */
    static Path submit(String name, boolean kill, String... extra) throws Exception {
        Path out = work.resolve("runs/" + name), stdout = work.resolve("runs/" + name + ".out"), err = work.resolve("runs/" + name + ".err");
        long t0 = System.nanoTime();
        noteJar(name);
        // Scheduler at INFO: the driver's log then shows each task attempt, so a retry is visible as "task x.1".
        Process p = cluster.submit(err, Map.of("ADDERNET_SCHEDULER_LOG", "info", "ADDERNET_DRIVER_HEAP", "2g"), recipe(out, extra));
        Thread watchdog = new Thread(() -> {
            try {
                if (!p.waitFor(RUN_TIMEOUT_S, TimeUnit.SECONDS)) p.destroyForcibly();
            } catch (InterruptedException e) {
                p.destroyForcibly();
            }
        }, "cluster-it watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        Map<Long, Long> executors = null; // executor id -> pid
        boolean killed = false, readAll = false;
        String killStep = String.format(Locale.ROOT, "epoch 1/%d step %d/", EPOCHS, KILL_AFTER_STEP);
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
             PrintWriter copy = new PrintWriter(Files.newBufferedWriter(stdout, StandardCharsets.UTF_8), true)) {
            for (String line; (line = r.readLine()) != null; ) {
                copy.println(line);
                if (!kill) continue;
                if (line.startsWith("spark spark://")) {
                    // Printed after the shards were cached, so both executors are registered and running.
                    List<long[]> ex = cluster.executors();
                    assertEquals(2, ex.size(), "executors of the job: " + ex.stream().map(e -> e[0] + "/" + e[1]).toList());
                    executors = new HashMap<>();
                    for (long[] e : ex) executors.put(e[1], e[0]);
                } else if (line.startsWith(killStep) && !killed && executors != null) {
                    // The line is printed between two steps, when no task runs: wait for the next step's tasks and
                    // kill the executor of one that is still running, so that its task must be retried.
                    long[] task = runningTask(err, executors);
                    long pid = executors.get(task[1]);
                    ProcessHandle h = ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("executor pid " + pid + " is gone before the kill"));
                    h.destroyForcibly(); // SIGKILL: no shutdown hook, the worker sees exit code 137
                    killed = true;
                    System.out.printf(Locale.ROOT, "[cluster-it] %s: killed executor %d (pid %d) with SIGKILL while it ran task TID %d, after \"%s\"%n",
                            LocalTime.now(), task[1], pid, task[0], line.trim());
                    h.onExit().get(30, TimeUnit.SECONDS);
                }
            }
            readAll = true;
        } finally {
            if (!readAll) p.destroyForcibly(); // a failed assertion above: do not leave the driver running
        }
        if (kill) assertTrue(killed, "the run ended before step " + KILL_AFTER_STEP + " of epoch 1: no executor was killed; see " + stdout);
        assertEquals(0, p.waitFor(), () -> name + " run failed (exit " + p.exitValue() + "); driver log " + err + ":\n" + tail(err, 60));
        System.out.printf(Locale.ROOT, "[cluster-it] %s run: %.1f s; %s%n", name, seconds(t0), finalLine(stdout));
        String newest = org.addernet.train.Checkpoints.newest(org.addernet.train.RunFiles.local(out));
        assertTrue(newest != null, "no checkpoint in " + out);
        Path ckpt = out.resolve(newest);
        return ckpt;
    }

    static void noteJar(String run) throws Exception {
        byte[] h = java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(root.resolve("target/addernet-spark-0.1.0-SNAPSHOT.jar")));
        jars.add(run + " " + java.util.HexFormat.of().formatHex(h, 0, 6));
    }

    static final Pattern STARTED = Pattern.compile("Starting task \\S+ in stage \\S+ \\(TID (\\d+)\\) \\([^,]*, ?executor (\\d+),");
    static final Pattern FINISHED = Pattern.compile("Finished task \\S+ in stage \\S+ \\(TID (\\d+)\\)");

    /**
     * Polls the driver's log (scheduler at INFO) until a task of one of {@code executors} has started and not
     * finished; returns {TID, executor id}.
     */
    static long[] runningTask(Path driverLog, Map<Long, Long> executors) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Map<Long, Long> running = new LinkedHashMap<>(); // TID -> executor
            for (String l : Files.readAllLines(driverLog, StandardCharsets.UTF_8)) {
                Matcher m = STARTED.matcher(l);
                if (m.find()) running.put(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)));
                m = FINISHED.matcher(l);
                if (m.find()) running.remove(Long.parseLong(m.group(1)));
            }
            for (Map.Entry<Long, Long> e : running.entrySet()) {
                if (executors.containsKey(e.getValue())) return new long[] {e.getKey(), e.getValue()};
            }
            Thread.sleep(5);
        }
        throw new AssertionError("no task started on executors " + executors.keySet() + " within 60 s; see " + driverLog);
    }

    static String finalLine(Path stdout) throws IOException {
        return Files.readAllLines(stdout, StandardCharsets.UTF_8).stream().filter(l -> l.startsWith("final:")).findFirst().orElse("(no final line)");
    }

    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }
}

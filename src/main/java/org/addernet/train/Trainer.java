package org.addernet.train;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.addernet.model.Checkpoint;
import org.addernet.model.Model;

/**
 * The training loop, the same for one process and for the Spark job: epochs of synchronous steps, each one
 * {@link StepRunner#run} (the workers' forward/backward, summed) and {@link StepAggregate#apply} (adaptive
 * scaling, SGD) on the driver; per epoch an evaluation, a line of metrics and a checkpoint; at the end a plot.
 * Where the steps run is the runner's business: {@link SingleProcess} emulates W workers in this JVM, the Spark
 * job runs them as tasks.
 *
 * <p>Files in the run folder: {@code checkpoint.ckpt} (after every epoch, and every
 * {@code checkpoint_every_steps} steps), {@code metrics.jsonl} and {@code metrics.csv} (one line per epoch),
 * {@code training-curves.png}, and for image folders {@code classes.txt} (written by the runners). A checkpoint
 * records the position (epoch, next step) and the epoch's running sums, so {@link #resume} continues exactly where
 * it was written.
 */
public final class Trainer {
    public static final String CHECKPOINT = "checkpoint.ckpt";
    /** Class names of an image dataset, one per line (line k = class k). */
    public static final String CLASSES = "classes.txt";

    /** Runs step {@code step} of epoch {@code epoch} on all workers with the model's current weights. */
    public interface StepRunner {
        StepAggregate run(int epoch, int step);
    }

    /** Evaluates the model's current weights on the test set. */
    public interface Evaluator {
        EvalStats evaluate();
    }

    /** One line of {@code metrics.jsonl}. */
    public record EpochMetrics(int epoch, int epochs, int steps, double lr, double trainLoss, double trainAcc,
                               double testLoss, double testAcc, double testTop5, double imagesPerS, double seconds,
                               double evalSeconds) {
        static final String[] FIELDS = {"epoch", "epochs", "steps", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
                "test_top5", "images_per_s", "seconds", "eval_seconds"};

        double[] values() {
            return new double[] {epoch, epochs, steps, lr, trainLoss, trainAcc, testLoss, testAcc, testTop5, imagesPerS, seconds, evalSeconds};
        }

        public String toJson() {
            StringBuilder b = new StringBuilder("{");
            double[] v = values();
            for (int i = 0; i < FIELDS.length; i++) {
                b.append(i > 0 ? "," : "").append('"').append(FIELDS[i]).append("\":").append(format(i, v[i]));
            }
            return b.append('}').toString();
        }

        public String toCsv() {
            StringBuilder b = new StringBuilder();
            double[] v = values();
            for (int i = 0; i < FIELDS.length; i++) b.append(i > 0 ? "," : "").append(format(i, v[i]));
            return b.toString();
        }

        private static String format(int field, double v) {
            if (field < 3) return Long.toString((long) v);
            return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : "null";
        }

        private static final Pattern FIELD = Pattern.compile("\"([a-z_0-9]+)\":(-?[0-9.eE+-]+|null)");

        /** Parses a line written by {@link #toJson} (to rebuild the history when a run resumes). */
        public static EpochMetrics fromJson(String line) {
            Map<String, Double> m = new TreeMap<>();
            Matcher mt = FIELD.matcher(line);
            while (mt.find()) m.put(mt.group(1), mt.group(2).equals("null") ? Double.NaN : Double.parseDouble(mt.group(2)));
            double[] v = new double[FIELDS.length];
            for (int i = 0; i < FIELDS.length; i++) {
                Double d = m.get(FIELDS[i]);
                if (d == null) throw new IllegalArgumentException("metrics line lacks '" + FIELDS[i] + "': " + line);
                v[i] = d;
            }
            return new EpochMetrics((int) v[0], (int) v[1], (int) v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]);
        }
    }

    private final Recipe recipe;
    private final Model model;
    private final Sgd sgd;
    private final int stepsPerEpoch;
    private final LrSchedule schedule;
    private final StepRunner steps;
    private final Evaluator evaluator;
    private final RunFiles files;
    private final PrintStream log;
    private final List<EpochMetrics> history = new ArrayList<>();
    /** Where training continues: epoch, next step, and that epoch's running sums. */
    private int epoch, step;
    private double epochLoss, epochSeconds;
    private long epochCorrect, epochSeen;
    /** The workers' kernel set (e.g. {@code vector-16}) of the last step, or of the checkpoint resumed from. */
    private String kernels;

    public Trainer(Recipe recipe, Model model, Sgd sgd, int stepsPerEpoch, StepRunner steps, Evaluator evaluator,
                   RunFiles files, PrintStream log) {
        this.recipe = recipe;
        this.model = model;
        this.sgd = sgd;
        this.stepsPerEpoch = stepsPerEpoch;
        this.schedule = recipe.schedule(stepsPerEpoch);
        this.steps = steps;
        this.evaluator = evaluator;
        this.files = files;
        this.log = log;
    }

    public Model model() { return model; }
    public Sgd optimizer() { return sgd; }
    public List<EpochMetrics> history() { return List.copyOf(history); }
    public int stepsPerEpoch() { return stepsPerEpoch; }

    /** Learning rate at (epoch, step) of this run's schedule. */
    public double lr(int epoch, int step) {
        return schedule.lr(epoch, step);
    }

    /** Continues from the run folder's checkpoint: weights, BN buffers, momentum, position, metrics so far. */
    public void resume() throws IOException {
        String where = files.describe(CHECKPOINT);
        Checkpoint c;
        try (InputStream in = files.open(CHECKPOINT)) {
            c = Checkpoint.read(in, where);
        }
        c.restoreInto(model, where);
        Checkpoint.Entry mom = c.tensors().get(Checkpoint.MOMENTUM);
        if (mom == null) throw new IOException(where + " has no optimizer state");
        Map<String, String> meta = c.meta();
        sgd.restore(mom.values(), Long.parseLong(meta.getOrDefault("optimizer_steps", "0")));
        epoch = Integer.parseInt(meta.getOrDefault("epoch", "0"));
        step = Integer.parseInt(meta.getOrDefault("step", "0"));
        epochLoss = Double.parseDouble(meta.getOrDefault("epoch_loss_sum", "0"));
        epochCorrect = Long.parseLong(meta.getOrDefault("epoch_correct", "0"));
        epochSeen = Long.parseLong(meta.getOrDefault("epoch_seen", "0"));
        epochSeconds = Double.parseDouble(meta.getOrDefault("epoch_seconds", "0"));
        kernels = meta.get("kernels");
        String previousSteps = meta.get("steps_per_epoch");
        if (previousSteps != null && Integer.parseInt(previousSteps) != stepsPerEpoch) {
            throw new IllegalArgumentException(where + " was written with " + previousSteps + " steps per epoch, this run has "
                    + stepsPerEpoch + ": resume with the same dataset, batch_size and workers");
        }
        history.clear();
        if (files.exists("metrics.jsonl")) {
            try (InputStream in = files.open("metrics.jsonl")) {
                for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                    if (!line.isBlank()) {
                        EpochMetrics m = EpochMetrics.fromJson(line);
                        if (m.epoch() <= epoch) history.add(m);
                    }
                }
            }
        }
        log.printf(Locale.ROOT, "resumed from %s at epoch %d step %d%n", where, epoch + 1, step);
    }

    /**
     * Trains the remaining epochs (or {@code max_steps} steps, then checkpoints and returns); returns the last
     * completed epoch's metrics (null if none).
     */
    public EpochMetrics run() throws IOException {
        EpochMetrics last = history.isEmpty() ? null : history.get(history.size() - 1);
        int epochs = recipe.epochs;
        log.println(recipe.stepSummary());
        long budget = recipe.maxSteps > 0 ? recipe.maxSteps : Long.MAX_VALUE;
        while (epoch < epochs) {
            long t0 = System.nanoTime();
            double secondsBefore = epochSeconds;
            double lr = 0;
            while (step < stepsPerEpoch) {
                if (budget-- == 0) {
                    writeCheckpoint();
                    log.printf(Locale.ROOT, "stopping after max_steps=%d at epoch %d step %d; continue with --resume%n",
                            recipe.maxSteps, epoch + 1, step);
                    return last;
                }
                lr = schedule.lr(epoch, step);
                StepAggregate r = steps.run(epoch, step);
                r.apply(model, sgd, lr, recipe.perWorkerScaling, String.format(Locale.ROOT,
                        "epoch %d step %d (the last checkpoint, %s, is kept)", epoch + 1, step + 1, files.describe(CHECKPOINT)));
                if (kernels != null && r.kernels() != null && !kernels.equals(r.kernels())) {
                    log.printf(Locale.ROOT, "note: kernels %s now, %s before: results differ in the last bits from a run on %s%n",
                            r.kernels(), kernels, kernels);
                }
                if (r.kernels() != null) kernels = r.kernels();
                epochLoss += r.lossSum();
                epochCorrect += r.correct();
                epochSeen += r.count();
                step++;
                epochSeconds = secondsBefore + (System.nanoTime() - t0) / 1e9;
                if (step % recipe.logEvery == 0 || step == stepsPerEpoch) {
                    double ips = epochSeen / epochSeconds;
                    double remaining = ((double) (stepsPerEpoch - step) + (double) (epochs - epoch - 1) * stepsPerEpoch)
                            * epochSeconds / step;
                    log.printf(Locale.ROOT, "epoch %d/%d step %d/%d  loss %.4f  acc %.4f  lr %.5f  %.0f images/s  ETA %s%n",
                            epoch + 1, epochs, step, stepsPerEpoch, epochLoss / epochSeen, (double) epochCorrect / epochSeen,
                            lr, ips, formatSeconds(remaining));
                }
                if (recipe.checkpoint && recipe.checkpointEverySteps > 0 && step % recipe.checkpointEverySteps == 0
                        && step < stepsPerEpoch) {
                    writeCheckpoint();
                }
            }
            long t1 = System.nanoTime();
            EvalStats ev = evaluator.evaluate();
            double evalSeconds = (System.nanoTime() - t1) / 1e9;
            last = new EpochMetrics(epoch + 1, epochs, stepsPerEpoch, lr, epochLoss / epochSeen, (double) epochCorrect / epochSeen,
                    ev.loss(), ev.top1(), ev.top5(), epochSeen / epochSeconds, epochSeconds, evalSeconds);
            history.add(last);
            log.printf(Locale.ROOT, "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f acc %.4f top-5 %.4f | %.0f images/s, %.1f s (+%.1f s eval)%n",
                    epoch + 1, epochs, last.trainLoss(), last.trainAcc(), last.testLoss(), last.testAcc(), last.testTop5(),
                    last.imagesPerS(), last.seconds(), last.evalSeconds());
            epoch++;
            step = 0;
            epochLoss = 0;
            epochCorrect = 0;
            epochSeen = 0;
            epochSeconds = 0;
            writeMetrics();
            if (recipe.checkpoint) writeCheckpoint();
        }
        if (!history.isEmpty()) {
            ByteArrayOutputStream png = new ByteArrayOutputStream();
            TrainingPlot.write(history, model.name() + " on " + recipe.spec.name(), png);
            files.writeAtomic("training-curves.png", out -> png.writeTo(out));
        }
        return last;
    }

    private void writeMetrics() throws IOException {
        StringBuilder json = new StringBuilder(), csv = new StringBuilder(String.join(",", EpochMetrics.FIELDS)).append('\n');
        for (EpochMetrics m : history) {
            json.append(m.toJson()).append('\n');
            csv.append(m.toCsv()).append('\n');
        }
        files.writeText("metrics.jsonl", json.toString());
        files.writeText("metrics.csv", csv.toString());
    }

    /** The model, optimizer and position, atomically into the run folder. */
    public void writeCheckpoint() throws IOException {
        Map<String, String> meta = new TreeMap<>();
        meta.put("epoch", Integer.toString(epoch));
        meta.put("step", Integer.toString(step));
        meta.put("steps_per_epoch", Integer.toString(stepsPerEpoch));
        meta.put("optimizer_steps", Long.toString(sgd.steps()));
        meta.put("epoch_loss_sum", Double.toString(epochLoss));
        meta.put("epoch_correct", Long.toString(epochCorrect));
        meta.put("epoch_seen", Long.toString(epochSeen));
        meta.put("epoch_seconds", Double.toString(epochSeconds));
        if (kernels != null) meta.put("kernels", kernels);
        for (Map.Entry<String, String> e : recipe.config.asMap().entrySet()) meta.put("config." + e.getKey(), e.getValue());
        // The normalization as resolved (a dataset default may change between builds), so evaluate/predict see the same inputs.
        meta.put("config.mean", Recipe.join(recipe.mean));
        meta.put("config.std", Recipe.join(recipe.std));
        Checkpoint c = Checkpoint.of(model, sgd.momentumBuffer(), meta);
        files.writeAtomic(CHECKPOINT, c::write);
    }

    static String formatSeconds(double s) {
        long t = Math.round(s);
        return String.format(Locale.ROOT, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
    }
}

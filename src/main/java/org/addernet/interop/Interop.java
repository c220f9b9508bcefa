package org.addernet.interop;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.addernet.engine.Engine;
import org.addernet.engine.Params;
import org.addernet.model.Checkpoint;
import org.addernet.model.Model;
import org.addernet.model.Models;

/**
 * PyTorch state_dicts onto our models and back. Our parameter names are the official AdderNet code's
 * ({@code conv1.weight}, {@code layer1.0.conv1.adder}, {@code fc.weight}, {@code bn2.running_var}, ...), so the
 * mapping is: strip {@code nn.DataParallel}'s {@code module.} prefix, and turn PyTorch's per-BN
 * {@code num_batches_tracked} into our one model-wide counter (the largest on import; written for every BN on
 * export). Weights and BN buffers only: an imported checkpoint has no optimizer state.
 */
public final class Interop {
    static final String PREFIX = "module.";
    static final String NBT = ".num_batches_tracked";

    /** The official code's CIFAR normalization (its main.py), which the released ResNet-20 was trained with. */
    public static final String OFFICIAL_CIFAR_MEAN = "0.4914,0.4822,0.4465", OFFICIAL_CIFAR_STD = "0.2023,0.1994,0.2010";

    private Interop() {}

    /**
     * Our checkpoint of {@code arch} ({@code adder} or CNN twin, {@code classes} classes) from a state_dict; every
     * missing, unexpected or mis-shaped tensor is reported by name in one error. {@code dataset} is recorded as
     * the recipe's dataset, so that {@code evaluate} and {@code predict} can run on it.
     */
    public static Checkpoint toCheckpoint(Map<String, TorchTensor> stateDict, String arch, boolean adder, int classes, String dataset,
                                          Map<String, String> extraMeta, String source) {
        try (Engine engine = Engine.create(1, "auto")) {
            Model m = Models.createEval(arch, adder, classes, 0, engine, 0); // only its parameter layout is used
            Params p = m.params();
            Map<String, TorchTensor> sd = new LinkedHashMap<>();
            for (Map.Entry<String, TorchTensor> e : stateDict.entrySet()) {
                String k = e.getKey().startsWith(PREFIX) ? e.getKey().substring(PREFIX.length()) : e.getKey();
                sd.put(k, e.getValue());
            }
            List<Params.View> views = new ArrayList<>(p.params());
            views.addAll(p.bufferViews());
            Set<String> bnNames = new LinkedHashSet<>();
            for (Params.View v : p.bufferViews()) if (v.name().endsWith(".running_mean")) bnNames.add(v.name().substring(0, v.name().length() - 13));
            List<String> missing = new ArrayList<>(), misShaped = new ArrayList<>(), unexpected = new ArrayList<>(), badType = new ArrayList<>();
            for (Params.View v : views) {
                TorchTensor t = sd.get(v.name());
                if (t == null) missing.add(v.name());
                else if (!sameLayout(t.shape(), v.shape())) misShaped.add(v.name() + " " + Arrays.toString(t.shape()) + " (model: " + Arrays.toString(v.shape()) + ")");
                else if (!t.dtype().floating) badType.add(v.name() + " " + t.dtype());
            }
            long tracked = 0;
            for (Map.Entry<String, TorchTensor> e : sd.entrySet()) {
                String k = e.getKey();
                if (p.has(k)) continue;
                if (k.endsWith(NBT) && bnNames.contains(k.substring(0, k.length() - NBT.length()))) {
                    TorchTensor t = e.getValue();
                    if (t.dtype().floating || t.numel() != 1) badType.add(k + " " + t);
                    else tracked = Math.max(tracked, t.longs()[0]);
                    continue;
                }
                unexpected.add(k);
            }
            if (!missing.isEmpty() || !misShaped.isEmpty() || !unexpected.isEmpty() || !badType.isEmpty()) {
                StringBuilder b = new StringBuilder(source + " does not fit " + m.name() + " (" + classes + " classes):");
                if (!missing.isEmpty()) b.append(" missing ").append(missing).append(';');
                if (!unexpected.isEmpty()) b.append(" unexpected ").append(unexpected).append(';');
                if (!misShaped.isEmpty()) b.append(" wrong shape ").append(misShaped).append(';');
                if (!badType.isEmpty()) b.append(" wrong type ").append(badType).append(';');
                b.setLength(b.length() - 1);
                throw new IllegalArgumentException(b.toString());
            }
            for (Params.View v : views) System.arraycopy(sd.get(v.name()).values(), 0, p.arrayOf(v), v.offset(), v.size());
            m.setNumBatchesTracked(tracked);
            Map<String, String> meta = new TreeMap<>(extraMeta);
            meta.put("config.model", arch);
            meta.put("config.variant", adder ? "adder" : "cnn");
            meta.put("config.dataset", dataset);
            return Checkpoint.of(m, null, meta);
        }
    }

    /** Same row-major layout: equal shapes, or a Linear layer's {@code [out, in*k*k]} for our {@code [out, in, k, k]}. */
    static boolean sameLayout(int[] file, int[] model) {
        if (Arrays.equals(file, model)) return true;
        return file.length == 2 && model.length == 4 && file[0] == model[0] && (long) file[1] == (long) model[1] * model[2] * model[3];
    }

    /**
     * The state_dict of a checkpoint under PyTorch's names and in PyTorch's order (each BN's weight, bias,
     * running_mean, running_var, num_batches_tracked together), float32, without the optimizer state.
     */
    public static Map<String, TorchTensor> fromCheckpoint(Checkpoint c, String source) {
        if (!c.meta().containsKey("model")) throw new IllegalArgumentException(source + " records no model");
        Map<String, Checkpoint.Entry> t = c.tensors();
        long tracked = Long.parseLong(c.meta().getOrDefault("num_batches_tracked", "0"));
        Map<String, TorchTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Checkpoint.Entry> e : t.entrySet()) {
            String k = e.getKey();
            if (k.equals(Checkpoint.MOMENTUM) || k.endsWith(".running_mean") || k.endsWith(".running_var")) continue;
            out.put(k, TorchTensor.ofFloats(e.getValue().shape(), e.getValue().values().clone()));
            if (k.endsWith(".bias")) {
                String bn = k.substring(0, k.length() - 5);
                Checkpoint.Entry mean = t.get(bn + ".running_mean"), var = t.get(bn + ".running_var");
                if (mean != null && var != null) {
                    out.put(bn + ".running_mean", TorchTensor.ofFloats(mean.shape(), mean.values().clone()));
                    out.put(bn + ".running_var", TorchTensor.ofFloats(var.shape(), var.values().clone()));
                    out.put(bn + NBT, TorchTensor.ofLong(tracked));
                }
            }
        }
        for (Map.Entry<String, Checkpoint.Entry> e : t.entrySet()) { // buffers without a BN bias next to them (none in our models)
            if (!out.containsKey(e.getKey()) && !e.getKey().equals(Checkpoint.MOMENTUM)) {
                out.put(e.getKey(), TorchTensor.ofFloats(e.getValue().shape(), e.getValue().values().clone()));
            }
        }
        return out;
    }

    /**
     * {@code addernet import}: reads {@code from} (any of the three formats), writes our checkpoint {@code out}, recording
     * the normalization the model expects: {@code mean}/{@code std} if given (null: for CIFAR the official code's values,
     * otherwise the dataset's defaults).
     */
    public static Checkpoint importFile(Path from, String arch, boolean adder, int classes, String dataset, String mean, String std,
                                        Path out) throws IOException {
        Map<String, TorchTensor> sd = TorchFiles.read(from);
        Map<String, String> meta = new TreeMap<>();
        meta.put("imported_from", from.getFileName().toString());
        boolean cifar = dataset.startsWith("cifar");
        if (mean != null || cifar) meta.put("config.mean", mean != null ? mean : OFFICIAL_CIFAR_MEAN);
        if (std != null || cifar) meta.put("config.std", std != null ? std : OFFICIAL_CIFAR_STD);
        Checkpoint c = toCheckpoint(sd, arch, adder, classes, dataset, meta, from.toString());
        Path abs = out.toAbsolutePath();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp");
        try (OutputStream o = Files.newOutputStream(tmp)) {
            c.write(o);
        }
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return c;
    }

    /** The formats {@code export} writes: {@code zip} and {@code legacy} {@code torch.save}, {@code safetensors}. */
    public static final java.util.List<String> EXPORT_FORMATS = java.util.List.of("zip", "legacy", "safetensors");

    /** {@code addernet export} in the format the file name implies: {@code .safetensors} by its extension, else a zip torch.save. */
    public static Map<String, TorchTensor> exportFile(Path checkpoint, Path to) throws IOException {
        return exportFile(checkpoint, to, null);
    }

    /**
     * {@code addernet export}: our checkpoint to {@code to} in {@code format} (one of {@link #EXPORT_FORMATS}; null:
     * by the extension, {@code .safetensors} or else zip). A {@code torch.save} format to a {@code .safetensors} name,
     * or safetensors to another name, is refused: the file would not be what its name says.
     */
    public static Map<String, TorchTensor> exportFile(Path checkpoint, Path to, String format) throws IOException {
        boolean st = to.getFileName().toString().endsWith(".safetensors");
        if (format == null) format = st ? "safetensors" : "zip";
        if (!EXPORT_FORMATS.contains(format)) throw new IllegalArgumentException("--format must be one of " + EXPORT_FORMATS + ", got '" + format + "'");
        if (st != format.equals("safetensors")) {
            throw new IllegalArgumentException("--format " + format + " does not fit the file name " + to.getFileName()
                    + (st ? " (a torch.save file: name it .pt or .pth)" : " (name a safetensors file .safetensors)"));
        }
        Checkpoint c;
        try (InputStream in = Files.newInputStream(checkpoint)) {
            c = Checkpoint.read(in, checkpoint.toString());
        }
        Map<String, TorchTensor> sd = fromCheckpoint(c, checkpoint.toString());
        switch (format) {
            case "safetensors" -> {
                Map<String, String> meta = new TreeMap<>();
                for (String k : new String[] {"model", "classes", "config.mean", "config.std", "config.dataset"}) {
                    if (c.meta().containsKey(k)) meta.put(k, c.meta().get(k));
                }
                TorchFiles.writeSafetensors(to, sd, meta);
            }
            case "legacy" -> TorchFiles.writeLegacy(to, sd);
            default -> TorchFiles.writePt(to, sd);
        }
        return sd;
    }

    /** The dataset an architecture is usually trained on, for an imported model's recipe. */
    public static String defaultDataset(String arch, int classes) {
        return switch (Models.defaultInputSize(arch)) {
            case 28 -> "mnist";
            case 224 -> "imagenet";
            default -> classes == 100 ? "cifar100" : "cifar10";
        };
    }
}

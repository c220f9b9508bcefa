package org.addernet.train;

/**
 * Learning rate as a function of (epoch, step within epoch), all 0-based:
 * <ul>
 *   <li>{@code cosine}: {@code lr0 * (1 + cos(pi * e / E)) / 2}, constant within an epoch (PyTorch's
 *       {@code CosineAnnealingLR(T_max=E)} stepped once per epoch, the reference recipe);</li>
 *   <li>{@code cosine_step}: the same curve evaluated at every step, {@code t / T} with T = E * steps per epoch;</li>
 *   <li>{@code step}: {@code lr0 * gamma^(number of milestones <= e)} (PyTorch's {@code MultiStepLR});</li>
 *   <li>{@code constant}.</li>
 * </ul>
 * A linear warm-up over the first {@code warmupEpochs} multiplies the rate by {@code (t + 1) / T_warm} per step.
 */
public record LrSchedule(String kind, double lr0, int epochs, int stepsPerEpoch, int[] milestones, double gamma, int warmupEpochs) {
    public LrSchedule {
        switch (kind) {
            case "cosine", "cosine_step", "step", "constant" -> { }
            default -> throw new IllegalArgumentException("config key 'lr_schedule': unknown schedule '" + kind + "'; known: cosine, cosine_step, step, constant");
        }
        if (epochs < 1 || stepsPerEpoch < 1) throw new IllegalArgumentException("epochs and steps per epoch must be >= 1");
        if (warmupEpochs < 0 || warmupEpochs > epochs) throw new IllegalArgumentException("warmup_epochs must be in [0, epochs]");
    }

    public double lr(int epoch, int step) {
        double base = switch (kind) {
            case "cosine" -> lr0 * (1 + Math.cos(Math.PI * epoch / epochs)) / 2;
            case "cosine_step" -> lr0 * (1 + Math.cos(Math.PI * ((double) epoch * stepsPerEpoch + step) / ((double) epochs * stepsPerEpoch))) / 2;
            case "step" -> {
                int passed = 0;
                for (int m : milestones) if (epoch >= m) passed++;
                yield lr0 * Math.pow(gamma, passed);
            }
            default -> lr0;
        };
        long t = (long) epoch * stepsPerEpoch + step;
        long warm = (long) warmupEpochs * stepsPerEpoch;
        return t < warm ? base * (t + 1) / warm : base;
    }
}

package org.addernet.train;

/**
 * A step runner that applies the step itself, where the state lives ({@code sync=sharded}: the owners of the
 * parameter slices sum, scale and update them). The driver's model and optimizer arrays are then stale between
 * {@link #gather} calls; the {@link Trainer} keeps only the scalars (optimizer step count,
 * {@code num_batches_tracked}, which the applier advances) and calls
 * <ul>
 *   <li>{@link #scatter} when training starts (after a resume) and after the live state was lost, so the driver's
 *       arrays become the live state again;</li>
 *   <li>{@link #gather} before a checkpoint and at the end of the run, so the driver's arrays hold the live state.</li>
 * </ul>
 * Between two such calls the driver's arrays therefore always hold the state of the last checkpoint (or of the
 * start): that is what the Trainer replays from when a step reports {@link StateLost}.
 */
public interface StepApplier extends Trainer.StepRunner {
    /** Runs and applies step {@code step} of epoch {@code epoch}; returns its count, loss sum and hits (no arrays). */
    StepAggregate runAndApply(int epoch, int step, double lr, String where);

    /** The driver's model and optimizer arrays := the live state. */
    void gather();

    /** The live state := the driver's model and optimizer arrays. */
    void scatter();

    @Override
    default StepAggregate run(int epoch, int step) {
        throw new UnsupportedOperationException("a StepApplier applies its steps: call runAndApply");
    }

    /** Part of the live state (a slice held by an executor that was lost) is gone: replay from the last sync point. */
    final class StateLost extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public StateLost(String message, Throwable cause) {
            super(message, cause);
        }
    }
}

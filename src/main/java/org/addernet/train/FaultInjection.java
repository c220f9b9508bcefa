package org.addernet.train;

/**
 * Test hook of the fault campaign ({@code mvn -Pfaults verify}): with {@code -Daddernet.faults.write-delay-ms=N}
 * every run-folder write pauses N ms between "the temporary file is complete" and "it gets its final name", the
 * window a crash must never turn into a lost or torn checkpoint; the campaign kills the JVM inside it. Zero (the
 * default) costs nothing.
 */
public final class FaultInjection {
    private FaultInjection() {}

    private static final long WRITE_DELAY_MS = Long.getLong("addernet.faults.write-delay-ms", 0);

    public static void pauseBeforeRename() {
        if (WRITE_DELAY_MS <= 0) return;
        try {
            Thread.sleep(WRITE_DELAY_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

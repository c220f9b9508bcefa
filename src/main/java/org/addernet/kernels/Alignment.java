package org.addernet.kernels;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;

/**
 * Float arrays whose vector loads are 64-byte aligned, where the JVM lets us know it. Java gives no address, but
 * G1 puts an object of at least half a heap region (a humongous object) at the start of a region of its own and never
 * moves it, so in such an array element {@link #OFFSET} (the first after the array header that sits on a 64-byte
 * boundary) is aligned. Where that cannot be established (another collector, the options unreadable) the arrays are
 * of their plain size and {@link #OFFSET} is 0: only speed depends on it, never a result.
 */
final class Alignment {
    /** Index of the first 64-byte aligned element of an array of at least {@link #MIN_FLOATS} floats (or 0). */
    static final int OFFSET;
    /** Floats from which G1 allocates a float array as a humongous object; 0 when alignment is not known. */
    static final int MIN_FLOATS;

    static {
        int offset = 0, min = 0;
        try {
            HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            if (Boolean.parseBoolean(vm.getVMOption("UseG1GC").getValue())) {
                long region = Long.parseLong(vm.getVMOption("G1HeapRegionSize").getValue());
                int header = vm.getVMOption("UseCompressedClassPointers").getValue().equals("true") ? 16 : 24;
                if (region >= 1 << 20 && region <= 1 << 25) { // 16 MB per thread at most (heaps of 64 GB and more)
                    offset = (64 - header % 64) % 64 / Float.BYTES;
                    min = (int) (region / 2 / Float.BYTES) + 64;
                }
            }
        } catch (RuntimeException | LinkageError e) {
            offset = 0;
            min = 0;
        }
        OFFSET = offset;
        MIN_FLOATS = min;
    }

    private Alignment() {
    }

    /**
     * {@code a} if it holds {@code size} floats from {@link #OFFSET} and is large enough to be humongous (so aligned),
     * else a new array that is.
     */
    static float[] grow(float[] a, int size) {
        int want = Math.max(OFFSET + size, MIN_FLOATS);
        return a.length >= want ? a : new float[want];
    }
}

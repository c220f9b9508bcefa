package org.addernet.kernels;

import java.util.Locale;
import org.addernet.engine.ThreadPool;

/** Chooses and builds the {@link ConvEngine}: Vector API kernels when the JVM has them, plain Java otherwise. */
public final class ConvEngines {
    /** System property consulted when the requested kind is {@code auto}: {@code auto|vector|scalar}. */
    public static final String PROPERTY = "addernet.kernels";
    private static final String VECTOR_MODULE = "jdk.incubator.vector";
    private static final String VECTOR_KERNELS = "org.addernet.kernels.VectorColumnKernels";

    private ConvEngines() {
    }

    /**
     * Builds an engine on {@code pool}. {@code kind} is {@code auto} (or null), {@code vector} or {@code scalar};
     * {@code auto} defers to the system property {@value #PROPERTY} and then picks {@code vector} iff the
     * module {@code jdk.incubator.vector} is in the boot layer.
     */
    public static ConvEngine create(ThreadPool pool, String kind) {
        String k = normalize(kind);
        if (k.equals("auto")) k = normalize(System.getProperty(PROPERTY));
        ColumnKernels kernels = switch (k) {
            case "auto" -> vectorAvailable() ? vectorKernels() : new ScalarColumnKernels();
            case "vector" -> {
                if (!vectorAvailable()) {
                    throw new IllegalStateException("vector kernels requested but the module " + VECTOR_MODULE
                            + " is not in this JVM: start java with --add-modules=" + VECTOR_MODULE);
                }
                yield vectorKernels();
            }
            case "scalar" -> new ScalarColumnKernels();
            default -> throw new IllegalArgumentException("config key 'kernels': unknown kernels '" + kind + "' (auto, vector or scalar)");
        };
        return new ColumnConvEngine(pool, kernels);
    }

    /** Whether the Vector API module was added to this JVM ({@code --add-modules=jdk.incubator.vector}). */
    public static boolean vectorAvailable() {
        return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
    }

    private static String normalize(String kind) {
        return kind == null || kind.isBlank() ? "auto" : kind.trim().toLowerCase(Locale.ROOT);
    }

    /** Reflective, so that no class referencing jdk.incubator.vector is ever loaded on the scalar path. */
    private static ColumnKernels vectorKernels() {
        try {
            return (ColumnKernels) Class.forName(VECTOR_KERNELS).getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            throw new IllegalStateException("cannot load the vector kernels (" + e + "); start java with --add-modules="
                    + VECTOR_MODULE + " or use the scalar kernels", e);
        }
    }
}

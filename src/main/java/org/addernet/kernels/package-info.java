/**
 * The compute kernels: adder2d and conv2d, forward and backward, over whole batches on the engine's
 * {@link org.addernet.engine.ThreadPool}.
 *
 * <p>Callers use {@link org.addernet.kernels.ConvEngines#create} and the {@link org.addernet.kernels.ConvEngine}
 * interface with a {@link org.addernet.kernels.ConvGeometry}. Inside, {@code ColumnConvEngine} turns chunks of
 * samples into column matrices ({@code Im2col}: an explicit im2col, or for stride-1 layers a "shifted" padded
 * copy whose overlapping slices are the im2col rows) and runs the microkernels of {@code ColumnKernels} over
 * them: {@code VectorColumnKernels} (Java Vector API, needs {@code --add-modules=jdk.incubator.vector}) or
 * {@code ScalarColumnKernels} (plain loops, the fallback). Only {@code VectorColumnKernels} references
 * {@code jdk.incubator.vector}, and it is loaded reflectively, so the package runs on a JVM without that module.
 */
package org.addernet.kernels;

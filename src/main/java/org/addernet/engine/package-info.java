/**
 * The engine's foundations, with no Spark import anywhere below {@code org.addernet.engine}: the NCHW
 * {@link org.addernet.engine.Tensor}, the flat parameter/gradient/buffer store {@link org.addernet.engine.Params},
 * the backward pass's gradient buffers {@link org.addernet.engine.TensorPool}, the one compute
 * {@link org.addernet.engine.ThreadPool}, the deterministic {@link org.addernet.engine.Rng}, and
 * {@link org.addernet.engine.Engine}, which bundles the pool with the kernels chosen for this JVM.
 */
package org.addernet.engine;

/**
 * The command line: {@link org.addernet.cli.Main} wires the sub-commands; {@link org.addernet.cli.Bench} times the
 * kernels, {@link org.addernet.cli.Summary} counts a model's operations and energy, {@link org.addernet.cli.StepBench}
 * times whole training steps and measures their heap.
 */
package org.addernet.cli;

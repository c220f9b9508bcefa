/**
 * The command line: {@link org.addernet.cli.Main} wires the sub-commands; {@link org.addernet.cli.Bench} times the
 * kernels, {@link org.addernet.cli.PipelineBench} the JPEG input pipeline, {@link org.addernet.cli.StepBench} whole
 * training steps and their heap; {@link org.addernet.cli.Summary} counts a model's operations and energy.
 */
package org.addernet.cli;

/** The command line: {@link org.addernet.cli.Main} wires the sub-commands; {@link org.addernet.cli.Bench} times the kernels,
 * {@link org.addernet.cli.PipelineBench} the JPEG input pipeline. */
package org.addernet.cli;

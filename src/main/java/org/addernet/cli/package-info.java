/** The command line: {@link org.addernet.cli.Main} wires the sub-commands; {@link org.addernet.cli.Bench} times the kernels. */
package org.addernet.cli;

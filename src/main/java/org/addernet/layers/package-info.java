/**
 * Layers, each with its forward and backward side by side: {@link org.addernet.layers.Conv2d} (adder or
 * ordinary convolution), {@link org.addernet.layers.BatchNorm2d}, {@link org.addernet.layers.ReLU},
 * {@link org.addernet.layers.MaxPool2d}, {@link org.addernet.layers.GlobalAvgPool}, the ResNet
 * {@link org.addernet.layers.Residual} wiring, {@link org.addernet.layers.Sequential}, and the loss
 * {@link org.addernet.layers.SoftmaxCrossEntropy}. PyTorch semantics throughout (DESIGN.md §1). Each layer also
 * describes itself ({@link org.addernet.layers.Costs}): output shape, operation counts, memory kept for backward.
 */
package org.addernet.layers;

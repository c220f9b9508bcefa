/**
 * Networks: the model zoo {@link org.addernet.model.Models} (LeNet-5-BN, CIFAR ResNets, ImageNet ResNet-18/34/50; adder and CNN twins,
 * PyTorch parameter names), {@link org.addernet.model.Model} (forward, one shard's forward/backward), and the
 * versioned, checksummed {@link org.addernet.model.Checkpoint} format.
 */
package org.addernet.model;

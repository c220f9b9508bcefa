/**
 * Models in and out: PyTorch {@code state_dict} files read and written without Python and without running code
 * from the file. {@link org.addernet.interop.TorchFiles} reads the three formats a state_dict comes in (the zip
 * {@code torch.save} of PyTorch 1.6 and later, the legacy pickle {@code torch.save} of the released AdderNet
 * models, {@code .safetensors}) and writes the zip one and safetensors; {@link org.addernet.interop.RestrictedUnpickler}
 * is the pickle reader, which knows only the globals a state_dict of tensors needs and refuses every other by name;
 * {@link org.addernet.interop.Interop} maps the tensors onto our models (names, shapes, BN buffers) in both directions.
 */
package org.addernet.interop;

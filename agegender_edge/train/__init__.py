"""Training toolchain (needs the ``[train]`` extra: torch, onnx, h5py, matplotlib).

Nothing in the runtime imports this package.
"""

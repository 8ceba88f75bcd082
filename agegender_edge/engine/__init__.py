"""Deployment toolchain: ONNX -> FP16 / INT8 ONNX -> TensorRT engine, recipes, DeepStream config,
Triton model repository.

Nothing here is imported by ``import agegender_edge`` or by the ONNX Runtime path of the runtime.
Modules that need ``onnx`` (fp16, int8, graph) or ``tensorrt`` (builder) import them lazily, so
the light modules (profile, cache, sidecar, recipes, trtexec, deepstream) work with numpy only;
triton needs onnx to read the graph's named I/O.
"""

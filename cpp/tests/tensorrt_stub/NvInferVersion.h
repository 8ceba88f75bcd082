// COMPILE-CHECK STUB, not TensorRT: see ../CMakeLists.txt (tensorrt_source_check).
#pragma once
#define NV_TENSORRT_MAJOR 10
#define NV_TENSORRT_MINOR 3
#define NV_TENSORRT_PATCH 0
#define NV_TENSORRT_BUILD 26

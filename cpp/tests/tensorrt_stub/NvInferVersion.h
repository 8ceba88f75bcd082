// COMPILE-CHECK STUB, not TensorRT: see ../CMakeLists.txt (tensorrt_source_check_*). The version
// is chosen with -DAGEGENDER_EDGE_STUB_TRT=<major*10000 + minor*100 + patch>; the values below are
// those of NvInferVersion.h in NVIDIA/TensorRT at tags 8.5.2, v8.6.1, v10.3.0, v10.16 and v11.1.
#pragma once
#ifndef AGEGENDER_EDGE_STUB_TRT
#define AGEGENDER_EDGE_STUB_TRT 100300
#endif
#if AGEGENDER_EDGE_STUB_TRT == 80502
#define NV_TENSORRT_MAJOR 8
#define NV_TENSORRT_MINOR 5
#define NV_TENSORRT_PATCH 2
#define NV_TENSORRT_BUILD 2
#elif AGEGENDER_EDGE_STUB_TRT == 80601
#define NV_TENSORRT_MAJOR 8
#define NV_TENSORRT_MINOR 6
#define NV_TENSORRT_PATCH 1
#define NV_TENSORRT_BUILD 5
#elif AGEGENDER_EDGE_STUB_TRT == 100300
#define NV_TENSORRT_MAJOR 10
#define NV_TENSORRT_MINOR 3
#define NV_TENSORRT_PATCH 0
#define NV_TENSORRT_BUILD 26
#elif AGEGENDER_EDGE_STUB_TRT == 101600
#define NV_TENSORRT_MAJOR 10
#define NV_TENSORRT_MINOR 16
#define NV_TENSORRT_PATCH 0
#define NV_TENSORRT_BUILD 72
#elif AGEGENDER_EDGE_STUB_TRT == 110100
#define NV_TENSORRT_MAJOR 11
#define NV_TENSORRT_MINOR 1
#define NV_TENSORRT_PATCH 0
#define NV_TENSORRT_BUILD 106
#else
#error "the TensorRT stub headers carry 8.5.2, 8.6.1, 10.3.0, 10.16.0 and 11.1.0 only"
#endif

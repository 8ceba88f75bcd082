// agegender-edge C++ runtime: the exported model, its metadata and the Python preprocessing,
// without Python. Umbrella header.
#pragma once

#include "agegender_edge/decode.hpp"
#include "agegender_edge/detection.hpp"
#include "agegender_edge/errors.hpp"
#include "agegender_edge/image_io.hpp"
#include "agegender_edge/metadata.hpp"
#include "agegender_edge/onnx_model.hpp"
#include "agegender_edge/predictor.hpp"
#include "agegender_edge/preprocess.hpp"
#include "agegender_edge/results.hpp"
#include "agegender_edge/runner.hpp"
#include "agegender_edge/version.hpp"

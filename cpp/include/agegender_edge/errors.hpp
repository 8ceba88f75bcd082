// Error types of the C++ runtime. They mirror agegender_edge/errors.py: every failure names the
// file (or input) and the problem, and `type_name()` is the Python class name, so the JSON written
// by the app has the same "error_type" values as the Python SDK.
#pragma once

#include <stdexcept>
#include <string>

namespace agegender_edge {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& msg) : std::runtime_error(msg) {}
    virtual const char* type_name() const noexcept { return "AgeGenderError"; }
};

// An input image cannot be used: missing, empty, corrupt, truncated, unsupported, too large.
class InvalidImageError : public Error {
public:
    using Error::Error;
    const char* type_name() const noexcept override { return "InvalidImageError"; }
};

// The image exceeds max_pixels (refused from its header, before decoding).
class ImageTooLargeError : public InvalidImageError {
public:
    using InvalidImageError::InvalidImageError;
    const char* type_name() const noexcept override { return "ImageTooLargeError"; }
};

// A model file (or detector model) is missing, unreadable, corrupt or unusable.
class ModelError : public Error {
public:
    using Error::Error;
    const char* type_name() const noexcept override { return "ModelError"; }
};

// The model lacks agegender_edge metadata, carries malformed metadata or a newer format version.
class ModelFormatError : public ModelError {
public:
    using ModelError::ModelError;
    const char* type_name() const noexcept override { return "ModelFormatError"; }
};

// The model's weights do not match the weights_sha256 recorded in its metadata.
class ModelIntegrityError : public ModelError {
public:
    using ModelError::ModelError;
    const char* type_name() const noexcept override { return "ModelIntegrityError"; }
};

// The requested backend (TensorRT, CUDA device) is not available in this build / on this machine.
class BackendUnavailableError : public Error {
public:
    using Error::Error;
    const char* type_name() const noexcept override { return "BackendUnavailableError"; }
};

}  // namespace agegender_edge

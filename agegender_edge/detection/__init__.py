"""Face detectors (all offline): OpenCV Haar (bundled with opencv-python), YuNet (given its ONNX
file), or none (the whole image is the face)."""
from .base import ChipCalibration, Detection, FaceDetector  # noqa: F401
from .factory import create_detector, DetectorSpec  # noqa: F401

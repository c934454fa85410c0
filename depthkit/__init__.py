"""depthkit: monocular depth estimation with MiDaS_small on the CPU, for teaching.

Importing depthkit is cheap: torch, OpenCV and matplotlib are imported only when a function that needs
them is first used. The main entry points are::

    import depthkit as dk
    model = dk.load_model()                  # MiDaS_small, eval mode, CPU ("auto" weights)
    result = dk.estimate_depth("photo.jpg", model)
    rgb = dk.colorize(result.inverse_depth)  # near = bright

MiDaS predicts *relative inverse depth*: larger values are nearer, and the scale and shift are unknown.
"""

from importlib import import_module

from .errors import DepthkitError, ImageError, InputError, WeightsError

__version__ = "0.1.0"

# Public name -> submodule that defines it. Resolved on first access (PEP 562).
_LAZY_ATTRS = {
    "MidasSmall": "model",
    "load_model": "weights",
    "resolve_weights": "weights",
    "prepare": "model_registry",
    "estimate_depth": "inference",
    "DepthResult": "inference",
    "read_image": "io",
    "read_photo": "io",
    "colorize": "viz",
    "load_sample": "samples",
    "list_samples": "samples",
    "fit_scale_shift": "alignment",
    "calibrate_from_points": "calibration",
    "evaluate": "metrics",
    "midas_loss": "losses",
    "show_side_by_side": "viz",
    "shared_range": "viz",
    "parallax_frames": "effects",
    "portrait_blur": "effects",
    "obstacle_warning": "effects",
    "app": "depth_app",
}
_SUBMODULES = {
    "alignment", "artifact_cache", "backend_choice", "backends", "bench", "calibration", "checks", "cli", "demo",
    "depth_anything", "depth_app", "doctor", "dpt_decoder", "dpt_hybrid", "effects", "exercises", "experiments",
    "inference", "io", "losses", "metrics", "model", "model_registry", "network_resize", "pipeline", "quantization",
    "report", "runtime", "samples", "synthetic", "transforms", "tutorial_snippet", "video", "video_depth", "viz",
    "webcam", "weights",
}

__all__ = ["DepthkitError", "ImageError", "InputError", "WeightsError", "__version__", *_LAZY_ATTRS]


def __getattr__(name):
    if name in _LAZY_ATTRS:
        value = getattr(import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'depthkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY_ATTRS) | _SUBMODULES)

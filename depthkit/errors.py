"""Exceptions raised by depthkit.

Every failure a user can cause (a bad image, missing weights, a wrong argument) is raised as a subclass of
:class:`DepthkitError` whose message is one sentence saying what is wrong and what to do. The CLI and the
notebook app catch :class:`DepthkitError` and show that sentence instead of a traceback.
"""

__all__ = ["DepthkitError", "ImageError", "InputError", "WeightsError"]


class DepthkitError(Exception):
    """Base class of every error depthkit raises on purpose."""


class ImageError(DepthkitError, ValueError):
    """An image could not be read or is unusable (corrupt, empty, too large, unsupported mode)."""


class WeightsError(DepthkitError, RuntimeError):
    """Model weights are missing, corrupt, or do not match the MiDaS_small architecture."""


class InputError(DepthkitError, ValueError):
    """An argument has the wrong shape, type or value (e.g. a tensor whose size is not a multiple of 32)."""

"""The endless zoom: a dream film grown from one picture, each frame the last one moved by the camera (zoom,
rotation, pan) and dreamed a few warm steps, under the shared schedule (which may steer the camera too), with a
soundtrack dreamed or grown beside it.

Parts: camera (the move and the guards against drift), frames (the frame function), sound (dreamed or grown
soundtrack, the loop's cross-fade), render (the frame loop of the film, resumable, and the loop)."""

import importlib

_WHERE = {"ZoomDreamer": "frames", "ZoomOptions": "frames", "dream_zoom": "render", "zoom_film": "render"}
__all__ = sorted(_WHERE)


def __getattr__(name: str):  # loaded on first use: the zoom's entry checks its inputs before the engine loads
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

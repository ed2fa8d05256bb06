"""The endless zoom: a dream film grown from one picture, each frame the last one moved by the camera (zoom,
rotation, pan) and dreamed a few warm steps, under the shared schedule (which may steer the camera too), with a
soundtrack dreamed or grown beside it.

Parts: camera (the move and the guards against drift), frames (the frame function), sound (dreamed or grown
soundtrack, the loop's cross-fade), render (the frame loop of the film, resumable, and the loop)."""

from mmdream.pipelines.zoom.frames import ZoomDreamer, ZoomOptions
from mmdream.pipelines.zoom.render import dream_zoom, zoom_film

__all__ = ["ZoomDreamer", "ZoomOptions", "dream_zoom", "zoom_film"]

"""mmdream: audio-visual DeepDream as a library and a command.

`import mmdream` is cheap (no TensorFlow): the functions below load what they need on first use.

    import mmdream
    dream = mmdream.dream_image("photo.jpg", "dream.jpg", steps=10)
    sound = mmdream.dream_audio(samples, sr=44100)          # numpy in, numpy out
    spec = mmdream.make_spec("video", {"steps": 8})         # options checked once; `spec=` to any function
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import PackageNotFoundError, version

from mmdream.core.choose import choose_backend, lean_keras
from mmdream.errors import UserError

try:
    __version__ = version("mmdream")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0.0.0+source"

_API = ("dream_image", "dream_audio", "dream_video", "style_image", "style_audio", "style_video", "zoom", "live", "train_image",
        "train_audio", "explain", "load_net", "list_nets", "NetInfo")
_RESULTS = ("Result", "ImageResult", "AudioResult", "FilmResult", "ZoomResult", "LiveResult", "StyleResult",
            "TrainResult", "ExplainResult")
_LAZY = {**dict.fromkeys(_API, "mmdream.api"), **dict.fromkeys(_RESULTS, "mmdream.results"),
         "Schedule": "mmdream.schedule", "UserError": "mmdream.errors", "OptionError": "mmdream.errors",
         "make_spec": "mmdream.specs", "Spec": "mmdream.specs",
         "LiveControls": "mmdream.pipelines.live.controls",
         "error_line": "mmdream.io_utils"}
__all__ = ["__version__", *_LAZY]

lean_keras()
_backend_error: UserError | None = None
try:  # MMDREAM_BACKEND takes effect before Keras is first imported; a bad one is said by the first API call
    choose_backend(os.environ.get("MMDREAM_BACKEND"))
except UserError as e:
    _backend_error = e


def __getattr__(name: str):
    if name in _LAZY:
        if _backend_error is not None and _LAZY[name] == "mmdream.api":
            raise _backend_error
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mmdream' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

"""The dream film: every frame through the image dreamer and the soundtrack through the audio dreamer, both under
one schedule; the picture is encoded as the frames are dreamed, then muxed with the soundtrack in sync.

Frames stream from ffmpeg (decoded from the start, never seeked) and each finished frame is written to a work
folder, so memory does not grow with the film's length and an interrupted render resumes where it stopped. A
frame that continues the previous one starts from the previous dream's detail carried along dense optical flow
(occluded pixels start afresh) and needs only a few steps at full size; the first frame and scene cuts get the
whole octave pyramid.

Parts: options (what a render is), workfolder (resume), frames (the frame loop and frame functions), soundtrack,
encode (H.264 pieces, mux, contact sheet), render (the whole film), recipe (what the film is built from, again in
every cluster worker), segments (where a film splits) and cluster (the film as Ray tasks).
"""

import importlib

# Where each public name lives: loaded on first use, so `mmdream.pipelines.film.options` (a film's options and its
# input's check) and `.dream` (the command's entry) load without the engine, and a bad option is answered at once.
_WHERE = {
    **dict.fromkeys(["mux", "write_contact_sheet"], "encode"),
    **dict.fromkeys(["Dreaming", "FrameDreamer", "FrameStyler", "StopSignal", "StylePass", "background", "continues",
                     "dream_frames", "stylise_frame"], "frames"),
    **dict.fromkeys(["FILM_DEFAULTS", "FilmOptions", "check_film_input", "film_fingerprint", "film_fps",
                     "film_options"], "options"),
    **dict.fromkeys(["dream_film", "film_figures"], "render"),
    **dict.fromkeys(["SoundPlan", "make_soundtrack", "reactive_strength"], "soundtrack"),
    "WorkFolder": "workfolder",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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

from mmdream.pipelines.film.encode import mux, write_contact_sheet
from mmdream.pipelines.film.frames import (
    Dreaming,
    FrameDreamer,
    FrameStyler,
    StopSignal,
    StylePass,
    background,
    continues,
    dream_frames,
    stylise_frame,
)
from mmdream.pipelines.film.options import FILM_DEFAULTS, FilmOptions, film_fingerprint, film_fps, film_options
from mmdream.pipelines.film.render import check_film_input, dream_film, film_figures
from mmdream.pipelines.film.soundtrack import SoundPlan, make_soundtrack, reactive_strength
from mmdream.pipelines.film.workfolder import WorkFolder

__all__ = ["FILM_DEFAULTS", "Dreaming", "FilmOptions", "FrameDreamer", "FrameStyler", "SoundPlan", "StopSignal",
           "StylePass", "WorkFolder", "background", "check_film_input", "continues", "dream_film", "dream_frames",
           "film_figures", "film_fingerprint", "film_fps", "film_options", "make_soundtrack", "mux",
           "reactive_strength", "stylise_frame", "write_contact_sheet"]

"""The film's soundtrack, made beside the frames: dreamed and/or styled (or kept), and the onset envelope
that can modulate the picture's strength."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soundfile as sf

from mmdream.io_utils import atomic_output
from mmdream.media.ffmpeg import MediaInfo, read_audio_blocks
from mmdream.pipelines.film.frames import Dreaming
from mmdream.pipelines.film.options import FilmOptions, film_fps
from mmdream.pipelines.film.workfolder import WorkFolder


@dataclass
class SoundPlan:
    """How the soundtrack is made: dreamed (`audio`), style-transferred (`styler` + `style_path`, before or
    after the dream), both, or kept."""

    audio: Dreaming | None = None
    styler: object | None = None  # mmdream.pipelines.style.AudioStyle
    style_path: str | None = None
    when: str = "after"


def make_soundtrack(src: str, info: MediaInfo, sound: SoundPlan, opts: FilmOptions, work: WorkFolder,
                    progress=None, map_chunks=None) -> dict:
    """Dream and/or stylise (or copy) the soundtrack segment into the work folder; reused if a previous run
    finished it. `map_chunks`: where the dream's chunks are dreamed (see mmdream.pipelines.audio.stream_through)."""
    from mmdream.pipelines.audio.stream import dream_audio_file
    from mmdream.pipelines.style import style_audio_file

    duration = (opts.end or info.duration) - opts.start
    if work.audio.exists():
        return {"soundtrack": "reused from the work folder"}
    if opts.soundtrack == "keep" or (sound.audio is None and sound.styler is None):
        with atomic_output(work.audio) as tmp, sf.SoundFile(tmp, "w", info.audio_rate, info.audio_channels,
                                                            subtype="FLOAT", format="WAV") as out:
            for block in read_audio_blocks(src, info, 1 << 16, end=duration, start=opts.start):
                out.write(block)
        return {"soundtrack": "original"}
    figures: dict = {}
    stages = [("dream", sound.audio), ("style", sound.styler)]
    if sound.when == "before":
        stages.reverse()
    stages = [(name, worker) for name, worker in stages if worker is not None]
    current, seg = src, {"duration": duration, "start": opts.start}
    for k, (name, worker) in enumerate(stages):
        dst = str(work.audio) if k == len(stages) - 1 else str(work.root / f"soundtrack-{name}.wav")
        if name == "dream":
            figures[name] = dream_audio_file(current, dst, worker.dreamer, worker.plan, griffin_lim=opts.griffin_lim,
                                             progress=progress, map_chunks=map_chunks, **seg)
        else:
            figures[name] = style_audio_file(current, sound.style_path, dst, worker, progress=progress, **seg)
        current, seg = dst, {"duration": None, "start": 0.0}
    return figures


def reactive_strength(src: str, info: MediaInfo, opts: FilmOptions, frames: int) -> np.ndarray:
    """Per-frame strength factor from the soundtrack's onset envelope: 1 + react * (envelope / mean - 1),
    with a fast attack and a 0.25 s release so the picture breathes with the sound."""
    if opts.react <= 0 or not info.has_audio or frames <= 0:
        return np.ones(max(frames, 1))
    import librosa

    fps = film_fps(info, opts)
    sr = info.audio_rate
    hop = 512
    env = []
    duration = (opts.end or info.duration) - opts.start
    for block in read_audio_blocks(src, info, 30 * sr, end=duration, start=opts.start):
        env.append(librosa.onset.onset_strength(y=block.mean(axis=1), sr=sr, hop_length=hop))
    env = np.concatenate(env) if env else np.zeros(1)
    t = np.arange(len(env)) * hop / sr
    per_frame = np.interp(np.arange(frames) / fps, t, env)
    release = np.exp(-1.0 / (0.25 * fps))
    for i in range(1, frames):
        per_frame[i] = max(per_frame[i], per_frame[i - 1] * release)
    norm = per_frame / max(per_frame.mean(), 1e-9)
    return np.clip(1.0 + opts.react * (norm - 1.0), 0.1, 3.0)

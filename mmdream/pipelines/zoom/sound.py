"""The zoom's soundtrack: a sound dreamed under the zoom's schedule (as a film's soundtrack), or a sound that grows
like the picture: each block is the previous block fed back through the audio dreamer (the audio ouroboros, block
by block). Both go through the one audio pipeline, so both are loudness-matched and limited."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from mmdream.errors import UserError
from mmdream.io_utils import atomic_output
from mmdream.media.audio_source import GENERATED
from mmdream.media.ffmpeg import MediaInfo, ffmpeg_exe, read_audio_blocks
from mmdream.pipelines.film.frames import Dreaming
from mmdream.pipelines.film.options import FilmOptions
from mmdream.pipelines.film.soundtrack import SoundPlan, make_soundtrack
from mmdream.pipelines.film.workfolder import WorkFolder

GROWN_RATE = 44100
BLOCK_SECONDS = 2.0  # a grown sound's block: it changes block by block, as the picture frame by frame


def sound_source_info(source: str) -> MediaInfo:
    """What the sound plan is built for: a file's streams, or the grown sound's (mono, 44.1 kHz)."""
    if source in GENERATED:
        return MediaInfo(source, None, GROWN_RATE, 1, None, None)
    from mmdream.media.ffmpeg import audio_input

    return audio_input(source)


def zoom_soundtrack(source: str, info: MediaInfo, sound: SoundPlan, grow: bool):
    """The zoom's soundtrack maker, `(work, seconds, stop) -> figures`: a generated source (or any, with `grow`)
    grown block by block, a file dreamed as a film's soundtrack."""
    if source in GENERATED or grow:
        return lambda work, seconds, stop: grown_soundtrack(source, seconds, sound.audio, work, stop)
    return lambda work, seconds, stop: dreamed_soundtrack(source, info, seconds, sound, work, stop)


def dreamed_soundtrack(source: str, info: MediaInfo, seconds: float, sound: SoundPlan, work: WorkFolder,
                       progress=None) -> dict:
    """`source`'s first `seconds` dreamed under the schedule, into the work folder (a film's soundtrack); a sound
    shorter than the film is looped to its length first."""
    if work.audio.exists():
        return {"soundtrack": "reused from the work folder"}
    looped = info.duration is not None and info.duration < seconds
    if looped:
        source, info = _looped(source, seconds, work.root / "source-looped.wav"), replace(info, duration=seconds)
    figures = make_soundtrack(source, info, sound, FilmOptions(end=seconds), work, progress=progress)
    return {**figures, "looped_to_s": seconds} if looped else figures


def _looped(source: str, seconds: float, dst: Path) -> str:
    """`source` repeated to `seconds` (a float WAV: nothing is lost before the dream)."""
    with atomic_output(dst) as tmp:
        done = subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", "-1", "-i", source, "-vn",
                               "-t", f"{seconds:.6f}", "-c:a", "pcm_f32le", "-f", "wav", str(tmp)],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise UserError(f"could not loop {source}: {done.stderr.strip()[-300:]}")
    return str(dst)


def grown_soundtrack(source: str, seconds: float, audio: Dreaming, work: WorkFolder, progress=None) -> dict:
    """`seconds` of sound grown from `source` (noise, sine, or a file's opening block): block k is block k-1
    dreamed again with the schedule at block k's time, cross-faded into the last."""
    from mmdream.pipelines.audio.block import dream_block
    from mmdream.pipelines.audio.stream import stream_through

    if work.audio.exists():
        return {"soundtrack": "reused from the work folder"}
    dreamer, plan = audio.dreamer, audio.plan
    on_step = progress.update if progress is not None else None
    last: list[np.ndarray] = []

    def make_process(info: MediaInfo):
        size = int(BLOCK_SECONDS * info.audio_rate)

        def process(k: int, chunk: np.ndarray) -> np.ndarray:
            base = (_opening(source, len(chunk)) if source not in GENERATED else chunk) if k == 0 else last[0]
            moment = plan.at((k * size + len(chunk) / 2) / info.audio_rate)
            dreamer.take(moment)
            out = dream_block(base[: len(chunk)], info.audio_rate, dreamer, moment.settings, moment.strength, 0,
                              on_step)
            last[:] = [out]
            return out

        return process

    clock = source if source in GENERATED else "noise"  # the blocks' lengths: the sound itself is fed back
    figures = stream_through(clock, str(work.audio), make_process, chunk_seconds=BLOCK_SECONDS, duration=seconds)
    return {"soundtrack": f"grown from {source}", "grown": figures}


def _opening(path: str, n: int) -> np.ndarray:
    """A file's first `n` samples, mono at the grown sound's rate (zeros after a shorter file's end)."""
    info = MediaInfo(path, None, GROWN_RATE, 1, None, None)
    got = np.concatenate([b for b in read_audio_blocks(path, info, n, end=n / GROWN_RATE)] or [np.zeros((0, 1))])
    return np.pad(got[:n], ((0, n - min(n, len(got))), (0, 0))).astype(np.float32)


def looped_soundtrack(src: str, dst: str, film_s: float, fade_s: float) -> None:
    """The soundtrack of a looping film rendered `fade_s` longer than `film_s`: the film's sound starts `fade_s` in,
    and its last `fade_s` cross-fade (linearly: the sum is never louder than either) from the sound's end into
    its start, so it wraps without a seam, as the picture does."""
    with sf.SoundFile(src) as f:
        sr, ch = f.samplerate, f.channels
        n, fade = int(round(film_s * sr)), int(round(fade_s * sr))
        head = f.read(fade, dtype="float32", always_2d=True)
        with atomic_output(Path(dst)) as tmp, \
                sf.SoundFile(tmp, "w", sr, ch, subtype="FLOAT", format="WAV") as out:
            for block in f.blocks(blocksize=1 << 16, frames=max(0, n - fade), dtype="float32", always_2d=True):
                out.write(block)
            tail = f.read(fade, dtype="float32", always_2d=True)
            tail = np.pad(tail, ((0, fade - len(tail)), (0, 0)))
            w = (np.arange(1, fade + 1) / (fade + 1))[:, None].astype(np.float32)
            out.write((1 - w) * tail + w * head)

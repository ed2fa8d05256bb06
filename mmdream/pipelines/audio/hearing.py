"""A sound heard by a sound net, half a second at a time: what a cross-modal dream's picture follows (mmdream.senses).

Each step (`STEP_S`) asks the net about the window of its own length centred on the step, made of that window's
sound alone: its silent frames are left out and what remains is looped to the window's length, so a passage of two
seconds between silences is heard as itself, at its own time, not diluted by the silence around it. A step that is
itself silent hears nothing, and so does a window whose sound holds still (noise, hum, a fan: `steady`): background,
not an event. What the net says is turned into confidence against each class's own level (mmdream.senses.perceive).
"""

from __future__ import annotations

import functools

import numpy as np

from mmdream.core.engine import probabilities
from mmdream.media.audio_source import open_source
from mmdream.nets import Net, load_net
from mmdream.pipelines.audio.spectrum import analyse, linked, pad_frames
from mmdream.senses.perceive import Track, confidence, window_seconds

STEP_S = 0.5  # one confidence every half second: a sound is placed within a quarter of a second
FRAME_S = 0.05  # the loudness gate's frame
SILENT_DBFS = -50.0  # a frame quieter than this is silence (a sound net labels silence too)
MIN_HEARD_S = 0.5  # the least sound a window must hold to be asked about
# How much a window's spectrum moves, against how much stationary noise's would (1): below this it is background.
# Measured (eighth-second blocks): white, pink and brown noise 1.2-1.35, mains hum 0.03; 3 s of game music (the
# levels' reference set) from 2.2 (a sustained pad) up, median 5.8; the shared media's music, speech and animals
# above 5.
STEADY_MOVEMENT = 1.8


def hear(src: str, net_name: str, start: float = 0.0, duration: float | None = None,
         precision: str = "fp32") -> Track:
    """A sound (a file's `duration` s from `start`) heard by a sound net every STEP_S seconds, decoded in blocks:
    memory does not grow with its length. The track's times are the file's (from `start` on)."""
    info, blocks = open_source(src, duration, start)
    net = load_net(net_name, precision=precision, sr=info.audio_rate)
    sr = info.audio_rate
    window, step = int(round(window_seconds(net) * sr)), int(round(STEP_S * sr))
    half = window // 2
    times: list[float] = []
    values: list[list[float]] = []
    source = blocks(max(window, 10 * sr))
    buf, first, j, ended = np.zeros((0, info.audio_channels), np.float32), 0, 0, False  # buf: samples from `first`
    while True:
        centre = j * step + step // 2
        while not ended and first + len(buf) < centre + half:
            block = next(source, None)
            ended = block is None
            if block is not None:
                buf = np.concatenate([buf, block])
        total = first + len(buf)
        if centre >= total:
            break
        ready = []  # the steps whose windows are all here, heard in one batch
        while centre < total and (ended or centre + half <= total) and len(ready) < 64:
            window_of = buf[max(0, centre - half) - first:min(total, centre + half) - first]
            own = buf[max(0, centre - step // 2) - first:min(total, centre + step // 2) - first]
            ready.append((centre, window_of, own))
            j += 1
            centre = j * step + step // 2
        times += [start + c / sr for c, _, _ in ready]
        values += _heard(net, [(w, own) for _, w, own in ready], sr, window)
        keep_from = max(first, centre - half)
        buf, first = buf[keep_from - first:], keep_from
    if not times:  # nothing at all
        times, values = [start], [[0.0] * len(net.classes)]
    return Track(net.name, list(net.classes), times, values)


def _heard(net: Net, steps: list[tuple[np.ndarray, np.ndarray]], sr: int, window: int) -> list[list[float]]:
    """Each step's confidence (its window, its own stretch), the windows worth asking about classified in one batch."""
    out = [[0.0] * len(net.classes) for _ in steps]
    asked, spectra = [], []
    for i, (x, own) in enumerate(steps):
        if _loud_share(own, sr) < 0.5:
            continue
        kept = _loud_part(x, sr)
        if kept is None or steady(kept, sr):  # judged on the sound itself, before its loop's seams
            continue
        sound = np.resize(kept, (window, x.shape[1])) if len(kept) != window else kept
        asked.append(i)
        spectra.append(pad_frames(linked(analyse(sound - sound.mean(axis=0), sr)).logmag))
    if asked:
        for i, p in zip(asked, probabilities(net, np.concatenate(spectra))):
            out[i] = confidence(p, net).tolist()
    return out


def _frame_levels(x: np.ndarray, sr: int) -> np.ndarray:
    """Each FRAME_S frame's level in dBFS (channels mixed)."""
    n = max(1, int(round(FRAME_S * sr)))
    mono = x.mean(axis=1) if x.ndim == 2 else x
    frames = len(mono) // n
    if frames == 0:
        return np.full(1, 20 * np.log10(np.sqrt(np.mean(np.square(mono))) + 1e-12) if len(mono) else -np.inf)
    power = np.mean(np.square(mono[:frames * n].reshape(frames, n)), axis=1)
    return 10 * np.log10(power + 1e-24)


def _loud_share(x: np.ndarray, sr: int) -> float:
    """The share of a stretch's frames above the silence line."""
    return float(np.mean(_frame_levels(x, sr) >= SILENT_DBFS)) if len(x) else 0.0


def _loud_part(x: np.ndarray, sr: int) -> np.ndarray | None:
    """A window's loud frames, in order; None where they last under MIN_HEARD_S. (The net hears them looped to its
    window's length.)"""
    n = max(1, int(round(FRAME_S * sr)))
    loud = _frame_levels(x, sr) >= SILENT_DBFS
    kept = np.concatenate([x[i * n:(i + 1) * n] for i in np.flatnonzero(loud)]) if loud.any() else x[:0]
    return None if len(kept) < MIN_HEARD_S * sr else kept


# ---- background: a sound that holds still --------------------------------------------------------------------
_BANDS, _LOWEST_HZ, _BLOCK_S, _RANGE_DB = 32, 150.0, 0.125, 30.0


def movement(x: np.ndarray, sr: int) -> float:
    """How much a sound's spectrum moves over time, against how much stationary noise's would: the median, over
    its loud mel bands (within 30 dB of the loudest), of each band's level's spread over eighth-second blocks
    divided by the spread that chance alone gives a band of that many spectral samples. About 1 for any noise,
    near 0 for a hum, several times 1 for anything that happens (music, speech, a bark)."""
    mono = x.mean(axis=1) if x.ndim == 2 else x
    n_fft, hop = _gate_stft(sr)
    frames = 1 + (len(mono) - n_fft) // hop
    per_block = max(1, int(_BLOCK_S * sr / hop))
    blocks = frames // per_block
    if blocks < 3:
        return np.inf  # too short to judge: not taken for background
    idx = np.arange(n_fft)[None, :] + hop * np.arange(blocks * per_block)[:, None]
    power = np.square(np.abs(np.fft.rfft(mono[idx] * np.hanning(n_fft + 2)[1:-1], axis=1))).T  # (bins, frames)
    fb = _gate_mel(sr, n_fft)
    band = (fb @ power).reshape(_BANDS, blocks, per_block).mean(axis=2)
    db = 10 * np.log10(band + 1e-30)
    level = db.mean(axis=1)
    loud = (level > level.max() - _RANGE_DB) & (level > -200.0) & (fb.sum(axis=1) > 0)
    if not loud.any():
        return 0.0
    weighted = fb * power.mean(axis=1)[None, :]
    samples = weighted.sum(axis=1) ** 2 / np.maximum(np.square(weighted).sum(axis=1), 1e-300)
    chance = 4.343 / np.sqrt(np.maximum(samples * per_block * 0.5, 1e-9))  # dB spread of noise's band energy
    return float(np.median(db[loud].std(axis=1) / chance[loud]))


def steady(x: np.ndarray, sr: int) -> bool:
    """Whether a sound holds still enough to be background (see `movement`)."""
    return movement(x, sr) < STEADY_MOVEMENT


@functools.cache
def _gate_stft(sr: int) -> tuple[int, int]:
    """(n_fft, hop) of about 23 ms at any rate."""
    n_fft = 1 << int(round(np.log2(0.023 * sr)))
    return n_fft, n_fft // 4


@functools.cache
def _gate_mel(sr: int, n_fft: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=_BANDS, fmin=_LOWEST_HZ, fmax=min(8000.0, sr / 2))

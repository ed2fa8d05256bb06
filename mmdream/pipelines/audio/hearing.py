"""A sound heard by a sound net, window by window: what a cross-modal dream's picture follows (mmdream.senses)."""

from __future__ import annotations

import numpy as np

from mmdream.core.engine import probabilities
from mmdream.media.audio_source import open_source
from mmdream.nets import Net, load_net
from mmdream.pipelines.audio.spectrum import analyse, linked, pad_frames
from mmdream.senses.perceive import Track, confidence, window_seconds

SILENT_DBFS = -50.0  # a window quieter than this is heard as nothing (a sound net labels silence too)
HOPS_PER_WINDOW = 2  # windows overlap by half: a class is heard within half a window of where it starts


def hear(src: str, net_name: str, start: float = 0.0, duration: float | None = None,
         precision: str = "fp32") -> Track:
    """A sound (a file's `duration` s from `start`) heard by a sound net, window by window (overlapping by
    HOPS_PER_WINDOW), decoded in blocks: memory does not grow with its length."""
    info, blocks = open_source(src, duration, start)
    net = load_net(net_name, precision=precision, sr=info.audio_rate)
    sr = info.audio_rate
    window = int(window_seconds(net) * sr)
    hop = max(1, window // HOPS_PER_WINDOW)
    times, values, buf, offset = [], [], np.zeros((0, info.audio_channels), np.float32), 0
    for block in blocks(max(window, 30 * sr)):
        buf = np.concatenate([buf, block])
        if len(buf) >= window:
            starts = list(range(0, len(buf) - window + 1, hop))
            times += [(offset + s + window / 2) / sr for s in starts]
            values += _heard(net, [buf[s:s + window] for s in starts], sr)
            buf, offset = buf[starts[-1] + hop:], offset + starts[-1] + hop
    if not times:  # shorter than one window: the whole of it
        times.append(len(buf) / 2 / sr)
        values += _heard(net, [buf], sr)
    return Track(net.name, list(net.classes), times, values)


def _heard(net: Net, windows: list[np.ndarray], sr: int) -> list[list[float]]:
    """Each window's confidence, classified in one batch; a silent window hears nothing."""
    out = [[0.0] * len(net.classes) for _ in windows]
    loud = [i for i, x in enumerate(windows)
            if len(x) and 20 * np.log10(np.sqrt(np.mean(np.square(x))) + 1e-12) >= SILENT_DBFS]
    if loud:
        spectra = np.concatenate([pad_frames(linked(analyse(windows[i] - windows[i].mean(axis=0), sr)).logmag)
                                  for i in loud])
        for i, p in zip(loud, probabilities(net, spectra)):
            out[i] = confidence(p, net.multilabel).tolist()
    return out

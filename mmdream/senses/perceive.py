"""What a net perceives over time: a picture seen, a film's shots seen (a soundtrack is heard window by window by
mmdream.pipelines.audio.hearing, with the sound's analysis). Each is a `Track`: confidence (0..1, above chance) in each of the net's classes at a few times, small enough to travel
with a film's recipe to a cluster's tasks."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mmdream.nets import Net, load_net

SHOT_SAMPLES_PER_SECOND = 2.0  # frames a film's shot is seen in
SEEN_SIDE = 256  # frames are decoded this small to be seen (the nets classify at 224-299)


@dataclass
class Track:
    """A net's confidence in each of its classes at `times` (seconds): linear between them, or held from each
    time to the next (`held`: a film's shots). A track with one time holds at every time."""

    net: str
    classes: list[str]
    times: list[float]
    values: list[list[float]]  # (times, classes)
    held: bool = False

    @functools.cached_property
    def array(self) -> np.ndarray:
        """`values` as one array, made once: a film asks `at` for every frame."""
        return np.asarray(self.values, np.float32)

    def at(self, t: float) -> np.ndarray:
        v = self.array
        j = int(np.searchsorted(self.times, t, side="right"))  # times[j - 1] <= t < times[j]
        if len(self.times) == 1 or j == 0:
            return v[0]
        if self.held or j == len(self.times):
            return v[j - 1]
        a = (t - self.times[j - 1]) / (self.times[j] - self.times[j - 1])
        return (1 - a) * v[j - 1] + a * v[j]

    def overall(self) -> Track:
        """One time: the mean over the times anything was perceived (a sound's silences do not dilute it)."""
        v = self.array
        live = v[v.sum(axis=1) > 0]
        mean = live.mean(axis=0) if len(live) else np.zeros(len(self.classes), np.float32)
        return Track(self.net, self.classes, [0.0], [mean.tolist()])

    def top(self, t: float, k: int = 3) -> list[list]:
        """The `k` classes most perceived at `t`, with their confidence (for reports)."""
        v = self.at(t)
        return [[self.classes[i], round(float(v[i]), 3)] for i in np.argsort(-v)[:k] if v[i] > 0]

    def as_dict(self) -> dict:
        return asdict(self)


LEVELS = Path(__file__).with_name("levels.toml")
UNMEASURED_LEVEL = 0.1  # a tagger's level where none was measured for it


def confidence(p: np.ndarray, net: Net) -> np.ndarray:
    """Probabilities as confidence, 0..1: how far each class stands above its own reference level (`levels`), as
    a share of the way from that level to certainty. A net of one class of many: its chance, 1/classes (a 10-class
    net's 0.1 is nothing perceived). A tagger (tags each on their own): each tag's level on music (a tag the net
    gives a third of the music it hears is nothing at 0.3, a rare one is something)."""
    level = levels(net)
    return np.clip((p - level) / (1.0 - level), 0.0, 1.0).astype(np.float32)


def levels(net: Net) -> np.ndarray:
    """Each class's reference level: chance for a net of one class of many; for a tagger, its tags' mean
    probability over a reference set of music, measured by scripts/ear_levels.py into levels.toml (under the net's
    name, or the net it was trained from where it kept that net's tags)."""
    if not net.multilabel:
        return np.full(len(net.classes), 1.0 / len(net.classes), np.float32)
    table = _levels_table()
    measured = table.get(net.name) or table.get(str(net.extras.get("base", "")), {})
    rest = measured.get("*", UNMEASURED_LEVEL)
    return np.array([measured.get(c, rest) for c in net.classes], np.float32)


@functools.cache
def _levels_table() -> dict[str, dict[str, float]]:
    import tomllib

    return tomllib.loads(LEVELS.read_text())


def window_seconds(net: Net) -> float:
    """The length of sound a net classifies: a trained net's window, else its record's (musicnn's 3 s)."""
    from mmdream.nets.registry import known, spec

    trained = net.extras.get("card", {}).get("input", {}).get("window_seconds")
    if trained:
        return float(trained)
    return float(spec(net.name).window_seconds if known(net.name) else 3.0)


def see(rgb: np.ndarray, net: Net) -> np.ndarray:
    """One picture (uint8 RGB) seen: the net's confidence in each class."""
    from mmdream.core.engine import probabilities
    from mmdream.media.picture import to_dream_space

    return confidence(probabilities(net, to_dream_space(rgb))[0], net)


def see_picture(rgb: np.ndarray, net_name: str, precision: str = "fp32") -> Track:
    net = load_net(net_name, precision=precision)
    return Track(net.name, list(net.classes), [0.0], [see(rgb, net).tolist()])


def see_film(src: str, net_name: str, start: float = 0.0, end: float | None = None, cut: float = 40.0,
             precision: str = "fp32") -> Track:
    """A film's shots seen: frames sampled SHOT_SAMPLES_PER_SECOND, a new shot where a frame's grey levels differ
    from the last sample's by more than `cut` (0..255) on average, each shot's confidence the mean over its
    frames, held from its start."""
    from mmdream.media.ffmpeg import even_size, probe, read_video_frames

    net = load_net(net_name, precision=precision)
    info = probe(src)
    size = even_size(*info.video_size, SEEN_SIDE)
    times, values, shot, last = [], [], [], None
    for i, frame in enumerate(read_video_frames(src, size, SHOT_SAMPLES_PER_SECOND, start, end)):
        grey = frame.mean(axis=2)
        if last is not None and np.abs(grey - last).mean() > cut and shot:
            values.append(np.mean(shot, axis=0).tolist())
            shot = []
        if not shot:
            times.append(start + i / SHOT_SAMPLES_PER_SECOND)
        shot.append(see(frame, net))
        last = grey
    if shot:
        values.append(np.mean(shot, axis=0).tolist())
    if not times:
        times, values = [start], [[0.0] * len(net.classes)]
    return Track(net.name, list(net.classes), times, values, held=True)

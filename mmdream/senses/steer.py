"""A track of what one net perceives, through the links, as the other net's class target over time: which of its
classes to grow and how hard (the confidence in anything linked, times the schedule's `follow_weight`)."""

from __future__ import annotations

import numpy as np

from mmdream.errors import UserError
from mmdream.options import BY_NAME
from mmdream.senses.links import link_matrix, read_links
from mmdream.senses.perceive import Track

FOLLOWS = BY_NAME["follow"].choices  # the picture follows the sound, the sound the picture, or both


class Steer:
    """`at(t)`: (weights over the target net's classes summing to 1, or None; confidence 0..1)."""

    def __init__(self, track: Track, links: np.ndarray, target_classes: list[str]) -> None:
        self.track, self.target_classes = track, target_classes
        rows = links.sum(axis=1, keepdims=True)
        self.linked = rows[:, 0] > 0
        self.spread = links / np.maximum(rows, 1.0)  # a perceived class's confidence shared among its targets

    def at(self, t: float) -> tuple[np.ndarray | None, float]:
        c = self.track.at(t)
        strength = float(min(1.0, c[self.linked].sum()))
        if strength <= 0:
            return None, 0.0
        w = c @ self.spread
        return w / w.sum(), strength

    def describe(self, t: float, k: int = 3) -> dict:
        """What was perceived at `t`, the target (its `k` heaviest classes, and its share from each perceived class
        with how many classes that one links to: a bark's share spreads over 118 breeds) and the confidence."""
        w, strength = self.at(t)
        target = [] if w is None else [[self.target_classes[i], round(float(w[i]), 3)]
                                       for i in np.argsort(-w)[:k] if w[i] > 0]
        shares = self.track.at(t) * self.linked
        groups = [{"from": self.track.classes[s], "share": round(float(shares[s] / shares.sum()), 3),
                   "classes": int(np.count_nonzero(self.spread[s]))}
                  for s in np.argsort(-shares)[:k] if shares[s] > 0]
        return {"perceived": self.track.top(t, k), "target": target, "target_by_perceived": groups,
                "confidence": round(strength, 3)}


def steer(track: Track, target: str, target_classes: list[str], toward: str, links_file: str | None = None) -> Steer:
    """A track (a sound net's or an image net's) steering the other net, `target` (its name and classes):
    `toward` is the target's kind. A user's `links_file` may name the sound net's own classes."""
    sound, sound_classes, image_classes = ((track.net, track.classes, target_classes) if toward == "image"
                                           else (target, target_classes, track.classes))
    links = read_links(links_file, {sound: sound_classes}, image_classes)
    m = link_matrix(links, sound_classes, image_classes)
    return Steer(track, m if toward == "image" else m.T, target_classes)


def per_second(plan, seconds: float, start: float = 0.0) -> list[dict]:
    """A report's rows for a plan that follows (a mmdream.schedule.Resolved with a steer): each second's
    perception, target classes, confidence and the weight the dream followed them with."""
    rows = []
    for t in np.arange(start, start + max(seconds, 1e-3), 1.0):
        rows.append({"time": round(float(t), 3), **plan.steer.describe(float(t)),
                     "weight": round(plan.at(float(t)).follow, 3)})
    return rows


def check_follow(follow: str | None, src: str, has_audio: bool, audio: str) -> None:
    """A film can follow only the senses it has: a soundtrack to hear, a soundtrack dreamed to steer."""
    if follow is None:
        return
    if follow not in FOLLOWS:
        raise UserError(f"follow must be one of {', '.join(FOLLOWS)}, not {follow!r}")
    if not has_audio:
        raise UserError(f"--follow {follow} needs a soundtrack, and {src} has none")
    if follow in ("picture", "both") and audio != "dream":
        raise UserError(f"--follow {follow} steers the soundtrack's dream: drop --keep-audio / --no-audio")

"""A track of what one net perceives, through the links, as the other net's class target over time: which of its
classes to grow and how hard (the confidence in anything linked, times the schedule's `follow_weight`)."""

from __future__ import annotations

import numpy as np

from mmdream.errors import UserError
from mmdream.modality import MODALITIES
from mmdream.options import BY_NAME
from mmdream.senses.links import link_matrix, read_links
from mmdream.senses.perceive import Track

FOLLOWS = BY_NAME["follow"].choices  # the picture follows the sound, the sound the picture, or both


class Steer:
    """`at(t, threshold)`: (weights over the target net's classes summing to 1, or None; confidence 0..1), from the
    perceived classes whose confidence reaches `threshold` (the schedule's follow_threshold)."""

    def __init__(self, track: Track, links: np.ndarray, target_classes: list[str]) -> None:
        self.track, self.target_classes = track, target_classes
        rows = links.sum(axis=1, keepdims=True)
        self.linked = rows[:, 0] > 0
        self.spread = links / np.maximum(rows, 1.0)  # a perceived class's confidence shared among its targets

    def at(self, t: float, threshold: float = 0.0) -> tuple[np.ndarray | None, float]:
        c = self.counted(t, threshold)
        strength = float(min(1.0, c[self.linked].sum()))
        if strength <= 0:
            return None, 0.0
        w = c @ self.spread
        return w / w.sum(), strength

    def counted(self, t: float, threshold: float = 0.0) -> np.ndarray:
        """The perceived confidence at `t`, each class below `threshold` counted as nothing."""
        c = self.track.at(t)
        return np.where(c >= threshold, c, 0.0) if threshold > 0 else c

    def describe(self, t: float, k: int = 3, threshold: float = 0.0) -> dict:
        """What was perceived at `t`, the target (its `k` heaviest classes, and its share from each perceived class
        with how many classes that one links to: a bark's share spreads over 118 breeds) and the confidence."""
        w, strength = self.at(t, threshold)
        target = [] if w is None else [[self.target_classes[i], round(float(w[i]), 3)]
                                       for i in np.argsort(-w)[:k] if w[i] > 0]
        shares = self.counted(t, threshold) * self.linked
        groups = [{"from": self.track.classes[s], "share": round(float(shares[s] / shares.sum()), 3),
                   "classes": int(np.count_nonzero(self.spread[s]))}
                  for s in np.argsort(-shares)[:k] if shares[s] > 0]
        heard = self.counted(t, threshold)
        perceived = [[self.track.classes[i], round(float(heard[i]), 3)] for i in np.argsort(-heard)[:k] if heard[i] > 0]
        return {"perceived": perceived, "target": target, "target_by_perceived": groups,
                "confidence": round(strength, 3)}


def steer(track: Track, target: str, target_classes: list[str], toward: str, links_file: str | None = None) -> Steer:
    """A track (a sound net's or an image net's) steering the other net, `target` (its name and classes):
    `toward` is the target's kind. A user's `links_file` may name the sound net's own classes."""
    rows = not MODALITIES[toward].links_rows  # the track's classes are the table's rows: it heard a sound
    sound, sound_classes, image_classes = ((track.net, track.classes, target_classes) if rows
                                           else (target, target_classes, track.classes))
    links = read_links(links_file, {sound: sound_classes}, image_classes)
    m = link_matrix(links, sound_classes, image_classes)
    return Steer(track, m if rows else m.T, target_classes)


def per_second(plan, seconds: float, start: float = 0.0) -> list[dict]:
    """A report's rows for a plan that follows (a mmdream.schedule.Resolved with a steer): each second's
    perception, target classes, confidence and the weight the dream followed them with."""
    rows = []
    for t in np.arange(start, start + max(seconds, 1e-3), 1.0):
        moment = plan.at(float(t))
        rows.append({"time": round(float(t), 3), **plan.steer.describe(float(t), threshold=moment.follow_threshold),
                     "weight": round(moment.follow, 3)})
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


def check_links(links: str | None, *sound_nets: str | None) -> None:
    """A user's table of links, read before any net loads (its sections may name the sound nets in use)."""
    if links is not None:
        read_links(str(links), dict.fromkeys(filter(None, sound_nets)))


def follow(plan, net, track: Track, links: str | None) -> None:
    """`plan` steered toward `net`'s classes linked to what the other net perceived (`track`)."""
    plan.follow(steer(track, net.name, net.classes, net.kind, links and str(links)))

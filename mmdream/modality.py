"""What differs between a picture and a sound, on one object per modality: code that takes a kind (a net's, a
command's, a card's) reads its facts here instead of branching on its name.

No TensorFlow, no net: every layer may read it."""

from __future__ import annotations

from dataclasses import dataclass

from mmdream.checks import AUDIO_SUFFIXES, IMAGE_SUFFIXES


@dataclass(frozen=True)
class Modality:
    name: str  # the kind's word on the command line and in a net's record
    writes: frozenset[str]  # suffixes an output may take
    reads: frozenset[str]  # suffixes a training file may take (ffmpeg decodes a sound from a film too)
    example: str  # what one training example is: a picture, or a window of a clip
    value_range: tuple[float, float] | None  # the dream space a net takes ([-1, 1] RGB; sound: log-magnitudes)
    rated: bool  # its nets are built for the input's sample rate (their mel front end is in the graph)
    squashed: bool  # classified squashed to the side its net was trained at (a picture; a sound is heard as is)
    tiled: bool  # its gradient is taken in tiles whose side the device decides (mmdream.core.backend)
    hears: bool  # it can perceive a soundtrack for a cross-modal dream
    links_rows: bool  # its classes are the rows of the table of links (mmdream.senses.links): sound's
    target_label: str  # what the studio calls a class to dream toward
    train_bases_extra: tuple[str, ...] = ()  # bases `mmdream train` takes beyond the registry's (from scratch)

    def smallest(self, min_size: int) -> str:
        """The README's smallest input of a net, in words."""
        return f"{min_size} px" if self.squashed else "—"


IMAGE = Modality("image", frozenset(IMAGE_SUFFIXES), frozenset(IMAGE_SUFFIXES), "images", (-1.0, 1.0), rated=False,
                 squashed=True, tiled=True, hears=False, links_rows=False, target_label="target class")
AUDIO = Modality("audio", frozenset(AUDIO_SUFFIXES), frozenset(AUDIO_SUFFIXES | {".aif", ".aiff", ".webm", ".mp4"}),
                 "windows", None, rated=True, squashed=False, tiled=False, hears=True, links_rows=True,
                 target_label="target tag", train_bases_extra=("scratch",))
MODALITIES = {m.name: m for m in (IMAGE, AUDIO)}

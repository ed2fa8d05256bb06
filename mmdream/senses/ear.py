"""Which sound net hears a soundtrack for a cross-modal dream: the ear.

`auto` takes YAMNet where its weights are installed (AudioSet's 521 classes: speech, animals, vehicles, water,
instruments), else the sound net the user named (a net trained on their own sounds hears them), else the musicnn
tagger that best tells instruments apart (MTT_musicnn; the default dream net MTT_vgg hears a violin as a violin
less often). Any sound net, registered or trained, may be named instead.
"""

from __future__ import annotations

from mmdream.errors import UserError
from mmdream.modality import MODALITIES
from mmdream.nets.registry import DEFAULT_NET, known, spec

GENERAL_EAR, MUSIC_EAR = "yamnet", "MTT_musicnn"


def ear_for(ear: str | None, sound_net: str) -> str:
    """The net that hears, for `--ear` (auto or a net) and the film's or picture's sound net."""
    if ear not in (None, "auto"):
        if known(ear) and not MODALITIES[spec(ear).kind].hears:
            raise UserError(f"--ear {ear} is an image net; it takes a sound net (`mmdream models`)")
        return ear
    if sound_net != DEFAULT_NET["audio"]:
        return sound_net
    return GENERAL_EAR if spec(GENERAL_EAR).offline() else MUSIC_EAR

"""What a dream film's frame function and soundtrack are made from: plain values, so the same film can be built
again in every process of a cluster (see mmdream.pipelines.film.cluster) and nowhere differs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from mmdream.core.backend import use_threads
from mmdream.media.ffmpeg import MediaInfo
from mmdream.nets.registry import DEFAULT_NET
from mmdream.options import BY_NAME
from mmdream.pipelines.film.frames import Dreaming, FrameDreamer, StylePass
from mmdream.pipelines.film.options import FILM_DEFAULTS, FilmOptions, film_fps
from mmdream.pipelines.film.soundtrack import SoundPlan
from mmdream.pipelines.precision import resolve_precision


@dataclass
class FilmRecipe:
    net: str = DEFAULT_NET["image"]
    audio_net: str = DEFAULT_NET["audio"]
    audio_layers: str | None = None
    style: str | None = None
    audio_style: str | None = None
    style_when: str = "after"
    image_style: dict = field(default_factory=dict)
    sound_style: dict = field(default_factory=dict)
    dream: dict = field(default_factory=dict)  # the dream options of dream_image (layers, schedule, precision, ...)
    threads: int | None = None  # TensorFlow's intra-op threads: a net's numbers depend on them
    audio_precision: str | None = None  # the sound net's (each net's `auto` is its own); None: dream["precision"]
    # Cross-modal: the soundtrack as the sound net heard it, the shots as the image net saw them (mmdream.senses
    # .perceive.Track as a dict), and a user's table of links.
    heard: dict | None = None
    seen: dict | None = None
    links: str | None = None

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def measured(self, with_sound: bool, here: bool = True) -> FilmRecipe:
        """This recipe with each net's `auto` precision measured (`with_sound`: the sound net's too), so every
        process of a render dreams at one precision. `here`: the film is dreamed in this process, whose TensorFlow
        threads are set first (measuring is TensorFlow's first op); a cluster's tasks set their own."""
        if here and self.threads is not None:
            use_threads(self.threads)
        asked = self.dream.get("precision", BY_NAME["precision"].default)
        return replace(self, dream={**self.dream, "precision": resolve_precision(asked, self.net)},
                       audio_precision=resolve_precision(asked, self.audio_net) if with_sound else None)

    def image(self, lend: bool = False) -> Dreaming:
        """The picture's dreamer and plan (`lend`: see mmdream.plan.build_plan)."""
        from mmdream.plan import build_plan

        return self._following(Dreaming(*build_plan("image", self.net, FILM_DEFAULTS, self.dream, lend=lend)),
                               self.heard)

    def _following(self, dreaming: Dreaming, track: dict | None) -> Dreaming:
        """The dreamer's plan steered by what the other net perceived (None: not)."""
        if track is not None:
            from mmdream.senses.perceive import Track
            from mmdream.senses.steer import steer

            net = dreaming.dreamer.net
            dreaming.plan.follow(steer(Track(**track), net.name, net.classes, net.kind, self.links))
        return dreaming

    def sound(self, info: MediaInfo, opts: FilmOptions, lend: bool = False) -> SoundPlan:
        """The soundtrack's dreamer (a depth-only `layers` applies to the sound net too; `lend` as image's) and style
        pass."""
        from mmdream.pipelines.audio.block import AUDIO_DEFAULTS
        from mmdream.plan import build_plan

        sound = SoundPlan(when=self.style_when)
        if info.has_audio and opts.soundtrack == "dream":
            layers = self.dream.get("layers")
            depth_only = layers is not None and all(_is_depth(p) for p in str(layers).split(","))
            precision = self.audio_precision or self.dream.get("precision", "fp32")
            sound.audio = self._following(Dreaming(*build_plan(
                "audio", self.audio_net, AUDIO_DEFAULTS,
                {**self.dream, "precision": precision, "layers": self.audio_layers or (layers if depth_only else "")},
                sr=info.audio_rate, lend=lend)), self.seen)
            if self.audio_style:
                from mmdream.pipelines.style import audio_styler

                sound.styler, sound.style_path = audio_styler(**self.sound_style), self.audio_style
        return sound

    def frame_function(self, image: Dreaming, info: MediaInfo, opts: FilmOptions) -> FrameDreamer:
        style_pass = None
        if self.style:
            from mmdream.pipelines.style import image_styler, style_target

            style_pass = StylePass(image_styler(image.dreamer.net, **self.image_style),
                                   style_target(self.style, opts.max_size), self.style_when)
        return FrameDreamer(image, opts, film_fps(info, opts), style_pass)


def _is_depth(part: str) -> bool:
    try:
        return 0.0 <= float(part.split(":")[0]) <= 1.0
    except ValueError:
        return False


def film_senses(src: str, follow: str | None, net: str, ear: str | None, start: float, end: float | None,
                cut: float) -> tuple[dict | None, dict | None]:
    """What a film's soundtrack holds (heard by the ear, mmdream.senses.ear) and its shots show (seen by the image
    net), as far as `follow` needs them: the tracks a FilmRecipe carries."""
    from mmdream.pipelines.audio.hearing import hear
    from mmdream.senses.perceive import see_film

    heard = seen = None
    if follow in ("sound", "both"):
        heard = hear(src, ear, start, None if end is None else end - start).as_dict()
    if follow in ("picture", "both"):
        seen = see_film(src, net, start, end, cut).as_dict()
    return heard, seen

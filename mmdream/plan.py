"""From a spec's dream to a dreamer: the net at the precision asked for, the schedule bound to it and one dreamer
built for every layer the schedule uses. The API's pipelines, the film and the live dream all start here."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mmdream.errors import UserError
from mmdream.modality import MODALITIES
from mmdream.options import OPTIONS

if TYPE_CHECKING:  # TensorFlow comes with the engine: only when a plan is built
    from mmdream.core.engine import Dreamer, DreamSettings, Objective
    from mmdream.nets import Net
    from mmdream.schedule import Resolved

SETTINGS = tuple(o.name for o in OPTIONS if o.setting)  # the engine's dream settings among the options


def parse_channels(spec: str | dict | None) -> dict[str, list[int]]:
    """'layer:3,7,12' (or {layer: [3, 7, 12]}) -> {layer: [channels]}."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        return {k: [int(i) for i in v] for k, v in spec.items()}
    name, _, idx = spec.partition(":")
    try:
        return {name: [int(i) for i in idx.split(",") if i]}
    except ValueError:
        raise UserError(f"bad channels {spec!r}; use layer:3,7,12") from None


def build_plan(kind: str, net_name: str | Net, defaults: DreamSettings, dream: Mapping[str, Any], *,
               sr: int | None = None, input_channels: int | None = None,
               also_layers: Callable[[Net], Iterable[str]] | None = None, lend: bool = False
               ) -> tuple[Dreamer, Resolved]:
    """The net (a name, or a net already loaded: a notebook dreams many layers of one), the schedule bound to it
    (`dream["schedule"]`, a TOML path, or one keyframe from its layers and strength) and one dreamer for every layer
    the schedule uses. `dream`: a spec's dream values (mmdream.specs, checked there): its settings (None: the
    pipeline's `defaults`), layers, strength, target, channels, seed, precision (fp32 or bf16: an `auto` is
    resolved by the caller, see mmdream.pipelines.precision), weights, and how a cross-modal target is followed
    where no keyframe says (follow_weight, follow_threshold; see mmdream.senses). `also_layers(net)`: layers the
    dreamer holds beyond the schedule's, at weight 0 (a live performer's depths); `lend`: an idle dreamer of the
    same net and objective may serve (see lent_plan). Returns (dreamer, plan)."""
    from mmdream.core.engine import Dreamer, Objective
    from mmdream.nets import Net, load_net
    from mmdream.nets.net import require_kind
    from mmdream.schedule import Schedule

    settings = replace(defaults, seed=dream.get("seed", 0),
                       **{k: dream[k] for k in SETTINGS if dream.get(k) is not None})
    if MODALITIES[kind].tiled and dream.get("tile_size") is None:
        from mmdream.core.backend import picture_tile

        settings = replace(settings, tile_size=picture_tile(settings.tile_size))
    layers = dream.get("layers")
    plan_schedule = (Schedule.load(dream["schedule"]) if dream.get("schedule")
                     else Schedule.single(layers, dream.get("strength", 1.0)))
    net = net_name if isinstance(net_name, Net) else load_net(net_name, weights=dream.get("weights", "imagenet"),
                                                              precision=dream.get("precision", "fp32"), sr=sr)
    require_kind(net, kind, kind)
    plan = plan_schedule.resolve(kind, net, settings, layers)
    plan.weight_defaults.update({k: dream[k] for k in ("follow_weight", "follow_threshold") if k in dream})
    target = dream.get("target")
    held = dict.fromkeys(also_layers(net) if also_layers else (), 0.0)
    objective = Objective({**held, **plan.layer_union()}, parse_channels(dream.get("channels")),
                          net.class_index(target) if target else None)
    for layer in objective.channels:
        if layer not in objective.layers:
            raise UserError(f"channels names {layer!r}, which is not among the dreamed layers")
    channels = input_channels if input_channels is not None else int(net.model.input.shape[-1])  # as Dreamer's
    dreamer = _idle_dreamer(net, objective, channels) if lend else None
    dreamer = dreamer or Dreamer(net, objective, channels=channels)
    dreamer.set_layer_weights(plan.at(0.0).layers)
    return dreamer, plan


# Dreamers a call gave back, by net and objective, the least recently used first. A dreamer's traced step and score
# are most of a small dream's time (the second 64 px lite0 picture of a process: about 1.2 s, nearly all tracing),
# and a studio, a notebook or a loop of API calls dreams the same net and layers again and again.
_IDLE: OrderedDict[tuple, Dreamer] = OrderedDict()
_IDLE_LOCK = threading.Lock()
IDLE_DREAMERS = 8


def _dreamer_key(net: Net, objective: Objective, input_channels: int) -> tuple:
    """What a dreamer's traces depend on: its net (this very one: a model loaded again is another), its objective's
    layers in order, channels and class target, and the channels it takes. Layer weights are a variable."""
    channels = tuple((name, tuple(c)) for name, c in sorted(objective.channels.items()))
    return id(net), tuple(objective.layers), channels, objective.target, input_channels


def _idle_dreamer(net: Net, objective: Objective, input_channels: int) -> Dreamer | None:
    with _IDLE_LOCK:
        return _IDLE.pop(_dreamer_key(net, objective, input_channels), None)


@contextlib.contextmanager
def lent_plan(kind: str, net_name: str | Net, defaults: DreamSettings, dream: Mapping[str, Any],
              **more: Any) -> Iterator[tuple[Dreamer, Resolved]]:
    """build_plan for a call whose dreamer ends with it (a picture, a sound): an idle dreamer of the same net and
    objective is taken where there is one, and the dreamer is given back afterwards (give_back)."""
    dreamer, plan = build_plan(kind, net_name, defaults, dream, lend=True, **more)
    with giving_back(dreamer):
        yield dreamer, plan


@contextlib.contextmanager
def giving_back(*dreamers: Dreamer | None) -> Iterator[None]:
    """Each dreamer (built with `lend`; None: none) given back when the block ends, however it ends: a film's or a
    zoom's, whose dreamers live as long as its render."""
    try:
        yield
    finally:
        for dreamer in dreamers:
            if dreamer is not None:
                give_back(dreamer)


def give_back(dreamer: Dreamer) -> None:
    """A dreamer whose call is over (one built with `lend`), kept idle for the next call of its net and objective,
    its class target dropped. Each dreamer serves one call at a time; one left guided toward a picture is not kept."""
    if dreamer.loss_term is not dreamer.score_term:  # left guided
        return
    dreamer.set_class_target(None)
    key = _dreamer_key(dreamer.net, dreamer.objective, dreamer.channels)
    with _IDLE_LOCK:
        _IDLE[key] = dreamer
        _IDLE.move_to_end(key)
        while len(_IDLE) > IDLE_DREAMERS:
            _IDLE.popitem(last=False)

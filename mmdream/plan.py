"""From options to a dreamer: the net at the precision asked for, the schedule bound to it and one dreamer built for
every layer the schedule uses. The CLI, the API and the film all start here."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mmdream.checks import RANGES, check_number
from mmdream.errors import UserError

if TYPE_CHECKING:  # TensorFlow comes with the engine: only when a plan is built
    from mmdream.core.engine import Dreamer, DreamSettings
    from mmdream.nets import Net
    from mmdream.schedule import Resolved

SETTING_NAMES = ("octaves", "octave_scale", "steps", "step_size", "jitter", "smooth", "tile_size")


def dream_settings(base: DreamSettings, seed: int | None = 0, **given: float | int | None) -> DreamSettings:
    """`base` with the options that were given (None: keep the default), each checked against its range."""
    unknown = set(given) - set(SETTING_NAMES)
    if unknown:
        raise UserError(f"unknown dream setting(s) {', '.join(sorted(unknown))}; known: {', '.join(SETTING_NAMES)}")
    changes = {k: v for k, v in given.items() if v is not None}
    for name, value in {**changes, "seed": seed}.items():
        check_number(name, value, *RANGES[name])
    return replace(base, seed=seed, **changes)


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


def build_plan(kind: str, net_name: str | Net, defaults: DreamSettings, *, layers: str | None = None,
               schedule: str | None = None, strength: float = 1.0, target: str | None = None,
               channels: str | dict | None = None, seed: int | None = 0, precision: str = "fp32",
               weights: str = "imagenet", sr: int | None = None, input_channels: int | None = None,
               follow_weight: float = 4.0, **settings: float | int | None) -> tuple[Dreamer, Resolved]:
    """The net (a name, or a net already loaded: a notebook dreams many layers of one), the schedule bound to it
    (`schedule`, a TOML path, or one keyframe from `layers` and `strength`) and one dreamer for every layer the
    schedule uses. `precision`: fp32 or bf16 (an `auto` is resolved by the caller, see
    mmdream.pipelines.precision). `follow_weight`: how hard a cross-modal target is followed where no keyframe
    says (see mmdream.senses). Returns (dreamer, plan)."""
    from mmdream.core.engine import Dreamer, Objective
    from mmdream.nets import Net, load_net
    from mmdream.nets.registry import names
    from mmdream.schedule import Schedule

    resolved_settings = dream_settings(defaults, seed, **settings)
    if kind == "image" and settings.get("tile_size") is None:
        from mmdream.core.backend import picture_tile

        resolved_settings = replace(resolved_settings, tile_size=picture_tile(resolved_settings.tile_size))
    plan_schedule = Schedule.load(schedule) if schedule else Schedule.single(layers, strength)
    net = net_name if isinstance(net_name, Net) else load_net(net_name, weights=weights, precision=precision, sr=sr)
    if net.kind != kind:
        raise UserError(f"{net.name} is an {net.kind} net; {kind} needs one of {', '.join(names(kind))}")
    plan = plan_schedule.resolve(kind, net, resolved_settings, layers)
    check_number("follow_weight", follow_weight, *RANGES["follow_weight"])
    plan.weight_defaults["follow_weight"] = follow_weight  # where no keyframe sets it (see mmdream.senses)
    objective = Objective(plan.layer_union(), parse_channels(channels), net.class_index(target) if target else None)
    for layer in objective.channels:
        if layer not in objective.layers:
            raise UserError(f"channels names {layer!r}, which is not among the dreamed layers")
    dreamer = Dreamer(net, objective, channels=input_channels)
    dreamer.set_layer_weights(plan.at(0.0).layers)
    return dreamer, plan

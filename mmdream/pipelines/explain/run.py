"""`mmdream explain NET`: from a spec to what the net has learned, measured. An image net gives one labelled PNG
grid (a row per objective: its visualisations, then its dataset examples); a sound net a folder of WAVs, one per
visualisation at the loudness asked for, and a sheet of their spectrograms beside their examples'."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mmdream.errors import UserError
from mmdream.modality import MODALITIES
from mmdream.pipelines.explain.examples import (
    example_files,
    picture_examples,
    sound_examples,
    top_examples,
)
from mmdream.pipelines.explain.goals import (
    CHANNEL,
    CLASS,
    Goal,
    channel_goals,
    check_channels,
    check_layer,
    class_goals,
)

if TYPE_CHECKING:
    from mmdream.pipelines.explain.optimise import Explainer

# Keras comes with the optimisation, after every check that needs no net (mmdream.pipelines.explain.optimise).

SOUND_RATE = 16000  # the sound nets' own rate (musicnn's and YAMNet's): everything they hear, nothing more
GRIFFIN_LIM = 32  # iterations refining a sound's phase before it is written
UNSEEN_TRIES = 8  # unseen transformations each visualisation is judged under


def explain(spec, output: str, progress=None) -> dict:
    """Check everything the registry can tell, build the net, optimise every goal, write and measure."""
    from mmdream.io_utils import check_input_file
    from mmdream.nets import is_model_file, load_net
    from mmdream.nets.classes import class_names
    from mmdream.nets.registry import known
    from mmdream.nets.registry import spec as record_of
    from mmdream.progress import Progress

    if not (spec.classes or spec.channel or spec.layer):
        raise UserError("explain what? give --class NAME, --channel LAYER:N or --layer LAYER")
    record = record_of(spec.net) if known(spec.net) else None
    if record is None and not is_model_file(spec.net) and not _trained(spec.net):
        record_of(spec.net)  # the registry's own line for an unknown name
    kind = record.kind if record is not None else None
    layers = _known_layers(record)
    if record is not None:  # the goals that the registry can check, before any net is built
        _goals(spec, class_names(record.classes), layers, spec.net)
    if spec.start_from is not None:
        check_input_file(spec.start_from)
    if spec.examples is not None and kind is not None:
        example_files(spec.examples, kind)
    if kind is not None:
        _check_output(output, kind)
    from mmdream.pipelines.precision import resolve_precision  # Keras, from here on

    started = time.perf_counter()
    net = load_net(spec.net, weights=spec.weights, precision=resolve_precision(spec.precision, spec.net),
                   sr=SOUND_RATE if kind is None or MODALITIES[kind].rated else None)
    if kind is None:  # a model file or a trained net: known now
        _goals(spec, net.classes, net.layers, spec.net)
        if spec.examples is not None:
            example_files(spec.examples, net.kind)
        _check_output(output, net.kind)
    with Progress(progress, None, "explaining") as bar:
        figures = EXPLAINED[net.kind](net, spec, output, bar)
    figures.update({"command": "explain", "net": spec.net, "kind": net.kind, "steps": spec.steps,
                    "param": spec.param if MODALITIES[net.kind].squashed else "log-magnitude",
                    "robust": spec.robust, "diversity": spec.diversity, "seed": spec.seed,
                    "seconds": time.perf_counter() - started})
    return figures


def _trained(name: str) -> bool:
    from mmdream.nets.cards import find_trained

    return find_trained(name) is not None


def _known_layers(record) -> list[str] | None:
    from mmdream.nets.net import record_layers

    return record_layers(record) if record is not None else None


def _goals(spec, classes: list[str], layers: list[str] | None, net: str) -> list[Goal]:
    goals = []
    if spec.classes:
        goals += class_goals(spec.classes, classes, net)
    if spec.channel:
        goals += channel_goals(spec.channel, layers, net)
    if spec.layer:
        check_layer(spec.layer, layers, net)
    return goals


def _check_output(output: str, kind: str) -> Path:
    """A picture net writes a .png grid; a sound net a folder (made if missing) of WAVs and a sheet."""
    return OUTPUTS[kind](output)


def _grid_output(output: str) -> Path:
    from mmdream.checks import check_output

    return check_output(output, {".png"}, "an explanation grid")


def _folder_output(output: str) -> Path:
    out = Path(output)
    if out.suffix and not out.is_dir():
        raise UserError(f"a sound net's explanation is a folder of sounds: give a folder name, not {out.name}")
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} is a file; give a folder name")
    if not out.parent.is_dir():
        raise UserError(f"output folder {out.parent} does not exist")
    return out


def _all_goals(net, spec, examples_table=None) -> list[Goal]:
    """The spec's goals, and a layer's channels: its first `count`, or the `count` most active on the examples."""
    goals = _goals(spec, net.classes, net.layers, spec.net)
    if spec.layer:
        width = _width(net, spec.layer)
        order = range(width) if examples_table is None else np.argsort(-examples_table)
        goals += [Goal(CHANNEL, int(i), spec.layer) for i in list(order)[:min(spec.count, width)]]
    return goals


def _width(net, layer: str) -> int:
    from mmdream.nets.graph import layer_output

    return int(layer_output(net.model, layer).shape[-1])


def _prepare(net, spec, candidates) -> tuple[list[Goal], Explainer, list[int], np.ndarray | None]:
    """The goals (each `diversity` times), their explainer, the input's goal group, and the examples' table."""
    from mmdream.pipelines.explain.optimise import Explainer

    ranking = None
    if spec.layer and candidates:  # the layer's channels most active on the examples
        probe = Explainer(net, [Goal(CHANNEL, 0, spec.layer)], [0], None)
        ranking = np.mean([np.abs(probe.activations_of(c.input[None])[spec.layer]).mean(axis=(0, 1, 2))
                           for c in candidates], axis=0)
    goals = _all_goals(net, spec, ranking)
    if not goals:
        raise UserError("nothing to explain")
    check_channels(goals, {g.layer: _width(net, g.layer) for g in goals if g.kind == CHANNEL}, spec.net)
    repeated = [g for g in goals for _ in range(spec.diversity)]
    group = [i for i in range(len(goals)) for _ in range(spec.diversity)]
    diverse = _diversity_layer(net, goals) if spec.diversity > 1 else None
    explainer = Explainer(net, repeated, group, diverse)
    table = None
    if candidates:  # each goal's first column: its inputs' objectives are the same for every copy
        table = _goal_table(explainer, np.stack([c.input for c in candidates]))[:, ::spec.diversity]
    return goals, explainer, group, table


def _diversity_layer(net, goals: list[Goal]) -> str:
    """Where diversity is measured: the channels' layer, or for classes the net's first default layer."""
    layer = next((g.layer for g in goals if g.kind == CHANNEL), None)
    return layer or next(iter(net.default_layers))


def _goal_table(explainer: Explainer, inputs: np.ndarray, batch: int = 16) -> np.ndarray:
    """Every goal's objective on every input (inputs by goals), a few inputs at a time."""
    return np.concatenate([explainer.table(explainer.activations_of(inputs[i:i + batch]))
                           for i in range(0, len(inputs), batch)])


# ---- pictures ------------------------------------------------------------------------------------------------
def _explain_pictures(net, spec, output: str, bar) -> dict:
    from mmdream.pipelines.explain.optimise import PICTURE_JITTER, Jitter, optimise
    from mmdream.pipelines.explain.param import PictureParam
    from mmdream.pipelines.explain.sheets import picture_grid

    side = spec.max_size
    value_range = net.value_range or (-1.0, 1.0)
    candidates = (picture_examples(example_files(spec.examples, "image"), side, value_range)
                  if spec.examples else [])
    goals, explainer, group, table = _prepare(net, spec, candidates)
    param = PictureParam((side, side), value_range, fourier=spec.param == "fourier")
    rng = np.random.default_rng(spec.seed)
    start = param.noise(len(explainer.goals), rng)
    if spec.start_from is not None:
        start = param.of_picture(np.repeat(_picture(spec.start_from, side, value_range)[None], len(start), 0))
    bar.total = spec.steps
    pictures = optimise(explainer, param.to_input, start, (side, side), PICTURE_JITTER if spec.robust else Jitter(),
                        "reflect", spec.steps, spec.learning_rate, rng, on_step=lambda: bar.update(1))
    scores, acts = explainer.measure(pictures)
    rows = _picture_rows(net, explainer, pictures, scores, acts, rng)
    best = top_examples(table, candidates) if table is not None else [[] for _ in goals]
    for row, chosen in zip(rows, [b for b in best for _ in range(spec.diversity)]):
        row["examples"] = [f"{e.name} ({e.where})" for e in chosen]
    picture_grid(output, goals, pictures, [[e.input for e in b] for b in best], spec.diversity, value_range)
    return {"output": output, "objectives": rows, **_summarised(rows)}


def _picture(path: str, side: int, value_range: tuple[float, float]) -> np.ndarray:
    from mmdream.media.picture import read_image, resize

    rgb = resize(read_image(path, fit=4 * side).rgb, (side, side)).astype(np.float32) / 255.0
    lo, hi = value_range
    return lo + (hi - lo) * rgb


def _picture_rows(net, explainer: Explainer, pictures: np.ndarray, scores: np.ndarray, acts: dict,
                  rng: np.random.Generator) -> list[dict]:
    """Each visualisation measured: its objective, its high-frequency share; a class's probability and how often
    the net still sees the class under transformations the optimisation never drew; a channel's activation
    against its layer's mean channel."""
    from mmdream.pipelines.explain.param import high_frequency_share

    rows = []
    probs = _softmax(acts["logits"]) if not net.multilabel else 1 / (1 + np.exp(-acts["logits"]))
    high = high_frequency_share(pictures)
    transfer = _unseen_top1(explainer, pictures, rng)
    similar = explainer.similarity(acts)
    for i, g in enumerate(explainer.goals):
        row = {"goal": g.title, "kind": g.kind, "objective": float(scores[i]), "high_frequency_share": float(high[i])}
        if explainer.diversity_layer is not None:
            row["similarity"] = float(similar[i])
        if g.kind == CLASS:
            row.update(probability=float(probs[i, g.index]), top1=bool(np.argmax(acts["logits"][i]) == g.index),
                       transfer=float(transfer[i]))
        else:
            strength = np.abs(acts[g.layer][i]).mean(axis=(0, 1))
            row["specificity"] = float(strength[g.index] / max(strength.mean(), 1e-12))
        rows.append(row)
    return rows


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _unseen_top1(explainer: Explainer, pictures: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each picture's share of UNSEEN_TRIES transformations (wider scale, rotation and shift than any step drew,
    then a random crop of 75-100 %) under which the net's top class is still its goal's (classes only)."""
    from keras import ops

    from mmdream.core import backend
    from mmdream.pipelines.explain.optimise import UNSEEN_PICTURE, transformed

    side = pictures.shape[1]
    hits = np.zeros(len(pictures))
    for _ in range(UNSEEN_TRIES):
        maps, _ = UNSEEN_PICTURE.draw((side, side), len(pictures), rng)
        moved = backend.array(transformed(backend.tensor(pictures), backend.tensor(maps),
                                          backend.tensor(np.zeros(len(pictures), np.float32)), "reflect"))
        crop = int(rng.uniform(0.75, 1.0) * side)
        y, x = rng.integers(0, side - crop + 1, 2)
        cropped = backend.array(ops.image.resize(backend.tensor(moved[:, y:y + crop, x:x + crop]), (side, side)))
        top = explainer.activations_of(cropped)["logits"].argmax(axis=-1)
        hits += [g.kind == CLASS and top[i] == g.index for i, g in enumerate(explainer.goals)]
    return hits / UNSEEN_TRIES


# ---- sounds --------------------------------------------------------------------------------------------------
def _explain_sounds(net, spec, output: str, bar) -> dict:
    from mmdream.core import backend
    from mmdream.pipelines.audio.block import consistent_spectrum, keep_loudness
    from mmdream.pipelines.audio.spectrum import analyse, resynthesise
    from mmdream.pipelines.explain.optimise import SOUND_JITTER, Jitter, optimise
    from mmdream.pipelines.explain.param import SoundParam
    from mmdream.pipelines.explain.sheets import sound_sheet

    seconds = spec.duration
    candidates = (sound_examples(example_files(spec.examples, "audio"), seconds, SOUND_RATE)
                  if spec.examples else [])
    goals, explainer, group, table = _prepare(net, spec, candidates)
    rng = np.random.default_rng(spec.seed)
    start = _start_sound(spec, len(explainer.goals), seconds, rng)
    spectrum = analyse(start, SOUND_RATE)
    base = backend.tensor(spectrum.logmag)
    consistent, loud = consistent_spectrum(spectrum, SOUND_RATE), keep_loudness(SOUND_RATE)
    bar.total = spec.steps
    frames = spectrum.logmag.shape[1]
    dreamed = optimise(explainer, SoundParam().to_input, spectrum.logmag, (frames, spectrum.logmag.shape[2]),
                       SOUND_JITTER if spec.robust else Jitter(), "wrap", spec.steps, spec.learning_rate, rng,
                       project=lambda p: loud(consistent(p, base), base), on_step=lambda: bar.update(1))
    sounds = resynthesise(spectrum, dreamed - spectrum.logmag, SOUND_RATE, GRIFFIN_LIM)  # (n, items)
    out = Path(output)
    out.mkdir(exist_ok=True)
    rows = []
    for i, g in enumerate(explainer.goals):
        name = f"{i + 1:02d}-{_file_word(g.title)}" + (f"-{i % spec.diversity + 1}" if spec.diversity > 1 else "")
        path = out / f"{name}.wav"
        mastered = _write_sound(sounds[:, i], path, spec.loudness)
        rows.append({"goal": g.title, "kind": g.kind, "file": str(path), **mastered,
                     **_heard(explainer, i, g, str(path))})
    best = top_examples(table, candidates) if table is not None else [[] for _ in goals]
    for row, chosen in zip(rows, [b for b in best for _ in range(spec.diversity)]):
        row["examples"] = [f"{e.name} ({e.where})" for e in chosen]
    sheet = out / "sheet.png"
    sound_sheet(str(sheet), [r["goal"] for r in rows], [r["file"] for r in rows],
                [[e.input for e in b] for b in best for _ in range(spec.diversity)], SOUND_RATE)
    return {"output": str(out), "sheet": str(sheet), "objectives": rows, **_summarised(rows)}


def _start_sound(spec, items: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """(n, items): each its own white noise, or the `--from` sound (mono, at the nets' rate), at the loudness asked."""
    import pyloudnorm

    n = int(seconds * SOUND_RATE)
    if spec.start_from is not None:
        from mmdream.media.audio_source import load_mono

        mono = load_mono(spec.start_from, SOUND_RATE, end=seconds)
        mono = np.pad(mono, (0, max(0, n - len(mono))))[:n] + rng.normal(0, 1e-4, n)
        x = np.repeat(mono[:, None], items, axis=1)
    else:
        x = rng.normal(0, 1, (n, items))
    meter = pyloudnorm.Meter(SOUND_RATE)
    for i in range(items):
        level = meter.integrated_loudness(x[:, i])
        x[:, i] *= 10 ** ((spec.loudness - level) / 20) if math.isfinite(level) else 1.0
    return x.astype(np.float32)


def _file_word(title: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in title).strip("_")[:40] or "goal"


def _write_sound(x: np.ndarray, path: Path, loudness: float) -> dict:
    """One sound mastered to `loudness` (the project's gain and limiter), written atomically."""
    import tempfile

    from mmdream.media.master import finalise, write_raw

    with tempfile.TemporaryDirectory(prefix="mmdream-explain-") as scratch:
        raw = str(Path(scratch) / "raw.wav")
        _, raw_lufs = write_raw(iter([x[:, None].astype(np.float32)]), raw, SOUND_RATE, 1)
        return finalise(raw, str(path), SOUND_RATE, 1, raw_lufs, loudness)


def _heard(explainer: Explainer, i: int, g: Goal, path: str) -> dict:
    """What the net hears in the written sound: a tag's probability as written, and its least after a tenth of the
    sound's length of time shift and 3 dB up or down (transformations no step drew exactly); a channel's mean."""
    from mmdream.media.audio_source import load_whole
    from mmdream.pipelines.audio.spectrum import analyse

    x = load_whole(path)[0][:, :1]
    shifted = np.roll(x, len(x) // 10, axis=0)
    variants = [x, shifted * 10 ** (3 / 20), shifted * 10 ** (-3 / 20)]
    values = []
    for v in variants:
        acts = explainer.activations_of(analyse(v, SOUND_RATE).logmag)
        value = float(explainer.table(acts)[0, i])
        values.append(float(1 / (1 + np.exp(-acts["logits"][0, g.index]))) if g.kind == CLASS else value)
    key = "probability" if g.kind == CLASS else "objective"
    return {key: values[0], f"{key}_shifted_min": min(values[1:])}


def _summarised(rows: list[dict]) -> dict:
    """The figures a summary line gives: means over the objectives that have them."""
    out = {}
    for key in ("transfer", "probability", "probability_shifted_min", "specificity", "high_frequency_share",
                "similarity"):
        values = [r[key] for r in rows if key in r]
        if values:
            out[f"{key}_mean"] = float(np.mean(values))
    return out


OUTPUTS = {"image": _grid_output, "audio": _folder_output}
EXPLAINED = {"image": _explain_pictures, "audio": _explain_sounds}

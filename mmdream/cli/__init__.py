"""The `mmdream` command line. Heavy imports happen inside commands so `--help` is instant."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mmdream.checks import MODALITIES
from mmdream.core.choose import choose_backend, chosen
from mmdream.errors import UserError
from mmdream.nets.registry import (
    DEFAULT_NET,
    DEFAULT_STYLE_NET,
    DEFAULT_TRAIN_BASE,
    help_line,
    keras_app_names,
    train_bases,
)
from mmdream.options import AUDIO_STYLE, BY_NAME, COMMANDS, DREAM, EXCLUSIVE, IMAGE_STYLE, REQUIRED, SENSES, STYLE

EXAMPLES = """examples:
  mmdream image photo.jpg -o dream.jpg
  mmdream image photo.jpg -o dream.jpg --net inception_v3 --layers mixed3:1,mixed5:1.5 --octaves 5
  mmdream image photo.jpg -o dog.jpg --target "golden retriever" --steps 30
  mmdream image photo.jpg -o guided.jpg --guide flowers.jpg --report dream.json
  mmdream audio song.mp3 -o dream.wav --net MTT_vgg --layers conv3 --plot spec.png
  mmdream audio song.mp3 -o techno.wav --target techno --ouroboros 3
  mmdream audio noise --duration 5 -o noise_dream.wav
  mmdream video film.mp4 -o dream.mp4 --max-size 540 --preview sheet.png
  mmdream video film.mp4 -o dream.mp4 --schedule film.toml --react 0.5   # one schedule for picture and sound
  mmdream video film.mp4 -o dream.mp4 --follow both   # a bark grows dogs; a guitar on screen steers the sound
  mmdream image photo.jpg -o dream.jpg --sound bark.wav --audio-net animals
  mmdream audio song.wav -o dream.wav --picture spaniels.jpg --net animals
  mmdream style image photo.jpg --style starry.jpg -o styled.jpg --net efficientnet_lite0
  mmdream style audio song.wav --style rain.wav -o styled.wav
  mmdream style video film.mp4 --style starry.jpg -o styled.mp4 --audio-style rain.wav
  mmdream zoom photo.jpg -o zoom.mp4 --seconds 20 --zoom 1.02 --rotate 0.2 --audio noise --loop
  mmdream live /dev/video0 -o udp://127.0.0.1:1234         # open udp://@:1234 in VLC or OBS
  mmdream live film.mp4 --realtime -o live.mp4 --report live.json
  mmdream models                    # every net, where its weights stand, dreamable layers
  mmdream models efficientnet_lite0 # one net's layers and classes
  mmdream models install inception_v3 inception_v3_weights_tf_dim_ordering_tf_kernels.h5
  mmdream models setup              # adds the musicnn nets after a plain `pip install mmdream`
  mmdream train audio sounds/ --name animals && mmdream audio cat.wav -o dog.wav --net animals --target dog
  mmdream datasets list             # recipes for Stanford Dogs, ESC-50, FSDKaggle2018, ...
  mmdream serve                     # the studio: a web page on http://127.0.0.1:7860
"""


TRAIN_EXAMPLES = """examples:
  mmdream datasets prepare stanford_dogs --root ~/data/dogs --download
  mmdream train image ~/data/dogs/sorted --base inception_v3 --name dogs --fine-tune 3
  mmdream image photo.jpg -o dogdream.jpg --net models/dogs.keras --target beagle
  mmdream datasets frames film_a.mp4 film_b.mp4 --out frames --fps 2
  mmdream train image frames --name films --split tail --size 160
  mmdream train audio ~/sounds/animals --base MTT_musicnn --name animals
  mmdream audio cat.wav -o cat_as_dog.wav --net animals --target dog
"""


def quiet_native_logs(verbose: bool) -> None:
    """Unless -v: TensorFlow's and absl's C++ start-up lines (printed on file descriptor 2 whatever
    TF_CPP_MIN_LOG_LEVEL says) and TensorFlow's Python warnings (retracing) are not shown. Python's own stderr
    moves to a copy of the real one, so mmdream's error line and progress bars still reach the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # oneDNN stays on; only the log noise goes
    if verbose:
        return
    import logging
    import warnings

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"(keras|tensorflow|librosa)(\.|$)")
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):  # no descriptor 2 (embedded), nothing to quiet
        return
    sys.stderr = os.fdopen(real, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    os.dup2(devnull, 2)
    os.close(devnull)


def write_report(path: str | None, report: dict) -> None:
    if not path:
        return
    from mmdream.core.backend import describe
    from mmdream.io_utils import atomic_output

    with atomic_output(Path(path)) as tmp:
        tmp.write_text(json.dumps({**report, "backend": describe()}, indent=2, default=str))


def describe_objective(figures: dict, target: str | None) -> str:
    """'objective 1.2 -> 3.4 (2.8x)', or for a targeted dream 'logit of dog 0.1 -> 5.3 (+5.2)'."""
    before, after = figures["objective_before"], figures["objective_after"]
    if target:
        return f"logit of {target} {before:.3g} -> {after:.3g} ({figures['objective_change']:+.3g})"
    return f"objective {before:.3g} -> {after:.3g} ({figures['objective_gain']:.2f}x)"


def progress_bar(total: int | None, desc: str, unit: str = "step"):
    """A tqdm bar with an ETA; bytes ("B") count in kB/MB/GB."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=None, dynamic_ncols=True, unit_scale=unit == "B")


# ---- commands ---------------------------------------------------------------------------------------------
def dream_options(args: argparse.Namespace) -> dict:
    """The dream options every dream command shares, and the cross-modal ones it takes, as the API's keyword
    arguments."""
    senses = [name for name in COMMANDS[args.command].get(SENSES, ()) if name != "audio_net"]
    return {name: getattr(args, name) for name in (*DREAM, *senses)}


class TqdmProgress:
    """The API's progress convention, `(done, total, desc)`, shown as one tqdm bar per description."""

    def __init__(self, unit: str = "step") -> None:
        self.unit, self.bars = unit, {}

    def __call__(self, done: int, total: int | None, desc: str) -> None:
        bar = self.bars.get(desc)
        if bar is None:
            bar = self.bars[desc] = progress_bar(total, desc, self.unit)
        bar.update(done - bar.n)

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(self, *exc) -> bool:
        for bar in self.bars.values():
            bar.close()
        return False


def cmd_image(args: argparse.Namespace) -> int:
    from mmdream.api import dream_image

    with TqdmProgress() as progress:
        result = dream_image(args.input, args.output, net=args.net, guide=args.guide, max_size=args.max_size,
                             max_pixels=args.max_pixels, progress=progress, measure=args.report is not None,
                             audio_net=args.audio_net, **dream_options(args))
    measured = f"{describe_objective(result.figures, args.target)} " if args.report else ""  # measured for a report
    print(f"{args.output}: {measured}dreamed in {result.figures['seconds']:.2f} s")
    write_report(args.report, result.report())
    return 0


def cmd_audio(args: argparse.Namespace) -> int:
    from mmdream.api import dream_audio

    with TqdmProgress() as progress:
        result = dream_audio(args.input, args.output, net=args.net, duration=args.duration, loudness=args.loudness,
                             griffin_lim=args.griffin_lim, ouroboros=args.ouroboros, plot=args.plot,
                             progress=progress, **dream_options(args))
    for figures in result.figures["passes"]:
        if "warning" in figures:
            print(f"mmdream: warning: {figures['warning']}", file=sys.stderr)
        print(f"{figures['output']}: {describe_objective(figures, args.target)}, "
              f"{figures['output_loudness_lufs']:.1f} LUFS, true peak {figures['true_peak_dbfs']:.1f} dBFS")
    write_report(args.report, result.report())
    return 0


FILM_FLAGS = ("max_size", "start", "end", "fps", "blend", "warm_steps", "warm_strength", "warm_octaves", "cut", "react",
              "griffin_lim", "preview", "keep_work")


def film_options(args: argparse.Namespace) -> dict:
    """The film's and the style pass's options, as the API's keyword arguments."""
    audio = "none" if args.no_audio else "keep" if args.keep_audio else "dream"
    return {**{k: getattr(args, k, None) for k in (*FILM_FLAGS, *STYLE)},
            "flow": not args.no_flow, "audio": audio}


def video_options(args: argparse.Namespace) -> dict:
    """`mmdream video`'s flags as mmdream.dream_video's keyword arguments."""
    return {"net": args.net, "audio_net": args.audio_net, "audio_layers": args.audio_layers, "style": args.style,
            "audio_style": args.audio_style, "style_when": args.style_when, "threads": args.threads, "ray": args.ray,
            "workers": args.workers, "max_segment": args.max_segment, "gpus_per_task": args.gpus_per_task,
            "task_resources": args.task_resources, "measure_every": 8 if args.report else 0,  # sampled for the report; else first frames and cuts alone
            **film_options(args), **dream_options(args)}


def cmd_video(args: argparse.Namespace) -> int:
    from mmdream.api import dream_video

    with TqdmProgress("frame") as progress:
        result = dream_video(args.input, args.output, progress=progress, **video_options(args))
    figures = result.figures
    flick = figures["flicker_mean"]
    print(f"{args.output}: {figures['frames']} frames at {figures['fps']:g} fps, objective gain "
          f"{figures['objective_gain_mean']:.2f}x (mean of {figures['objective_measured_frames']} measured frames), flicker {flick if flick is None else round(flick, 2)}, "
          f"{figures['frames_per_second']:.2f} frames/s")
    if figures.get("segments"):
        from mmdream.pipelines.film.cluster import segment_report

        print(segment_report(figures))
    write_report(args.report, result.report())
    return 0


ZOOM_FLAGS = ("seconds", "fps", "zoom", "rotate", "pan", "max_size", "audio", "audio_ouroboros", "net", "audio_net",
              "audio_layers", "loop", "warm_steps", "warm_strength", "colour_pull", "detail_decay", "preview",
              "keep_work", "threads")


def cmd_zoom(args: argparse.Namespace) -> int:
    from mmdream.api import zoom

    with TqdmProgress("frame") as progress:
        result = zoom(args.input, args.output, progress=progress, **{k: getattr(args, k) for k in ZOOM_FLAGS},
                      **dream_options(args))
    f = result.figures
    stable = ", ".join(f"{k} x{v:.2f}" for k, v in f["stability"]["ratio"].items())
    gain, flick = f["objective_gain_mean"], f["flicker_mean"]
    print(f"{args.output}: {f['frames']} frames at {f['fps']:g} fps, objective gain "
          f"{'-' if gain is None else f'{gain:.2f}x'} over each frame's moved input (mean), flicker "
          f"{'-' if flick is None else f'{flick:.2f}'}, last against first {f['stability']['window_s']:g} s: "
          f"{stable}, {f['frames_per_second']:.2f} frames/s")
    write_report(args.report, result.report())
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    from mmdream.api import live

    dream = {k: v for k, v in dream_options(args).items() if v is not None}  # live's own octaves and steps stand
    print(f"mmdream live: dreaming {args.input} into {args.output}; Ctrl-C stops", file=sys.stderr)
    result = live(args.input, args.output, realtime=args.realtime, seconds=args.seconds, max_size=args.max_size,
                  deadline=args.deadline, net=args.net, warm_steps=args.warm_steps, warm_strength=args.warm_strength,
                  blend=args.blend, threads=args.threads, keys=not args.no_keys, audio=args.audio,
                  audio_net=args.audio_net, audio_layers=args.audio_layers, **dream)
    f = result.figures
    heard = (f"; sound: {f['audio_dreamed_chunks']} of {f['audio_chunks']} chunks dreamed, latency p95 "
             f"{1000 * (f['audio_latency_p95_s'] or 0):.0f} ms") if args.audio else ""
    print(f"{args.output}: {f['frames_out']} of {f['frames_in']} frames written ({f['dreamed_frames']} dreamed, "
          f"{f['carried_frames']} carried), latency p50 {1000 * f['latency_p50_s']:.0f} ms, p95 "
          f"{1000 * f['latency_p95_s']:.0f} ms, max {1000 * f['latency_max_s']:.0f} ms{heard}")
    write_report(args.report, result.report())
    return 0


def cmd_style(args: argparse.Namespace) -> int:
    from mmdream import api

    if args.kind == "image":
        with TqdmProgress() as progress:
            result = api.style_image(args.input, args.style, args.output, net=args.net, max_size=args.max_size,
                                     max_pixels=args.max_pixels, precision=args.precision, weights=args.weights,
                                     progress=progress, **{k: getattr(args, k) for k in IMAGE_STYLE})
        f = result.figures
        print(f"{args.output}: style loss {f['style_loss_start']:.3g} -> {f['style_loss_end']:.3g} "
              f"({f['style_loss_drop']:.1f}x lower), content loss {f['content_loss_end']:.3g}")
    elif args.kind == "audio":
        with TqdmProgress() as progress:
            result = api.style_audio(args.input, args.style, args.output, duration=args.duration,
                                     loudness=args.loudness, progress=progress,
                                     **{k: getattr(args, k) for k in AUDIO_STYLE})
        f = result.figures
        print(f"{args.output}: style loss {f['style_loss_start']:.3g} -> {f['style_loss_end']:.3g} "
              f"({f['style_loss_drop']:.1f}x lower), {f['output_loudness_lufs']:.1f} LUFS, "
              f"true peak {f['true_peak_dbfs']:.1f} dBFS")
    else:
        with TqdmProgress("frame") as progress:
            result = api.style_video(args.input, args.style, args.output, net=args.net, audio_style=args.audio_style,
                                     precision=args.precision, weights=args.weights, seed=args.seed,
                                     progress=progress, **film_options(args))
        f = result.figures
        flick = f["flicker_mean"]
        print(f"{args.output}: {f['frames']} frames, style loss {f['style_loss_mean']:.3g} (mean), "
              f"flicker {flick if flick is None else round(flick, 2)}")
    write_report(args.report, result.report())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from mmdream.studio.server import serve

    serve(args.host, args.port, args.share_folder, auth=args.auth, no_auth=args.no_auth, max_upload=args.max_upload,
          max_queue=args.max_queue, ray=args.ray, task_resources=args.task_resources)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    words = args.words
    if words[:1] == ["setup"]:
        from mmdream.nets.setup import setup

        for line in setup():
            print(line)
        return 0
    if words[:1] == ["install"]:
        if len(words) != 3:
            raise UserError(f"usage: mmdream models install NET FILE (NET: {', '.join(keras_app_names())})")
        from mmdream.nets.keras_apps import install_weights

        print(f"{words[1]}: {words[2]} verified and installed as {install_weights(words[1], words[2])}")
        return 0
    if len(words) > 1:
        raise UserError("usage: mmdream models [NET] | models install NET FILE | models setup")
    return _list_models(words[0] if words else None)


def _list_models(name: str | None) -> int:
    from mmdream.nets import is_model_file, specs
    from mmdream.nets.cards import card_path, find_trained, list_trained, read_card
    from mmdream.nets.classes import class_names
    from mmdream.nets.net import record_layers

    rows = specs()
    if name:
        rows = [s for s in rows if s.name == name]
        if not rows and is_model_file(name) and not card_path(name.split("#")[0]).exists():
            return _list_model_file(name)
        if not rows and (path := find_trained(name)) is not None:
            card = read_card(path)
            m = card["metrics"]
            print(f"{path} {card['kind']} net retrained from {card['base']} on {card['manifest']['files']} files "
                  f"(data sha256 {card['manifest']['sha256'][:16]}, {card['date']})\n"
                  f"    validation accuracy {m['val_accuracy']:.3f} on {m['val_examples']} held-out "
                  f"(chance {m['chance']:.3f})\n    layers: {', '.join(card['layers'])}\n"
                  f"    classes: {', '.join(card['classes'])}")
            return 0
        if not rows:
            raise UserError(f"unknown net {name!r}; run `mmdream models` for the list")
    for s in rows:
        print(f"{s.name:20s} {s.kind:6s} weights: {s.status()}\n    {s.description}")
        layers = record_layers(s, build=bool(name))
        print(f"    layers: {', '.join(layers) if layers else f'found in its graph (`mmdream models {s.name}`)'}")
        if name:
            print(f"    classes: {', '.join(class_names(s.classes))}")
    for card in list_trained():
        print(f"{card['path']:20s} {card['kind']:6s} weights: trained here\n    trained on {len(card['classes'])} "
              f"classes from {card['base']} (val accuracy {card.get('metrics', {}).get('val_accuracy', 'n/a')})")
    print(chosen())
    return 0


def _list_model_file(reference: str) -> int:
    """A user's own image classifier, as mmdream reads it."""
    from mmdream.nets.user import load_user_model

    net = load_user_model(reference, listing=True)
    told = net.extras["value_range"]
    values = f"{told[0]:g}..{told[1]:g}" if told else "values it does not tell (dream it with --value-range LO,HI)"
    print(f"{net.extras['path']} image net of your own: {len(net.classes)} classes, takes {values}, "
          f"made for {net.input_side or 'any'} px, dreams from {net.min_size} px\n    layers: {', '.join(net.layers)}\n"
          f"    default layers: {', '.join(net.default_layers)}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from mmdream import api

    train = {"image": api.train_image, "audio": api.train_audio}[args.kind]
    base = args.base or DEFAULT_TRAIN_BASE[args.kind]
    with TqdmProgress("epoch") as progress:
        card = train(args.data, args.output, base=base, name=args.name, progress=progress, weights=args.weights,
                     epochs=args.epochs, fine_tune_epochs=args.fine_tune, batch_size=args.batch_size,
                     learning_rate=args.learning_rate, val_fraction=args.val_fraction, patience=args.patience,
                     split=args.split, seed=args.seed, size=args.size, window=args.window)
    m, out = card["metrics"], card["path"]
    print(f"{out}: {len(card['classes'])} classes, validation accuracy {m['val_accuracy']:.3f} on "
          f"{m['val_examples']} held-out {MODALITIES[args.kind].example} "
          f"(chance {m['chance']:.3f}); card {Path(out).with_suffix('.json')}")
    write_report(args.report, {"command": f"train {args.kind}", "model": out, **card})
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from mmdream.train import datasets

    if args.action == "list":
        for r in datasets.list_recipes():
            print(f"{r['name']:22s} {r['kind']:6s} {r['size']}\n    {r['title']} ({r['license']})\n    {r['homepage']}")
        return 0
    if args.action == "frames":
        if not args.out:
            raise UserError("frames needs --out DIR")
        from mmdream.io_utils import check_input_file

        for video in args.names:
            check_input_file(video)
        counts = datasets.video_frames(args.names, args.out, fps=args.fps, size=args.size)
        print(", ".join(f"{k}: {v} frames" for k, v in counts.items()), f"in {args.out}")
        return 0
    if len(args.names) != 1 or not args.root:
        raise UserError("prepare needs one recipe name and --root DIR (see `mmdream datasets list`)")
    recipe = datasets.load_recipe(args.names[0])
    manifest = datasets.prepare(recipe, args.root, args.out, args.download,
                                progress=lambda total, desc: progress_bar(total, desc, "B"))
    print(f"{recipe['name']}: {manifest['files']} files in {len(manifest['per_class'])} classes "
          f"({manifest['missing']} listed but absent), data sha256 {manifest['sha256'][:16]}")
    return 0


def args_output(args: argparse.Namespace) -> str:
    return str(getattr(args, "output", None) or getattr(args, "out", None) or ".")


# Each command's positional arguments and its output; every option comes from mmdream.options.
COMMAND_HELP = {
    "image": "dream a photo", "audio": "dream a sound",
    "video": "dream a film: frames and soundtrack under one schedule",
    "zoom": "the endless zoom: a dream film grown from one picture (and a sound)",
    "live": "dream a camera, a stream or a file in real time",
    "style": "style transfer: image, audio or video",
    "train": "retrain an image or audio net on your own class folders",
    "datasets": "public data sets: list, prepare (fetch, verify, sort), frames of films",
    "models": "list nets, where their weights stand and their dreamable layers; `models install NET FILE` adds "
              "ImageNet weights you have; `models setup` adds the musicnn nets",
    "serve": "the studio: a local web page for pictures, sounds, films, schedules, style",
}
POSITIONAL: dict[str, list[tuple[str, dict]]] = {
    "image": [("input", {})],
    "audio": [("input", {"help": "any file ffmpeg decodes (the audio of a video too), or `noise` / `sine`"})],
    "video": [("input", {})],
    "zoom": [("input", {"help": "a picture"})],
    "live": [("input", {"help": "a camera (/dev/video0), a stream ffmpeg opens (udp://, rtsp://, http://) or a file"})],
    "style": [("kind", {"choices": ["image", "audio", "video"]}), ("input", {})],
    "train": [("kind", {"choices": ["image", "audio"]}),
              ("data", {"help": "a folder of class sub-folders (images, or sound files)"})],
    "datasets": [("action", {"choices": ["list", "prepare", "frames"]}),
                 ("names", {"nargs": "*", "help": "prepare: a recipe name; frames: video files (one class each)"})],
    "models": [("words", {"nargs": "*", "metavar": "NET | install NET FILE | setup"})],
    "serve": [],
}
OUTPUT_HELP = {
    "image": None, "audio": ".wav, .flac, .mp3 or .ogg", "video": ".mp4, .mov or .mkv (H.264 + AAC)",
    "zoom": ".mp4, .mov or .mkv (H.264, + AAC with --audio)",
    "live": "a file (.mp4, .mkv, .ts) or an MPEG-TS address for VLC/OBS (udp://127.0.0.1:1234)", "style": None,
}
RUNS = {"image": cmd_image, "audio": cmd_audio, "video": cmd_video, "zoom": cmd_zoom, "live": cmd_live,
        "style": cmd_style, "train": cmd_train, "datasets": cmd_datasets, "models": cmd_models, "serve": cmd_serve}


def _registry_flag(name: str, command: str) -> dict:
    """`--net`, `--audio-net` and `--base`: their nets and defaults are the net registry's."""
    if name == "base":
        return {"help": "; ".join(f"{k}: {', '.join(train_bases(k))} (default {DEFAULT_TRAIN_BASE[k]})"
                                  for k in ("image", "audio"))}
    if name == "audio_net":
        return {"default": DEFAULT_NET["audio"], "help": ("the sound's " if command == "image" else "soundtrack's ")
                + help_line("audio")}
    if name == "image_net":
        return {"default": DEFAULT_NET["image"], "help": "the picture's " + help_line("image")}
    kind = "audio" if command == "audio" else "image"
    return {"default": DEFAULT_STYLE_NET if command == "style" else DEFAULT_NET[kind], "help": help_line(kind)}


def add_option(container, name: str, command: str) -> None:
    """One option of `command` as its schema declares it."""
    if name in ("net", "audio_net", "image_net"):
        container.add_argument(f"--{name.replace('_', '-')}", **_registry_flag(name, command))
        return
    o = BY_NAME[name]
    kw: dict = {"default": o.default_for(command), "help": o.help_for(command)}
    if name == "base":
        kw.update(_registry_flag(name, command))
    if o.type is bool or command in o.switch_in:
        kw["action"] = "store_true"
    else:
        kw.update(type=o.type, choices=list(o.choices) if o.choices else None, metavar=o.metavar)
    container.add_argument(o.flag, required=name in REQUIRED.get(command, ()), **kw)


def add_command(sub, command: str, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    examples = {"train": TRAIN_EXAMPLES, "datasets": None, "models": None, "serve": None}.get(command, EXAMPLES)
    p = sub.add_parser(command, help=COMMAND_HELP[command], parents=[common], epilog=examples,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, kw in POSITIONAL[command]:
        p.add_argument(name, **kw)
    if command in OUTPUT_HELP:
        p.add_argument("-o", "--output", required=True, help=OUTPUT_HELP[command])
    elif command == "train":
        p.add_argument("-o", "--output", help="explicit .keras path instead of --name")
    exclusive: dict = {}
    for title, names in COMMANDS[command].items():
        group = p.add_argument_group(title) if title else p
        for name in names:
            pair = next((pair for pair in EXCLUSIVE if name in pair), None)
            if pair and all(other in names for other in pair):
                if pair not in exclusive:
                    exclusive[pair] = group.add_mutually_exclusive_group()
                target = exclusive[pair]
            else:
                target = group
            add_option(target, name, command)
    p.set_defaults(func=RUNS[command])
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmdream", description="Audio-visual DeepDream: dream images, sounds and films.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show TensorFlow's own log lines and warnings (hidden by default)")
    common = argparse.ArgumentParser(add_help=False)  # -v after the command too
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        add_command(sub, command, common)
    return parser


def _fastest_for(net: str | None):
    """`--backend auto`'s timing of the command's net on each installed backend (see mmdream.pipelines.backends)."""
    if not isinstance(net, str):
        return None

    def fastest() -> str | None:
        from mmdream.pipelines.backends import fastest_backend

        return fastest_backend(net)

    return fastest


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None:  # the command itself (a library caller's descriptors are its own business)
        quiet_native_logs(args.verbose)
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mmdream.cli.checks import validate
    from mmdream.io_utils import error_line

    try:
        choose_backend(getattr(args, "backend", None) or os.environ.get("MMDREAM_BACKEND"),  # before Keras loads
                       fastest=_fastest_for(getattr(args, "net", None)))
        validate(args)  # every argument and output location, before any net or TensorFlow
        return args.func(args)
    except BrokenPipeError:  # the reader went away (`mmdream models | head`): stop as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 141
    except (UserError, OSError, RuntimeError) as e:  # bad input; a full disk or a folder made read-only
        if (line := error_line(e, args_output(args))) is None:
            raise
        print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mmdream: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

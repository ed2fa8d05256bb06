"""The `mmdream` command line. Heavy imports happen inside commands so `--help` is instant."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from mmdream.core.choose import choose_backend, chosen, own_process
from mmdream.errors import OptionError, UserError
from mmdream.nets.registry import DEFAULT_TRAIN_BASE, installable_names, spec
from mmdream.options import BY_NAME, COMMANDS, CONCERN_TITLES, DREAM_DEFAULTS, EXCLUSIVE, HIDDEN, KINDS, REQUIRED

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
  mmdream explain efficientnet_lite0 --class goldfish,tabby -o classes.png --examples photos/
  mmdream explain efficientnet_lite0 --layer block4c --count 16 -o channels.png
  mmdream explain MTT_vgg --class guitar,piano -o sounds/   # a WAV each and their spectrograms
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
    """The report as standard JSON: a figure that is not a finite number (the loudness of silence, -inf) is null,
    which every JSON reader takes (Python writes -Infinity, which JavaScript's JSON.parse and jq refuse)."""
    if not path:
        return
    from mmdream.core.backend import describe
    from mmdream.io_utils import atomic_output

    with atomic_output(Path(path)) as tmp:
        tmp.write_text(json.dumps(finite_json({**report, "backend": describe()}), indent=2, default=str,
                                  allow_nan=False))


def finite_json(value):
    """`value` with every float that is not finite (in dicts, lists and tuples, at any depth) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def progress_bar(total: int | None, desc: str, unit: str = "step"):
    """A tqdm bar with an ETA; bytes ("B") count in kB/MB/GB."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=None, dynamic_ncols=True, unit_scale=unit == "B")


# ---- commands ---------------------------------------------------------------------------------------------
def command_of(args: argparse.Namespace) -> str:
    """The schema's command a parsed command line runs (`style image` for `mmdream style image ...`)."""
    return f"{args.command} {args.kind}" if args.command in KINDS else args.command


def flag_of(args: argparse.Namespace, name: str) -> str:
    """The flag that sets an API option on this command line (`--no-flow` for flow, `--step-size` for step_size)."""
    for names in COMMANDS[command_of(args)].values():
        for option in (BY_NAME[n] for n in names):
            if option.api_name == name and option.front == "both":
                return option.flag
    return name


def given(args: argparse.Namespace) -> dict:
    """The options given on the command line, as the API's keywords: each flag the user set (left out, the spec
    takes the schema's default), switches as the option they set (`--no-flow`: flow=False), a model file's
    `--value-range` as part of its net's name."""
    command, out = command_of(args), {}
    for names in COMMANDS[command].values():
        for name in names:
            o = BY_NAME[name]
            value = getattr(args, name, None)
            if o.front != "both" or value is None or value is False:
                continue
            out[o.api_name] = value if not o.sets or o.sets[1] is None else o.sets[1]
    if getattr(args, "value_range", None):
        from mmdream.nets import is_model_file, with_range

        if not is_model_file(out.get("net", "")):
            raise UserError(f"--value-range is for a model file given as --net (mine.keras), not "
                            f"{out.get('net', 'the default net')}")
        out["net"] = with_range(out["net"], args.value_range)
    return out


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


def finished(args: argparse.Namespace, result) -> int:
    """A command's result: its warnings, its summary after the output's name, its report."""
    for warning in getattr(result, "warnings", ()):
        print(f"mmdream: warning: {warning}", file=sys.stderr)
    print(f"{result.output or args.output}: {result.summary()}")
    write_report(args.report, result.report())
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    from mmdream.api import dream_image

    with TqdmProgress() as progress:  # the objective is measured for a report (two forward passes)
        result = dream_image(args.input, args.output, progress=progress, measure=args.report is not None,
                             **given(args))
    return finished(args, result)


def cmd_audio(args: argparse.Namespace) -> int:
    from mmdream.api import dream_audio

    with TqdmProgress() as progress:
        result = dream_audio(args.input, args.output, progress=progress, **given(args))
    return finished(args, result)


def cmd_video(args: argparse.Namespace) -> int:
    from mmdream.api import dream_video

    with TqdmProgress("frame") as progress:  # sampled for a report; else first frames and cuts alone
        result = dream_video(args.input, args.output, progress=progress, measure_every=8 if args.report else 0,
                             **given(args))
    return finished(args, result)


def cmd_zoom(args: argparse.Namespace) -> int:
    from mmdream.api import zoom

    with TqdmProgress("frame") as progress:
        result = zoom(args.input, args.output, progress=progress, **given(args))
    return finished(args, result)


def cmd_live(args: argparse.Namespace) -> int:
    from mmdream.api import live

    return finished(args, live(args.input, args.output, **given(args)))


def cmd_style(args: argparse.Namespace) -> int:
    from mmdream import api

    style = {"image": api.style_image, "audio": api.style_audio, "video": api.style_video}[args.kind]
    options = given(args)
    with TqdmProgress("step" if args.kind != "video" else "frame") as progress:
        result = style(args.input, options.pop("style"), args.output, progress=progress, **options)
    return finished(args, result)


def cmd_explain(args: argparse.Namespace) -> int:
    from mmdream.api import explain

    options = given(args)
    with TqdmProgress() as progress:
        result = explain(options.pop("net"), args.output, progress=progress, **options)
    return finished(args, result)


def cmd_serve(args: argparse.Namespace) -> int:
    from mmdream.studio.server import serve

    serve(**given(args))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    words = args.words
    if args.links:
        from mmdream.senses.links import coverage

        vocabularies, (pictured, images) = coverage()
        for name, linked, total in vocabularies:
            print(f"{name:14s} {linked:4d} of {total:4d} classes linked to an image class ({linked / total:.0%})")
        print(f"{'ImageNet':14s} {pictured:4d} of {images:4d} classes linked to a sound class ({pictured / images:.0%})")
        return 0
    if words[:1] == ["setup"]:
        from mmdream.nets.setup import setup

        for line in setup():
            print(line)
        return 0
    if words[:1] == ["install"]:
        if len(words) != 3 or words[1] not in installable_names():
            raise UserError(f"usage: mmdream models install NET FILE (NET: {', '.join(installable_names())})")
        installed = spec(words[1]).module().install_weights(words[1], words[2])
        print(f"{words[1]}: {words[2]} verified and installed as {installed}")
        return 0
    if len(words) > 1:
        raise UserError("usage: mmdream models [NET] | models install NET FILE | models setup")
    return _list_models(words[0] if words else None)


def _list_models(name: str | None) -> int:
    from mmdream.nets import is_model_file, specs
    from mmdream.nets.cards import card_path, find_trained, list_trained, read_card
    from mmdream.nets.classes import class_names
    from mmdream.nets.net import record_layers
    from mmdream.results import TrainResult

    rows = specs()
    if name:
        rows = [s for s in rows if s.name == name]
        if not rows and is_model_file(name) and not card_path(name.split("#")[0]).exists():
            return _list_model_file(name)
        if not rows and (path := find_trained(name)) is not None:
            print(TrainResult(str(path), read_card(path)).described())
            return 0
        if not rows:
            raise UserError(f"unknown net {name!r}; run `mmdream models` for the list")
    for s in rows:
        print(f"{s.name:20s} {s.kind:6s} weights: {s.status()}\n    {s.description}")
        layers = record_layers(s, build=bool(name))
        print(f"    layers: {', '.join(layers) if layers else f'found in its graph (`mmdream models {s.name}`)'}")
        if name:
            classes = class_names(s.classes)
            print(f"    {len(classes)} classes: {(' | ' if any(',' in c for c in classes) else ', ').join(classes)}")
    for card in list_trained():
        print(TrainResult(card.pop("path"), card).listed())
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
    with TqdmProgress("epoch") as progress:
        result = train(args.data, args.output, progress=progress, **given(args))
    print(f"{result.output}: {result.summary()}")
    write_report(args.report, {"command": f"train {args.kind}", "model": result.output, **result.report()})
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from mmdream.specs import make_spec
    from mmdream.train import datasets

    spec = make_spec("datasets", given(args))  # the options' checks and their defaults (frames: 2 a second, 256 px)
    if args.action == "list":
        for r in datasets.list_recipes():
            print(f"{r['name']:22s} {r['kind']:6s} {r['size']}\n    {r['title']} ({r['license']})\n    {r['homepage']}")
        return 0
    if args.action == "frames":
        if not spec.out:
            raise UserError("frames needs --out DIR")
        from mmdream.io_utils import check_input_file

        for video in args.names:
            check_input_file(video)
        counts = datasets.video_frames(args.names, spec.out, fps=spec.fps, size=spec.size)
        print(", ".join(f"{k}: {v} frames" for k, v in counts.items()), f"in {spec.out}")
        return 0
    if len(args.names) != 1 or not spec.root:
        raise UserError("prepare needs one recipe name and --root DIR (see `mmdream datasets list`)")
    recipe = datasets.load_recipe(args.names[0])
    manifest = datasets.prepare(recipe, spec.root, spec.out, spec.download,
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
    "explain": "what a net has learned: a class, a channel or a layer as a picture or a sound (feature "
               "visualisation)",
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
    "explain": [("net", {"help": "the net to explain (see `mmdream models`)"})],
}
OUTPUT_HELP = {
    "image": None, "audio": ".wav, .flac, .mp3 or .ogg", "video": ".mp4, .mov or .mkv (H.264 + AAC)",
    "zoom": ".mp4, .mov or .mkv (H.264, + AAC with --audio)",
    "explain": "an image net: a .png grid; a sound net: a folder of WAVs and their spectrograms (sheet.png)",
    "live": "a file (.mp4, .mkv, .ts) or an MPEG-TS address for VLC/OBS (udp://127.0.0.1:1234)", "style": None,
}
RUNS = {"image": cmd_image, "audio": cmd_audio, "video": cmd_video, "zoom": cmd_zoom, "live": cmd_live,
        "style": cmd_style, "train": cmd_train, "datasets": cmd_datasets, "models": cmd_models, "serve": cmd_serve,
        "explain": cmd_explain}


def shown_default(o, command: str) -> str:
    """An option's default as --help shows it: the schema's (the registry's for a net), or for a dream setting left
    to the pipeline, the pipeline's; '' where its help says what leaving it out means."""
    from mmdream.specs import defaults_of

    if o.sets or o.type is bool or command in o.switch_in:
        return ""
    api = [c for c in (KINDS.get(command) or (command,)) if o.name in defaults_of(c)]
    value = defaults_of(api[0])[o.name] if api else o.default_for(command)
    if value is None and o.setting:
        shown = {"image": "a picture", "film": "a cold frame", "audio": "a sound"}
        kinds = {"image": ("image",), "audio": ("audio",), "video": ("film", "audio")}.get(command, ("film",))
        return "; ".join(f"{DREAM_DEFAULTS[k][o.name]:g} for {shown[k]}" for k in kinds if o.name in DREAM_DEFAULTS[k])
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_option(container, name: str, command: str) -> None:
    """One option of `command` as its schema declares it, its default shown; left out, the API's spec takes it."""
    o = BY_NAME[name]
    help_text = o.help_for(command)
    if help_text == HIDDEN:
        help_text = argparse.SUPPRESS  # argparse knows its own mark by identity
    elif default := shown_default(o, command):
        help_text = f"{help_text} (default {default})"
    kw: dict = {"help": help_text}
    if name == "base":
        kw["help"] = (f"the net to retrain (default {DEFAULT_TRAIN_BASE['image']} for pictures, "
                      f"{DEFAULT_TRAIN_BASE['audio']} for sounds; `mmdream models`)")
    if o.type is bool or command in o.switch_in:
        kw["action"] = "store_true"
    else:
        choices = "{" + ",".join(o.choices) + "}" if o.choices else None  # shown; the spec checks them
        kw.update(type=o.type, default=None, metavar=o.metavar or choices or METAVARS[o.type])
        if o.front == "cli" and o.choices:  # the command line's own: no spec sees it
            kw["choices"] = o.choices
    container.add_argument(o.flag, dest=o.name, required=name in REQUIRED.get(command, ()), **kw)


def cli_sections(command: str) -> dict[str, list[str]]:
    """A command line command's options by concern: a family's (`style`) are its members' together."""
    sections: dict[str, list[str]] = {}
    seen: set[str] = set()
    for member in KINDS.get(command, (command,)):
        for concern, names in COMMANDS[member].items():
            fresh = [n for n in names if n not in seen and BY_NAME[n].front != "api"]
            sections.setdefault(concern, []).extend(fresh)
            seen.update(fresh)
    return {concern: names for concern, names in sections.items() if names}


class CommandHelp(argparse.RawDescriptionHelpFormatter):
    """A command's --help: a short usage line, each option on a line of its own beside its help where the
    terminal allows (at least 100 columns are assumed), the command's own examples below."""

    def __init__(self, prog: str) -> None:
        import shutil

        super().__init__(prog, max_help_position=30, width=max(100, shutil.get_terminal_size().columns))

    def _format_usage(self, usage, actions, groups, prefix) -> str:
        positionals = " ".join(a.metavar or a.dest.upper() for a in actions if not a.option_strings)
        return f"usage: {self._prog} {positionals} [options]\n\n"


METAVARS = {int: "N", float: "X", str: "TEXT"}


def examples_of(command: str) -> str | None:
    """The examples of one command (`mmdream --help` shows them all)."""
    if command == "train":
        return TRAIN_EXAMPLES
    lines = [ln for ln in EXAMPLES.splitlines()[1:] if ln.split()[1:2] == [command]]
    return "examples:\n" + "\n".join(lines) if lines else None


def add_command(sub, command: str, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p = sub.add_parser(command, help=COMMAND_HELP[command], parents=[common], epilog=examples_of(command),
                       formatter_class=CommandHelp)
    for name, kw in POSITIONAL[command]:
        p.add_argument(name, **kw)
    if command in OUTPUT_HELP:
        p.add_argument("-o", "--output", required=True, help=OUTPUT_HELP[command])
    elif command == "train":
        p.add_argument("-o", "--output", help="explicit .keras path instead of --name")
    exclusive: dict = {}
    positional = {name for name, _ in POSITIONAL[command]}
    for concern, names in cli_sections(command).items():
        names = [n for n in names if n not in positional]
        if not names:
            continue
        group = p.add_argument_group(CONCERN_TITLES[concern])
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
    for command in COMMAND_HELP:
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
    if argv is None:  # the command itself (a library caller's descriptors and heap are its own business)
        quiet_native_logs(args.verbose)
        own_process()
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
        if isinstance(e, OptionError):  # named as their flags
            e = UserError(e.spelled(lambda name: flag_of(args, name)))
        if (line := error_line(e, args_output(args))) is None:
            raise
        print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mmdream: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The `mmdream` command line. Heavy imports happen inside commands so `--help` is instant."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mmdream.errors import UserError

EXAMPLES = """examples:
  mmdream image photo.jpg -o dream.jpg
  mmdream image photo.jpg -o dream.jpg --net inception_v3 --layers mixed3:1,mixed5:1.5 --octaves 5
  mmdream image photo.jpg -o dog.jpg --target "golden retriever" --steps 30
  mmdream image photo.jpg -o guided.jpg --guide flowers.jpg --report dream.json
  mmdream audio song.mp3 -o dream.wav --net MTT_vgg --layers conv3 --plot spec.png
  mmdream audio song.mp3 -o techno.wav --target techno --ouroboros 3
  mmdream audio noise --duration 5 -o noise_dream.wav
  mmdream models                    # every net, offline availability, dreamable layers
  mmdream models efficientnet_lite0 # one net's layers and classes
"""


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # oneDNN stays on; only the log noise goes


def add_dream_options(p: argparse.ArgumentParser) -> None:
    """Options every dream command shares (image, audio, video)."""
    g = p.add_argument_group("dream")
    g.add_argument("--layers", help="layer:weight list, e.g. mixed3:1,mixed5:1.5; a number in [0,1] is a depth")
    g.add_argument("--octaves", type=int, help="pyramid levels (default 4)")
    g.add_argument("--octave-scale", type=float, help="size ratio between octaves (default 1.4)")
    g.add_argument("--steps", type=int, help="gradient steps per octave (default 20)")
    g.add_argument("--step-size", type=float, help="step size after gradient normalisation")
    g.add_argument("--jitter", type=int, help="random roll jitter in pixels/frames (default 32)")
    g.add_argument("--smooth", type=float, help="Gaussian blur sigma applied to the gradient (default 0)")
    g.add_argument("--tile-size", type=int, help="gradient tile size for large inputs (default 512)")
    g.add_argument("--channels", help="restrict a layer to channels: layer:3,7,12")
    g.add_argument("--target", help="dream toward a class (name or index) instead of layers")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="fp32",
                   help="bf16 mixed precision is faster on CPUs with AVX-512 BF16 and on GPUs")
    g.add_argument("--weights", choices=["imagenet", "random"], default="imagenet", help=argparse.SUPPRESS)
    p.add_argument("--report", help="write settings and measured figures to this JSON file")


def _settings(args: argparse.Namespace, base):
    """DreamSettings from CLI flags on top of `base` defaults."""
    from dataclasses import replace

    names = {"octaves": "octaves", "octave_scale": "octave_scale", "steps": "steps", "step_size": "step_size",
             "jitter": "jitter", "smooth": "smooth", "tile_size": "tile_size"}
    changes = {field: getattr(args, flag) for flag, field in names.items() if getattr(args, flag, None) is not None}
    s = replace(base, seed=args.seed, **changes)
    if s.octaves < 1 or s.steps < 0 or s.octave_scale < 1.0 or s.tile_size < 32:
        raise UserError("octaves must be >= 1, steps >= 0, octave-scale >= 1 and tile-size >= 32")
    return s


def _channels(spec: str | None) -> dict[str, list[int]]:
    if not spec:
        return {}
    name, _, idx = spec.partition(":")
    try:
        return {name: [int(i) for i in idx.split(",") if i]}
    except ValueError:
        raise UserError(f"bad --channels {spec!r}; use layer:3,7,12") from None


def resolve_precision(precision: str) -> str:
    if precision != "auto":
        return precision
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "bf16"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "fp32"
    return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "fp32"


def build_dreamer(args: argparse.Namespace, net_name: str, channels: int | None = None, sr: int | None = None):
    from mmdream.engine import Dreamer, Objective, parse_layers
    from mmdream.nets import load_net

    net = load_net(net_name, weights=args.weights, precision=resolve_precision(args.precision), sr=sr)
    target = net.class_index(args.target) if args.target else None
    objective = Objective(parse_layers(args.layers, net), _channels(args.channels), target)
    for layer in objective.channels:
        if layer not in objective.layers:
            raise UserError(f"--channels names {layer!r}, which is not among the dreamed layers")
    return Dreamer(net, objective, channels=channels)


def write_report(path: str | None, report: dict) -> None:
    if not path:
        return
    from mmdream.io_utils import atomic_output

    with atomic_output(Path(path)) as tmp:
        tmp.write_text(json.dumps(report, indent=2, default=str))


def progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=None, dynamic_ncols=True)


# ---- commands ---------------------------------------------------------------------------------------------
def cmd_image(args: argparse.Namespace) -> int:
    from mmdream.engine import DreamSettings
    from mmdream.image import dream_image_file, read_image, working_size
    from mmdream.io_utils import check_not_same

    check_not_same(args.input, args.output)
    pic = read_image(args.input)  # fail on bad input before loading a net
    dreamer = build_dreamer(args, args.net)
    settings = _settings(args, DreamSettings())
    if args.guide:
        from mmdream.image import resize, to_dream_space

        guide = read_image(args.guide).rgb
        dreamer.set_guide(to_dream_space(resize(guide, working_size(guide.shape[:2], 384))))
    size = working_size(pic.rgb.shape[:2], args.max_size)
    with progress_bar(dreamer.total_steps(size, settings), "dreaming") as bar:
        figures = dream_image_file(args.input, args.output, dreamer, settings, args.max_size, progress=bar)
    print(f"{args.output}: objective {figures['objective_before']:.3g} -> {figures['objective_after']:.3g} "
          f"({figures['objective_gain']:.2f}x) in {figures['seconds']:.1f} s")
    write_report(args.report, {"command": "image", "net": args.net, "layers": dreamer.objective.layers,
                               "target": args.target, "guide": args.guide, "max_size": args.max_size,
                               "settings": settings.as_dict(), **figures})
    return 0


def cmd_audio(args: argparse.Namespace) -> int:
    from mmdream.audio import AUDIO_DEFAULTS, dream_audio_file, load_whole, open_source, plot_spectrograms, score_audio
    from mmdream.io_utils import check_not_same

    generated = args.input in ("noise", "sine")
    if not generated:
        check_not_same(args.input, args.output)
    duration = args.duration
    info, _ = open_source(args.input, duration)  # fails on bad input before a net is loaded
    dreamer = build_dreamer(args, args.net, sr=info.audio_rate)
    if dreamer.net.kind != "audio":
        raise UserError(f"{args.net} is an image net; audio needs one of MTT_vgg, MSD_vgg, MTT_musicnn, MSD_musicnn")
    settings = _settings(args, AUDIO_DEFAULTS)
    passes = []
    src = args.input
    out = Path(args.output)
    for i in range(args.ouroboros):
        dst = str(out) if i == args.ouroboros - 1 else str(out.with_name(f"{out.stem}.pass{i + 1}{out.suffix}"))
        seconds = duration or info.duration or 1.0
        frames = int(seconds * info.audio_rate / (256 * info.audio_rate / 16000)) + 1
        total = dreamer.total_steps((max(frames, 96), 96), settings) * max(1, int(seconds // 10) + 1)
        with progress_bar(total, f"dreaming pass {i + 1}/{args.ouroboros}") as bar:
            figures = dream_audio_file(src, dst, dreamer, settings, loudness=args.loudness,
                                       griffin_lim=args.griffin_lim, duration=duration, progress=bar)
        before, sr = load_whole(src, end=duration)
        after, _ = load_whole(dst)
        figures["objective_before"] = score_audio(dreamer, before, sr)
        figures["objective_after"] = score_audio(dreamer, after, sr)
        figures["objective_gain"] = figures["objective_after"] / max(figures["objective_before"], 1e-12)
        passes.append(figures)
        print(f"{dst}: objective {figures['objective_before']:.3g} -> {figures['objective_after']:.3g} "
              f"({figures['objective_gain']:.2f}x), {figures['output_loudness_lufs']:.1f} LUFS, "
              f"true peak {figures['true_peak_dbfs']:.1f} dBFS")
        src = dst
        if i == 0 and args.plot:
            plot_spectrograms(before, after, sr, args.plot)
    write_report(args.report, {"command": "audio", "net": args.net, "layers": dreamer.objective.layers,
                               "target": args.target, "settings": settings.as_dict(), **passes[-1],
                               "passes": passes})
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from mmdream.nets import specs

    rows = specs()
    if args.name:
        rows = [s for s in rows if s.name == args.name]
        if not rows:
            raise UserError(f"unknown net {args.name!r}; run `mmdream models` for the list")
    for s in rows:
        offline = "yes" if s.offline() else "no (downloads on first use)"
        print(f"{s.name:20s} {s.kind:6s} offline: {offline}\n    {s.description}")
        print(f"    layers: {', '.join(s.layers())}")
        if args.name and s.classes:
            print(f"    classes: {', '.join(s.classes())}")
    from mmdream.nets.trained import list_trained

    for card in list_trained():
        print(f"{card['path']:20s} {card['kind']:6s} offline: yes\n    trained on {len(card['classes'])} classes "
              f"from {card['base']} (val accuracy {card.get('metrics', {}).get('val_accuracy', 'n/a')})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmdream", description="Audio-visual DeepDream: dream images, sounds and films.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("image", help="dream a photo", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--net", default="efficientnet_lite0", help="image net (see `mmdream models`)")
    p.add_argument("--guide", help="dream toward this image's features")
    p.add_argument("--max-size", type=int, default=1024,
                   help="dream at most this many pixels on the long side; detail is upscaled onto the full photo "
                        "(0 = full size, default 1024)")
    add_dream_options(p)
    p.set_defaults(func=cmd_image)

    p = sub.add_parser("audio", help="dream a sound", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="any file ffmpeg decodes (the audio of a video too), or `noise` / `sine`")
    p.add_argument("-o", "--output", required=True, help=".wav, .flac, .mp3 or .ogg")
    p.add_argument("--net", default="MTT_vgg", help="audio net (see `mmdream models`)")
    p.add_argument("--duration", type=float, help="seconds of generated input, or of the file to dream")
    p.add_argument("--loudness", type=float, help="target integrated loudness in LUFS (default: the input's)")
    p.add_argument("--griffin-lim", type=int, default=0, help="Griffin-Lim iterations refining the phase")
    p.add_argument("--ouroboros", type=int, default=1, help="feed the output back N times, writing each pass")
    p.add_argument("--plot", help="write before/after spectrograms to this PNG")
    add_dream_options(p)
    p.set_defaults(func=cmd_audio)

    p = sub.add_parser("models", help="list nets, their offline availability and dreamable layers")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as e:
        print(f"mmdream: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mmdream: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The `mmdream` command line. Heavy imports happen inside commands so `--help` is instant."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from mmdream.errors import UserError
from mmdream.nets.registry import (
    DEFAULT_NET,
    DEFAULT_STYLE_NET,
    DEFAULT_TRAIN_BASE,
    help_line,
    keras_app_names,
    train_bases,
)

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
    g.add_argument("--strength", type=float, default=1.0, help="multiplies the step size (default 1)")
    g.add_argument("--schedule", help="TOML keyframes of octaves, layers and strength over time (see README)")
    g.add_argument("--target", help="dream toward a class (name or index) instead of layers")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="bf16 mixed precision; auto (default) takes it on a GPU, and on a CPU with AVX-512 BF16 or "
                        "AMX where a one-time matmul check finds it faster than fp32")
    g.add_argument("--weights", choices=["imagenet", "random"], default="imagenet", help=argparse.SUPPRESS)
    p.add_argument("--report", help="write settings and measured figures to this JSON file")


def add_net_options(p: argparse.ArgumentParser, kind: str, audio_net: bool = False,
                    default: str | None = None) -> None:
    """`--net` (and `--audio-net` for a film's soundtrack): the nets and their defaults come from the registry."""
    p.add_argument("--net", default=default or DEFAULT_NET[kind], help=help_line(kind))
    if audio_net:
        p.add_argument("--audio-net", default=DEFAULT_NET["audio"], help="soundtrack's " + help_line("audio"))


def write_report(path: str | None, report: dict) -> None:
    if not path:
        return
    from mmdream.io_utils import atomic_output

    with atomic_output(Path(path)) as tmp:
        tmp.write_text(json.dumps(report, indent=2, default=str))


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
DREAM_FLAGS = ("layers", "target", "channels", "schedule", "strength", "octaves", "octave_scale", "steps", "step_size",
               "jitter", "smooth", "tile_size", "seed", "precision", "weights")


def dream_options(args: argparse.Namespace) -> dict:
    """The dream options every dream command shares, as the API's keyword arguments."""
    return {name: getattr(args, name) for name in DREAM_FLAGS}


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
                             **dream_options(args))
    measured = f"{describe_objective(result.figures, args.target)} " if args.report else ""  # measured for a report
    print(f"{args.output}: {measured}dreamed in {result.figures['seconds']:.2f} s")
    write_report(args.report, result.report())
    return 0


def cmd_audio(args: argparse.Namespace) -> int:
    from mmdream.api import dream_audio

    with TqdmProgress() as progress:
        result = dream_audio(args.input, args.output, net=args.net, duration=args.duration, loudness=args.loudness,
                             griffin_lim=args.griffin_lim, ouroboros=args.ouroboros, progress=progress,
                             **dream_options(args))
    for figures in result.figures["passes"]:
        if "warning" in figures:
            print(f"mmdream: warning: {figures['warning']}", file=sys.stderr)
        print(f"{figures['output']}: {describe_objective(figures, args.target)}, "
              f"{figures['output_loudness_lufs']:.1f} LUFS, true peak {figures['true_peak_dbfs']:.1f} dBFS")
    if args.plot:  # the first 30 s of the input and of the first pass
        from mmdream.pipelines.audio import load_whole, plot_spectrograms

        before, sr = load_whole(args.input, end=min(30.0, args.duration or 30.0))
        plot_spectrograms(before, load_whole(result.figures["passes"][0]["output"], end=30.0)[0], sr, args.plot)
    write_report(args.report, result.report())
    return 0


FILM_FLAGS = ("max_size", "start", "end", "fps", "blend", "warm_steps", "warm_strength", "warm_octaves", "cut", "react",
              "griffin_lim", "preview", "keep_work")
IMAGE_STYLE_FLAGS = ("content_weight", "style_weight", "tv_weight", "temporal_weight", "style_steps", "learning_rate",
                     "scales", "content_layers", "style_layers")
AUDIO_STYLE_FLAGS = ("filters", "audio_style_steps", "style_griffin_lim")


def film_options(args: argparse.Namespace) -> dict:
    """The film's and the style pass's options, as the API's keyword arguments."""
    audio = "none" if args.no_audio else "keep" if args.keep_audio else "dream"
    return {**{k: getattr(args, k, None) for k in (*FILM_FLAGS, *IMAGE_STYLE_FLAGS, *AUDIO_STYLE_FLAGS)},
            "flow": not args.no_flow, "audio": audio}


def video_options(args: argparse.Namespace) -> dict:
    """`mmdream video`'s flags as mmdream.dream_video's keyword arguments."""
    return {"net": args.net, "audio_net": args.audio_net, "audio_layers": args.audio_layers, "style": args.style,
            "audio_style": args.audio_style, "style_when": args.style_when, "threads": args.threads, "ray": args.ray,
            "workers": args.workers, "max_segment": args.max_segment, "gpus_per_task": args.gpus_per_task,
            "measure_every": 8 if args.report else 0,  # sampled for the report; else first frames and cuts alone
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
                                     progress=progress, **{k: getattr(args, k) for k in IMAGE_STYLE_FLAGS})
        f = result.figures
        print(f"{args.output}: style loss {f['style_loss_start']:.3g} -> {f['style_loss_end']:.3g} "
              f"({f['style_loss_drop']:.1f}x lower), content loss {f['content_loss_end']:.3g}")
    elif args.kind == "audio":
        with TqdmProgress() as progress:
            result = api.style_audio(args.input, args.style, args.output, duration=args.duration,
                                     loudness=args.loudness, progress=progress,
                                     **{k: getattr(args, k) for k in AUDIO_STYLE_FLAGS})
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


def film_parent(max_size: int = 640, blend: float | None = None) -> argparse.ArgumentParser:
    """The options `video` and `style` share: the film's and the style pass's (a new parser each time: argparse
    shares a parent's actions with its children, defaults included)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("film")
    g.add_argument("--max-size", type=int, default=max_size, help=f"processing and output size of the long side "
                                                                   f"(default {max_size})")
    g.add_argument("--start", type=float, default=0.0, help="first second to dream")
    g.add_argument("--end", type=float, help="last second to dream (default: the end)")
    g.add_argument("--fps", type=float, help="dream and write at this frame rate (default: the input's)")
    g.add_argument("--blend", type=float, default=blend,
                   help="share of the previous frame carried along the optical flow (0..1, default "
                        f"{0.99 if blend is None else blend:g})")
    g.add_argument("--warm-steps", type=int, help="steps for a frame that continues the previous one (default: 1 "
                                                  "per octave when dreaming, a third of --style-steps when styling)")
    g.add_argument("--cut", type=float, default=40.0, help="frame difference (0..255) that counts as a scene cut")
    g.add_argument("--no-flow", action="store_true", help="every frame from scratch (no coherence)")
    g.add_argument("--react", type=float, default=0.0,
                   help="let the soundtrack's onsets modulate the visual strength (0..1)")
    sound = g.add_mutually_exclusive_group()
    sound.add_argument("--keep-audio", action="store_true", help="keep the original soundtrack")
    sound.add_argument("--no-audio", action="store_true", help="drop the soundtrack")
    g.add_argument("--griffin-lim", type=int, default=0, help="Griffin-Lim iterations for the soundtrack")
    g.add_argument("--preview", help="write a contact sheet of input and output frames to this PNG")
    g.add_argument("--keep-work", action="store_true", help="keep the work folder of finished frames")
    g.add_argument("--audio-style", help="a style pass on the soundtrack with this sound")
    add_style_options(p)
    return p


def add_style_options(p: argparse.ArgumentParser, image: bool = True, audio: bool = True) -> None:
    g = p.add_argument_group("style")
    if image:
        g.add_argument("--content-weight", type=float, default=1.0)
        g.add_argument("--style-weight", type=float, default=10.0)
        g.add_argument("--tv-weight", type=float, default=1e-3, help="total-variation weight")
        g.add_argument("--temporal-weight", type=float, default=1000.0,
                       help="film frames: pull toward the flow-warped previous result")
        g.add_argument("--style-steps", type=int, default=150, help="Adam steps per scale")
        g.add_argument("--learning-rate", type=float, default=0.02)
        g.add_argument("--scales", type=int, default=0, help="coarse-to-fine levels (0 = by size)")
        g.add_argument("--content-layers", help="comma-separated (default per net, e.g. block5_conv2)")
        g.add_argument("--style-layers", help="comma-separated (default per net, e.g. block1..5_conv1)")
    if audio:
        g.add_argument("--filters", type=int, default=4096, help="random 1-D conv filters (audio)")
        g.add_argument("--audio-style-steps", type=int, default=100, help="Adam steps per chunk (audio)")
        g.add_argument("--style-griffin-lim", type=int, default=32, help="Griffin-Lim iterations (audio)")


def cmd_serve(args: argparse.Namespace) -> int:
    from mmdream.studio.server import serve

    serve(args.host, args.port, args.share_folder)
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
    from mmdream.nets import specs
    from mmdream.nets.classes import class_names
    from mmdream.nets.trained import find_trained, list_trained, read_card

    rows = specs()
    if name:
        rows = [s for s in rows if s.name == name]
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
        print(f"    layers: {', '.join(s.layers)}")
        if name:
            print(f"    classes: {', '.join(class_names(s.classes))}")
    for card in list_trained():
        print(f"{card['path']:20s} {card['kind']:6s} weights: trained here\n    trained on {len(card['classes'])} "
              f"classes from {card['base']} (val accuracy {card.get('metrics', {}).get('val_accuracy', 'n/a')})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from mmdream import api

    train = api.train_image if args.kind == "image" else api.train_audio
    base = args.base or DEFAULT_TRAIN_BASE[args.kind]
    with TqdmProgress("epoch") as progress:
        card = train(args.data, args.output, base=base, name=args.name, progress=progress, weights=args.weights,
                     epochs=args.epochs, fine_tune_epochs=args.fine_tune, batch_size=args.batch_size,
                     learning_rate=args.learning_rate, val_fraction=args.val_fraction, patience=args.patience,
                     split=args.split, seed=args.seed, size=args.size, window=args.window)
    m, out = card["metrics"], card["path"]
    print(f"{out}: {len(card['classes'])} classes, validation accuracy {m['val_accuracy']:.3f} on "
          f"{m['val_examples']} held-out {'windows' if args.kind == 'audio' else 'images'} "
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
    _add_parser = sub.add_parser
    sub.add_parser = lambda *a, parents=(), **k: _add_parser(*a, parents=[common, *parents], **k)

    p = sub.add_parser("image", help="dream a photo", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    add_net_options(p, "image")
    p.add_argument("--guide", help="dream toward this image's features")
    p.add_argument("--max-size", type=int, default=1024,
                   help="dream at most this many pixels on the long side; detail is upscaled onto the full photo "
                        "(0 = full size, default 1024)")
    p.add_argument("--max-pixels", type=int, help="refuse pictures larger than this (default 100 million)")
    add_dream_options(p)
    p.set_defaults(func=cmd_image)

    p = sub.add_parser("audio", help="dream a sound", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="any file ffmpeg decodes (the audio of a video too), or `noise` / `sine`")
    p.add_argument("-o", "--output", required=True, help=".wav, .flac, .mp3 or .ogg")
    add_net_options(p, "audio")
    p.add_argument("--duration", type=float, help="seconds of generated input, or of the file to dream")
    p.add_argument("--loudness", type=float, help="target integrated loudness in LUFS (default: the input's)")
    p.add_argument("--griffin-lim", type=int, default=0, help="Griffin-Lim iterations refining the phase")
    p.add_argument("--ouroboros", type=int, default=1, help="feed the output back N times, writing each pass")
    p.add_argument("--plot", help="write before/after spectrograms to this PNG")
    add_dream_options(p)
    p.set_defaults(func=cmd_audio)

    p = sub.add_parser("video", help="dream a film: frames and soundtrack under one schedule", parents=[film_parent()],
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True, help=".mp4, .mov or .mkv (H.264 + AAC)")
    add_net_options(p, "image", audio_net=True)
    p.add_argument("--audio-layers", help="layers of the audio net (default: --layers if it is a depth, "
                                          "else the net's defaults)")
    p.add_argument("--warm-strength", type=float,
                   help="step size of a continuing frame's steps relative to --step-size (default 1.5)")
    p.add_argument("--warm-octaves", type=int, help="octaves of a continuing frame (default 1: full size)")
    p.add_argument("--style", help="a style pass on every frame with this image (see --style-when)")
    p.add_argument("--style-when", choices=["before", "after"], default="after",
                   help="style pass before or after dreaming (a schedule's `style` key overrides it per keyframe)")
    p.add_argument("--threads", type=int, help="TensorFlow threads of the render (of each task on a cluster); the "
                                               "same count gives the same film (default: all cores; on a cluster 1, "
                                               "with --workers the cores shared out)")
    g = p.add_argument_group("cluster (Ray: pip install 'mmdream[cluster]')")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--ray", metavar="ADDRESS", help="render on a running Ray cluster (`auto`: RAY_ADDRESS or "
                                                        "the local one, else a new one here)")
    where.add_argument("--workers", type=int, help="start a Ray cluster of this many workers on this machine")
    g.add_argument("--max-segment", type=int, default=300,
                   help="longest stretch (frames) a task renders where the film has no cut (default 300)")
    g.add_argument("--gpus-per-task", type=float, default=0.0, help="GPU share each task asks for (default 0)")
    add_dream_options(p)
    p.set_defaults(func=cmd_video)

    p = sub.add_parser("zoom", help="the endless zoom: a dream film grown from one picture (and a sound)",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="a picture")
    p.add_argument("-o", "--output", required=True, help=".mp4, .mov or .mkv (H.264, + AAC with --audio)")
    g = p.add_argument_group("zoom")
    g.add_argument("--seconds", type=float, default=20.0, help="length of the film (default 20)")
    g.add_argument("--fps", type=float, default=24.0, help="frame rate (default 24)")
    g.add_argument("--zoom", type=float, default=1.02, help="scale per frame about the centre (default 1.02; a "
                                                            "schedule's `zoom` key steers it over time)")
    g.add_argument("--rotate", type=float, default=0.0, help="degrees per frame (a schedule's `rotate` key too)")
    g.add_argument("--pan", default="0,0", metavar="DX,DY", help="camera pixels per frame (default 0,0)")
    g.add_argument("--max-size", type=int, default=540, help="long side of the film (default 540)")
    g.add_argument("--audio", metavar="FILE|noise|sine",
                   help="a sound dreamed under the same schedule, or noise/sine grown block by block like the picture")
    g.add_argument("--audio-ouroboros", action="store_true", help="grow the --audio file's opening block by block")
    g.add_argument("--loop", action="store_true", help="cross-fade the last second into the first (a seamless loop)")
    g.add_argument("--warm-steps", type=int, default=2, help="dream steps of each frame after the first (default 2)")
    g.add_argument("--warm-strength", type=float, default=1.0, help="their step size relative to --step-size")
    g.add_argument("--colour-pull", type=float, default=0.05,
                   help="share of the way to the picture's colour statistics each frame (default 0.05)")
    g.add_argument("--detail-decay", type=float, default=0.3,
                   help="share of the finest detail removed each frame (default 0.3): no drift into noise")
    g.add_argument("--preview", help="write a contact sheet of frames to this PNG")
    g.add_argument("--keep-work", action="store_true", help="keep the work folder of finished frames")
    add_net_options(p, "image", audio_net=True)
    p.add_argument("--audio-layers", help="layers of the audio net (default: --layers if it is a depth)")
    p.add_argument("--threads", type=int, help="TensorFlow threads (the same count gives the same film)")
    add_dream_options(p)
    p.set_defaults(func=cmd_zoom)

    p = sub.add_parser("live", help="dream a camera, a stream or a file in real time",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="a camera (/dev/video0), a stream ffmpeg opens (udp://, rtsp://, http://) or a file")
    p.add_argument("-o", "--output", required=True,
                   help="a file (.mp4, .mkv, .ts) or an MPEG-TS address for VLC/OBS (udp://127.0.0.1:1234)")
    g = p.add_argument_group("live")
    g.add_argument("--realtime", action="store_true", help="play a file at its own pace, as if it were live")
    g.add_argument("--seconds", type=float, help="stop after this many seconds of the source")
    g.add_argument("--max-size", type=int, default=320, help="long side of the dream (default 320)")
    g.add_argument("--deadline", type=float, default=0.15,
                   help="seconds a frame waits for its own dream before the last one, carried, is shown (0.15)")
    g.add_argument("--warm-steps", type=int,
                   help="steps of a frame that continues the last (default: as many as fit a frame interval)")
    g.add_argument("--warm-strength", type=float, help="their step size relative to --step-size (default 1.5)")
    g.add_argument("--blend", type=float, help="share of the last dream carried (default 0.99)")
    g.add_argument("--no-keys", action="store_true",
                   help="ignore the terminal's keys ([ ] depth, - + strength, , . warm steps, q stops)")
    g.add_argument("--audio", action="store_true",
                   help="dream the source's sound too, in 1 s chunks (about 1.5 s behind the pictures)")
    add_net_options(p, "image", audio_net=True)
    p.add_argument("--audio-layers", help="layers of the audio net (default: --layers if it is a depth)")
    p.add_argument("--threads", type=int, help="TensorFlow threads")
    add_dream_options(p)
    p.set_defaults(func=cmd_live)

    # a styled frame carries the whole previous one (blend 1), at 512 px by default
    p = sub.add_parser("style", help="style transfer: image, audio or video", parents=[film_parent(512, 1.0)])
    p.add_argument("kind", choices=["image", "audio", "video"])
    p.add_argument("input")
    p.add_argument("--style", required=True, help="the style image (image, video) or sound (audio)")
    p.add_argument("-o", "--output", required=True)
    add_net_options(p, "image", default=DEFAULT_STYLE_NET)
    p.add_argument("--max-pixels", type=int, help="image: refuse pictures larger than this (default 100 million)")
    p.add_argument("--duration", type=float, help="audio: seconds of the content to stylise")
    p.add_argument("--loudness", type=float, help="audio: target loudness in LUFS (default: the input's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    p.add_argument("--weights", choices=["imagenet", "random"], default="imagenet", help=argparse.SUPPRESS)
    p.add_argument("--report")
    p.set_defaults(func=cmd_style)

    p = sub.add_parser("train", help="retrain an image or audio net on your own class folders",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=TRAIN_EXAMPLES)
    p.add_argument("kind", choices=["image", "audio"])
    p.add_argument("data", help="a folder of class sub-folders (images, or sound files)")
    p.add_argument("--base", help="; ".join(f"{k}: {', '.join(train_bases(k))} (default {DEFAULT_TRAIN_BASE[k]})"
                                            for k in ("image", "audio")))
    p.add_argument("--name", help="model name: saves models/NAME.keras and models/NAME.json (default: the folder's)")
    p.add_argument("-o", "--output", help="explicit .keras path instead of --name")
    p.add_argument("--epochs", type=int, default=10, help="epochs training the new head (default 10)")
    p.add_argument("--fine-tune", type=int, default=0, help="then epochs fine-tuning the top blocks (default 0)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--val-fraction", type=float, default=0.2, help="held out per class (default 0.2)")
    p.add_argument("--split", choices=["random", "tail"], default="random",
                   help="hold out random files, or the last ones by name (frames of a film: the film's end)")
    p.add_argument("--patience", type=int, default=3, help="early stopping after this many epochs without gain")
    p.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    p.add_argument("--window", type=float, default=1.0, help="audio window in seconds (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", choices=["imagenet", "random"], default="imagenet", help=argparse.SUPPRESS)
    p.add_argument("--report", help="write the model card and training figures to this JSON file")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("datasets", help="public data sets: list, prepare (fetch, verify, sort), frames of films")
    p.add_argument("action", choices=["list", "prepare", "frames"])
    p.add_argument("names", nargs="*", help="prepare: a recipe name; frames: video files (one class each)")
    p.add_argument("--root", help="prepare: where the downloads are (or go, with --download)")
    p.add_argument("--out", help="sorted class folders (prepare default: ROOT/sorted)")
    p.add_argument("--download", action="store_true", help="prepare: download missing files (needs the internet)")
    p.add_argument("--fps", type=float, default=2.0, help="frames: frames per second to keep (default 2)")
    p.add_argument("--size", type=int, default=256, help="frames: long side in pixels (default 256)")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("models", help="list nets, where their weights stand and their dreamable layers; "
                                      "`models install NET FILE` adds ImageNet weights you have; `models setup` "
                                      "adds the musicnn nets")
    p.add_argument("words", nargs="*", metavar="NET | install NET FILE | setup")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("serve", help="the studio: a local web page for pictures, sounds, films, schedules, style")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                                                      "only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--share-folder", metavar="DIR", help="a server folder the page may pick inputs from; "
                                                         "dreams are saved in DIR/dreams (default: a temporary folder)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None:  # the command itself (a library caller's descriptors are its own business)
        quiet_native_logs(args.verbose)
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mmdream.cli.checks import validate
    from mmdream.io_utils import error_line

    try:
        validate(args)  # every argument and output location, before any net or TensorFlow
        return args.func(args)
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

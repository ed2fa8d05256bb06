"""Every option of every command, declared once: its type, default, range, help and the commands that take it.

The command line's flags, the range checks (mmdream.checks.RANGES), the TOML keys and the studio's defaults are
read from here; the API's keyword defaults are held to it by a test (tests/test_options.py). The name is the API's
keyword and the TOML key; the flag is `--name-with-dashes`. An option may differ per command (the film's size is
not the photo's): `per` gives that command's default and help.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HIDDEN = "==SUPPRESS=="  # the help of an option for tests and tools, left out of --help (argparse's own mark)


@dataclass(frozen=True)
class Option:
    name: str
    type: type  # int, float, str, or bool (a switch)
    default: Any
    help: str | None
    range: tuple[float | None, float | None, bool] | None = None  # (lowest, highest, lowest excluded)
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    per: Mapping[str, tuple[Any, str | None]] = field(default_factory=dict)  # command: (default, help)
    switch_in: tuple[str, ...] = ()  # commands where it is a switch (True when given) whatever its type elsewhere
    reads: bool = False  # its value is a file the command reads (a rerun's key holds its time; a cluster carries it)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def default_for(self, command: str) -> Any:
        return self.per[command][0] if command in self.per else self.default

    def help_for(self, command: str) -> str | None:
        return self.per[command][1] if command in self.per else self.help


OPTIONS: tuple[Option, ...] = (
    Option("guide", str, None, "dream toward this image's features", reads=True),
    Option(
        "max_size",
        int,
        1024,
        "dream at most this many pixels on the long side; detail is upscaled onto the full photo (0 = full size, default 1024)",
        per={
            "video": (640, "processing and output size of the long side (default 640)"),
            "zoom": (540, "long side of the film (default 540)"),
            "live": (320, "long side of the dream (default 320)"),
            "style": (512, "processing and output size of the long side (default 512)"),
        },
    ),
    Option(
        "max_pixels",
        int,
        None,
        "refuse pictures larger than this (default 100 million)",
        range=(1, None, False),
        per={"style": (None, "image: refuse pictures larger than this (default 100 million)")},
    ),
    Option(
        "report",
        str,
        None,
        "write settings and measured figures to this JSON file",
        per={"train": (None, "write the model card and training figures to this JSON file")},
    ),
    Option("layers", str, None, "layer:weight list, e.g. mixed3:1,mixed5:1.5; a number in [0,1] is a depth"),
    Option("octaves", int, None, "pyramid levels (default 4)", range=(1, 12, False), per={"live": (2, "pyramid levels (default 2)")}),
    Option("octave_scale", float, None, "size ratio between octaves (default 1.4)", range=(1.0, 4.0, False)),
    Option(
        "steps",
        int,
        None,
        "gradient steps per octave (default 20)",
        range=(0, 10000, False),
        per={"live": (4, "gradient steps per octave of a cold dream (default 4)")},
    ),
    Option("step_size", float, None, "step size after gradient normalisation", range=(0.0, 1.0, True)),
    Option("jitter", int, None, "random roll jitter in pixels/frames (default 32)", range=(0, 1024, False)),
    Option("smooth", float, None, "Gaussian blur sigma applied to the gradient (default 0)", range=(0.0, 50.0, False)),
    Option("tile_size", int, None, "gradient tile size for large inputs (default 512; 2048 on a GPU: a 1080p frame in one call)", range=(32, 8192, False)),
    Option("channels", str, None, "restrict a layer to channels: layer:3,7,12"),
    Option("strength", float, 1.0, "multiplies the step size (default 1)", range=(0.0, 100.0, False)),
    Option("schedule", str, None, "TOML keyframes of octaves, layers and strength over time (see README)",
           reads=True),
    Option("target", str, None, "dream toward a class (name or index) instead of layers"),
    Option(
        "follow",
        str,
        None,
        "cross-modal: the picture dreams what the soundtrack holds (sound), the sound what the picture shows (picture), or both",
        choices=("sound", "picture", "both"),
    ),
    Option(
        "follow_weight",
        float,
        4.0,
        "how hard a dream follows the other sense at full confidence, against its layers (default 4: a sound net is rarely a third sure; a schedule's follow_weight key too)",
        range=(0.0, 100.0, False),
    ),
    Option("sound", str, None, "dream the picture toward what this sound holds (heard by --audio-net)", reads=True),
    Option("picture", str, None, "dream the sound toward what this picture shows (seen by --image-net)", reads=True),
    Option("links", str, None, "a TOML table of sound classes and the image classes they mean, added to mmdream's",
           reads=True),
    Option(
        "seed",
        int,
        0,
        "random seed (default 0)",
        range=(0, 4294967295, False),
    ),
    Option(
        "precision",
        str,
        "auto",
        "bf16 mixed precision; auto (default) takes it on a GPU, and on a CPU with AVX-512 BF16 or AMX where a one-time matmul check finds it faster than fp32",
        choices=("auto", "fp32", "bf16"),
    ),
    Option(
        "backend",
        str,
        None,
        "Keras backend: auto takes JAX (else PyTorch) where a GPU is seen, else TensorFlow (else what is installed); "
        "default: $MMDREAM_BACKEND, else Keras' own ($KERAS_BACKEND, else tensorflow)",
        choices=("auto", "tensorflow", "jax", "torch"),
    ),
    Option("weights", str, "imagenet", HIDDEN, choices=("imagenet", "random")),
    Option("value_range", str, None, "LO,HI: the values a --net model file takes, where it does not rescale its "
           "input itself (0,1, -1,1 or 0,255)", metavar="LO,HI"),
    Option(
        "duration",
        float,
        None,
        "seconds of generated input, or of the file to dream",
        range=(0.0, 86400.0, True),
        per={"style": (None, "audio: seconds of the content to stylise")},
    ),
    Option(
        "loudness",
        float,
        None,
        "target integrated loudness in LUFS (default: the input's)",
        range=(-70.0, 0.0, False),
        per={"style": (None, "audio: target loudness in LUFS (default: the input's)")},
    ),
    Option(
        "griffin_lim",
        int,
        0,
        "Griffin-Lim iterations for the soundtrack",
        range=(0, 1000, False),
        per={"audio": (0, "Griffin-Lim iterations refining the phase")},
    ),
    Option("ouroboros", int, 1, "feed the output back N times, writing each pass", range=(1, 100, False)),
    Option("plot", str, None, "write before/after spectrograms to this PNG"),
    Option("keep_audio", bool, False, "keep the original soundtrack"),
    Option("no_audio", bool, False, "drop the soundtrack"),
    Option(
        "audio_layers",
        str,
        None,
        "layers of the audio net (default: --layers if it is a depth)",
        per={"video": (None, "layers of the audio net (default: --layers if it is a depth, else the net's defaults)")},
    ),
    Option(
        "warm_strength",
        float,
        None,
        "step size of a continuing frame's steps relative to --step-size (default 1.5)",
        range=(0.0, 100.0, True),
        per={
            "zoom": (1.0, "their step size relative to --step-size"),
            "live": (None, "their step size relative to --step-size (default 1.5)"),
        },
    ),
    Option("warm_octaves", int, None, "octaves of a continuing frame (default 1: full size)", range=(1, 12, False)),
    Option(
        "style",
        str,
        None,
        "a style pass on every frame with this image (see --style-when)",
        per={"style": (None, "the style image (image, video) or sound (audio)")},
        reads=True,
    ),
    Option(
        "style_when",
        str,
        "after",
        "style pass before or after dreaming (a schedule's `style` key overrides it per keyframe)",
        choices=("before", "after"),
    ),
    Option(
        "threads",
        int,
        None,
        "TensorFlow threads of the render (of each task on a cluster); the same count gives the same film (default: all cores; on a cluster 1, with --workers the cores shared out)",
        range=(1, 256, False),
        per={
            "zoom": (None, "TensorFlow threads (the same count gives the same film)"),
            "live": (None, "TensorFlow threads"),
        },
    ),
    Option("start", float, 0.0, "first second to dream", range=(0.0, None, False)),
    Option("end", float, None, "last second to dream (default: the end)"),
    Option(
        "fps",
        float,
        None,
        "dream and write at this frame rate (default: the input's)",
        range=(0.0, 240.0, True),
        per={
            "zoom": (24.0, "frame rate (default 24)"),
            "datasets": (2.0, "frames: frames per second to keep (default 2)"),
        },
    ),
    Option(
        "blend",
        float,
        None,
        "share of the previous frame carried along the optical flow (0..1, default 0.99)",
        range=(0.0, 1.0, False),
        per={
            "live": (None, "share of the last dream carried (default 0.99)"),
            "style": (1.0, "share of the previous frame carried along the optical flow (0..1, default 1)"),
        },
    ),
    Option(
        "warm_steps",
        int,
        None,
        "steps for a frame that continues the previous one (default: 1 per octave when dreaming, a third of --style-steps when styling)",
        range=(0, 1000, False),
        per={
            "zoom": (2, "dream steps of each frame after the first (default 2)"),
            "live": (None, "steps of a frame that continues the last (default: as many as fit a frame interval)"),
        },
    ),
    Option("cut", float, 40.0, "frame difference (0..255) that counts as a scene cut", range=(0.0, 255.0, False)),
    Option("no_flow", bool, False, "every frame from scratch (no coherence)"),
    Option(
        "react", float, 0.0, "let the soundtrack's onsets modulate the visual strength (0..1)", range=(0.0, 10.0, False)
    ),
    Option(
        "preview",
        str,
        None,
        "write a contact sheet of input and output frames to this PNG",
        per={"zoom": (None, "write a contact sheet of frames to this PNG")},
    ),
    Option("keep_work", bool, False, "keep the work folder of finished frames"),
    Option("audio_style", str, None, "a style pass on the soundtrack with this sound", reads=True),
    Option("content_weight", float, 1.0, "weight of the content loss (default 1)", range=(0.0, None, False)),
    Option("style_weight", float, 10.0, "weight of the style loss (default 10)", range=(0.0, None, False)),
    Option("tv_weight", float, 0.001, "total-variation weight", range=(0.0, None, False)),
    Option(
        "temporal_weight",
        float,
        1000.0,
        "film frames: pull toward the flow-warped previous result",
        range=(0.0, None, False),
    ),
    Option("style_steps", int, 150, "Adam steps per scale", range=(1, 10000, False)),
    Option(
        "learning_rate",
        float,
        0.02,
        "Adam's step size (default 0.02)",
        range=(0.0, 10.0, True),
        per={"train": (0.001, "Adam's step size (default 0.001)")},
    ),
    Option("scales", int, 0, "coarse-to-fine levels (0 = by size)", range=(0, 10, False)),
    Option("content_layers", str, None, "comma-separated (default per net, e.g. block5_conv2)"),
    Option("style_layers", str, None, "comma-separated (default per net, e.g. block1..5_conv1)"),
    Option("filters", int, 4096, "random 1-D conv filters (audio)", range=(1, 65536, False)),
    Option("audio_style_steps", int, 100, "Adam steps per chunk (audio)", range=(1, 10000, False)),
    Option("style_griffin_lim", int, 32, "Griffin-Lim iterations (audio)", range=(0, 1000, False)),
    Option(
        "ray",
        str,
        None,
        "render on a running Ray cluster (`auto`: RAY_ADDRESS or the local one, else a new one here)",
        metavar="ADDRESS",
        per={"serve": (None, "offer the Film tab's \"render on the cluster\": this Ray cluster (`auto`: RAY_ADDRESS "
                             "or the local one)")},
    ),
    Option("workers", int, None, "start a Ray cluster of this many workers on this machine", range=(1, 1024, False)),
    Option(
        "max_segment",
        int,
        300,
        "longest stretch (frames) a task renders where the film has no cut (default 300)",
        range=(8, 10000000, False),
    ),
    Option("gpus_per_task", float, 0.0, "GPU share each task asks for (default 0)", range=(0.0, 64.0, False)),
    Option("task_resources", str, None, "custom Ray resources each task asks for, NAME=AMOUNT[,NAME=AMOUNT]: the "
           "tasks run only on nodes started with them (`ray start --resources`)", metavar="NAME=N"),
    Option(
        "seconds",
        float,
        20.0,
        "length of the film (default 20)",
        range=(0.0, 86400.0, True),
        per={"live": (None, "stop after this many seconds of the source")},
    ),
    Option(
        "zoom",
        float,
        1.02,
        "scale per frame about the centre (default 1.02; a schedule's `zoom` key steers it over time)",
        range=(0.8, 1.25, False),
    ),
    Option("rotate", float, 0.0, "degrees per frame (a schedule's `rotate` key too)", range=(-45.0, 45.0, False)),
    Option("pan", str, "0,0", "camera pixels per frame (default 0,0)", metavar="DX,DY"),
    Option(
        "audio",
        str,
        None,
        "a sound dreamed under the same schedule, or noise/sine grown block by block like the picture",
        metavar="FILE|noise|sine",
        per={"live": (False, "dream the source's sound too, in 1 s chunks (about 1.5 s behind the pictures)")},
        switch_in=("live",),
    ),
    Option("audio_ouroboros", bool, False, "grow the --audio file's opening block by block"),
    Option("loop", bool, False, "cross-fade the last second into the first (a seamless loop)"),
    Option(
        "colour_pull",
        float,
        0.05,
        "share of the way to the picture's colour statistics each frame (default 0.05)",
        range=(0.0, 1.0, False),
    ),
    Option(
        "detail_decay",
        float,
        0.3,
        "share of the finest detail removed each frame (default 0.3): no drift into noise",
        range=(0.0, 1.0, False),
    ),
    Option("realtime", bool, False, "play a file at its own pace, as if it were live"),
    Option(
        "deadline", float, 0.15, "seconds a frame waits for its own dream before the last one, carried, is shown (0.15)"
    ),
    Option("no_keys", bool, False, "ignore the terminal's keys ([ ] depth, - + strength, , . warm steps, q stops)"),
    Option("base", str, None, "the net to retrain (the CLI lists them from the net registry)"),
    Option("name", str, None, "model name: saves models/NAME.keras and models/NAME.json (default: the folder's)"),
    Option("epochs", int, 10, "epochs training the new head (default 10)", range=(1, 10000, False)),
    Option("fine_tune", int, 0, "then epochs fine-tuning the top blocks (default 0)", range=(0, 10000, False)),
    Option("batch_size", int, 16, "examples per training step (default 16)", range=(1, 4096, False)),
    Option("val_fraction", float, 0.2, "held out per class (default 0.2)", range=(0.0, 0.9, True)),
    Option(
        "split",
        str,
        "random",
        "hold out random files, or the last ones by name (frames of a film: the film's end)",
        choices=("random", "tail"),
    ),
    Option("patience", int, 3, "early stopping after this many epochs without gain", range=(1, 10000, False)),
    Option(
        "size",
        int,
        224,
        "image side in pixels (default 224)",
        range=(1, 4096, False),
        per={"datasets": (256, "frames: long side in pixels (default 256)")},
    ),
    Option("window", float, 1.0, "audio window in seconds (default 1)", range=(0.0, 600.0, True)),
    Option("root", str, None, "prepare: where the downloads are (or go, with --download)"),
    Option("out", str, None, "sorted class folders (prepare default: ROOT/sorted)"),
    Option("download", bool, False, "prepare: download missing files (needs the internet)"),
    Option(
        "host",
        str,
        "127.0.0.1",
        "address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)",
    ),
    Option("port", int, 7860, "port (default 7860)"),
    Option(
        "share_folder",
        str,
        None,
        "a server folder the page may pick inputs from; dreams are saved in DIR/dreams (default: a temporary folder)",
        metavar="DIR",
    ),
    Option(
        "auth",
        str,
        None,
        "ask for a login: USER:PASSWORD, or a file of such lines (needed with a --host other than this machine)",
        metavar="USER:PASSWORD|FILE",
    ),
    Option("no_auth", bool, False, "open the page to the network without a login (on purpose)"),
    Option("max_upload", int, 500, "largest upload in MB (default 500)", range=(1, 1_000_000, False)),
    Option("max_queue", int, 40, "dreams that may wait in line; the next is refused (default 40)",
           range=(1, 100_000, False)),
)
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}

# The options each command takes, by section of its --help ("": the command's own), in the order shown. `net`,
# `audio_net` and `image_net` come from the net registry (mmdream.nets.registry).
DREAM = ["layers", "octaves", "octave_scale", "steps", "step_size", "jitter", "smooth", "tile_size", "channels",
         "strength", "schedule", "target", "seed", "precision", "weights"]
FILM = ["max_size", "start", "end", "fps", "blend", "warm_steps", "cut", "no_flow", "react", "keep_audio", "no_audio",
        "griffin_lim", "preview", "keep_work", "audio_style"]
IMAGE_STYLE = ["content_weight", "style_weight", "tv_weight", "temporal_weight", "style_steps", "learning_rate",
               "scales", "content_layers", "style_layers"]
AUDIO_STYLE = ["filters", "audio_style_steps", "style_griffin_lim"]
STYLE = IMAGE_STYLE + AUDIO_STYLE
CLUSTER = "cluster (Ray: pip install 'mmdream[cluster]')"
SENSES = "cross-modal"
COMMANDS: dict[str, dict[str, list[str]]] = {
    "image": {"": ["net", "value_range", "guide", "max_size", "max_pixels", "backend", "report"], "dream": DREAM,
              SENSES: ["sound", "audio_net", "follow_weight", "links"]},
    "audio": {"": ["net", "duration", "loudness", "griffin_lim", "ouroboros", "plot", "backend", "report"], "dream": DREAM,
              SENSES: ["picture", "image_net", "follow_weight", "links"]},
    "video": {"": ["net", "value_range", "audio_net", "audio_layers", "warm_strength", "warm_octaves", "style", "style_when",
                   "threads", "backend", "report"],
              "film": FILM, "style": STYLE, CLUSTER: ["ray", "workers", "max_segment", "gpus_per_task", "task_resources"], "dream": DREAM,
              SENSES: ["follow", "follow_weight", "links"]},
    "zoom": {"": ["net", "value_range", "audio_net", "audio_layers", "threads", "backend", "report"],
             "zoom": ["seconds", "fps", "zoom", "rotate", "pan", "max_size", "audio", "audio_ouroboros", "loop",
                      "warm_steps", "warm_strength", "colour_pull", "detail_decay", "preview", "keep_work"],
             "dream": DREAM},
    "live": {"": ["net", "value_range", "audio_net", "audio_layers", "threads", "backend", "report"],
             "live": ["realtime", "seconds", "max_size", "deadline", "warm_steps", "warm_strength", "blend", "no_keys",
                      "audio"],
             "dream": DREAM},
    "style": {"": ["style", "net", "value_range", "max_pixels", "duration", "loudness", "seed", "precision", "weights",
                   "backend", "report"],
              "film": FILM, "style": STYLE},
    "train": {"": ["base", "name", "epochs", "fine_tune", "batch_size", "learning_rate", "val_fraction", "split",
                   "patience", "size", "window", "seed", "weights", "backend", "report"]},
    "datasets": {"": ["root", "out", "download", "fps", "size"]},
    "models": {},
    "serve": {"": ["host", "port", "share_folder", "auth", "no_auth", "max_upload", "max_queue"],
              CLUSTER: ["ray", "task_resources"]},
}
# Switches one choice of several: at most one of them on a command line.
EXCLUSIVE = (("keep_audio", "no_audio"), ("ray", "workers"), ("auth", "no_auth"))
# Given on the command line always (the API takes them as arguments).
REQUIRED = {"style": ["style"]}
RANGES = {o.name: o.range for o in OPTIONS if o.range}
READ_FILES = tuple(o.name for o in OPTIONS if o.reads)
# What an unset dream option means in each pipeline: the picture's recipe (the core's DreamSettings), a film's cold
# frame (the classic 4 octaves ×1.4, 10 steps), and the sound's (one octave: the time axis is jittered and tiled).
DREAM_DEFAULTS: dict[str, dict[str, Any]] = {
    "image": {"octaves": 4, "octave_scale": 1.4, "steps": 20, "step_size": 0.02, "jitter": 32, "tile_size": 512,
              "smooth": 0.0},
    "film": {"octaves": 4, "octave_scale": 1.4, "steps": 10},
    "audio": {"octaves": 1, "octave_scale": 1.4, "steps": 6, "step_size": 0.16, "jitter": 16, "tile_size": 1024},
}


def commands_taking(name: str) -> list[str]:
    return [c for c, sections in COMMANDS.items() if any(name in names for names in sections.values())]

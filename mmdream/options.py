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
    per: Mapping[str, tuple] = field(default_factory=dict)  # command: (default, help[, range])
    switch_in: tuple[str, ...] = ()  # commands where it is a switch (True when given) whatever its type elsewhere
    reads: bool = False  # its value is a file the command reads (a rerun's key holds its time; a cluster carries it)
    # The front ends that take it: "both", "cli" (a process's own: --report, --backend), "api" (no flag: a spelling
    # the command line gives as switches, or a caller's own, such as a progress measure's rate).
    front: str = "both"
    sets: tuple[str, Any] | None = None  # a command line switch that sets another option (--no-flow: flow=False)
    setting: bool = False  # one of the engine's dream settings (mmdream.core.engine.DreamSettings)
    slider: tuple[float, float, float] | None = None  # the studio's slider: lowest, highest, step (within `range`)
    spelled: str | None = None  # its flag's word where the API's name cannot be it (`class`, `from`: Python's own)

    @property
    def flag(self) -> str:
        return "--" + (self.spelled or self.name).replace("_", "-")

    def _per(self, command: str) -> tuple | None:
        """Its own for `command`, or for the family it is one of (`style image` takes `style`'s)."""
        return self.per.get(command) or self.per.get(command.split(" ")[0])

    def default_for(self, command: str) -> Any:
        return own[0] if (own := self._per(command)) else self.default

    def help_for(self, command: str) -> str | None:
        return own[1] if (own := self._per(command)) else self.help

    def range_for(self, command: str) -> tuple[float | None, float | None, bool] | None:
        own = self._per(command)
        return own[2] if own is not None and len(own) > 2 else self.range

    @property
    def api_name(self) -> str:
        """The API's keyword it sets (a switch's target, else its own name)."""
        return self.sets[0] if self.sets else self.name


OPTIONS: tuple[Option, ...] = (
    # The nets: their defaults and the names they take are the net registry's (mmdream.nets.registry; see
    # mmdream.specs), so the help points there rather than listing them.
    Option("net", str, None, "the net that dreams (see `mmdream models`)", metavar="NET",
           per={"audio": (None, "the sound net that dreams (see `mmdream models`)")}),
    Option("audio_net", str, None, "the sound net (see `mmdream models`)", metavar="NET"),
    Option("image_net", str, None, "the picture net that sees it (see `mmdream models`)", metavar="NET"),
    Option("guide", str, None, "dream toward this image's features", reads=True),
    Option(
        "max_size",
        int,
        1024,
        "dream at most this many pixels on the long side; detail is upscaled onto the photo, written at its own size "
        "up to 16x the dream's (0 = full size)",
        range=(0, 16_384, False),
        per={
            "video": (640, "processing and output size of the long side", (16, 8192, False)),
            "zoom": (540, "long side of the film", (16, 8192, False)),
            "live": (320, "long side of the dream", (16, 8192, False)),
            "style": (512, "processing and output size of the long side", (16, 8192, False)),
            "explain": (224, "side of each picture in pixels (a sound net: unused)", (32, 2048, False)),
        },
        slider=(64, 2048, 32),
    ),
    Option(
        "max_pixels",
        int,
        100_000_000,
        "refuse pictures larger than this (a decoded 100 MP photo is 300 MB of RGB)",
        range=(1, None, False),
        per={"style": (100_000_000, "image: refuse pictures larger than this")},
    ),
    Option(
        "report",
        str,
        None,
        "write settings and measured figures to this JSON file",
        per={"train": (None, "write the model card and training figures to this JSON file")}, front="cli"),
    Option("layers", str, None, "layer:weight list, e.g. mixed3:1,mixed5:1.5; a number in [0,1] is a depth"),
    Option("octaves", int, None, "pyramid levels", range=(1, 12, False), per={"live": (2, "pyramid levels")}, setting=True, slider=(1, 8, 1)),
    Option("octave_scale", float, None, "size ratio between octaves", range=(1.0, 4.0, False), setting=True),
    Option(
        "steps",
        int,
        None,
        "gradient steps per octave",
        range=(0, 10000, False),
        per={"live": (4, "gradient steps per octave of a cold dream"),
             "explain": (256, "optimisation steps", (1, 100000, False))}, setting=True, slider=(1, 100, 1)),
    Option("step_size", float, None, "step size after gradient normalisation", range=(0.0, 1.0, True), setting=True),
    Option("jitter", int, None, "random roll jitter in pixels/frames", range=(0, 1024, False), setting=True),
    Option("smooth", float, None, "Gaussian blur sigma applied to the gradient", range=(0.0, 50.0, False), setting=True),
    Option("tile_size", int, None, "gradient tile size for large inputs (2048 on a GPU)", range=(32, 8192, False), setting=True),
    Option("channels", str, None, "restrict a layer to channels: layer:3,7,12"),
    Option("strength", float, 1.0, "multiplies the step size", range=(0.0, 100.0, False), slider=(0.1, 4.0, 0.1)),
    Option("schedule", str, None, "TOML keyframes of octaves, layers and strength over time (see README)",
           reads=True),
    Option("target", str, None, "dream toward a class (name or index) instead of layers"),
    Option(
        "follow",
        str,
        None,
        "the picture dreams what the sound holds (sound), the sound what the picture shows (picture), or both",
        choices=("sound", "picture", "both"),
    ),
    Option(
        "follow_weight",
        float,
        4.0,
        "how hard a dream follows the other sense at full confidence, against its layers (a schedule key too)",
        range=(0.0, 100.0, False),
    ),
    Option(
        "follow_threshold",
        float,
        0.1,
        "the confidence (0..1, above its own level) a heard or seen class needs to be followed (a schedule key too)",
        range=(0.0, 1.0, False),
    ),
    Option("ear", str, "auto", "the sound net that hears (auto: yamnet where installed, else a named --audio-net, else "
           "MTT_musicnn)", metavar="NET"),
    Option("sound", str, None, "dream the picture toward what this sound holds (heard by --ear)", reads=True),
    Option("picture", str, None, "dream the sound toward what this picture shows (seen by --image-net)", reads=True),
    Option("links", str, None, "a TOML table of sound classes and the image classes they mean, added to mmdream's",
           reads=True, per={"models": (False, "how much of each vocabulary the table of links covers, and of "
                                               "ImageNet's classes")}, switch_in=("models",)),
    Option(
        "seed",
        int,
        0,
        "random seed",
        range=(0, 4294967295, False)),
    Option(
        "precision",
        str,
        "auto",
        "bf16 mixed precision; auto: on a GPU, and on a CPU with AVX-512 BF16 or AMX where a one-time check finds it faster",
        choices=("auto", "fp32", "bf16"),
    ),
    Option(
        "backend",
        str,
        None,
        "Keras backend; auto: JAX (else PyTorch) on a GPU, else TensorFlow (default: $MMDREAM_BACKEND, else Keras')",
        choices=("auto", "tensorflow", "jax", "torch"), front="cli"),
    Option("weights", str, "imagenet", HIDDEN, choices=("imagenet", "random")),
    Option("value_range", str, None, "the values a --net model file takes where it does not rescale them (0,1, -1,1 "
           "or 0,255)", metavar="LO,HI", front="cli"),
    Option(
        "duration",
        float,
        None,
        "seconds of generated input, or of the file to dream",
        range=(0.0, 86400.0, True),
        per={"style": (None, "audio: seconds of the content to stylise"),
             "explain": (3.0, "seconds of each sound (a sound net)", (2.0, 60.0, False))},
    ),
    Option(
        "loudness",
        float,
        None,
        "target integrated loudness in LUFS (default: the input's)",
        range=(-70.0, 0.0, False),
        per={"style": (None, "audio: target loudness in LUFS (default: the input's)"),
             "explain": (-20.0, "loudness of each sound in LUFS (a sound net)")},
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
    Option("keep_audio", bool, False, "keep the original soundtrack", sets=("soundtrack", "keep")),
    Option("no_audio", bool, False, "drop the soundtrack", sets=("soundtrack", "none")),
    Option(
        "audio_layers",
        str,
        None,
        "layers of the audio net (default: --layers if it is a depth)",
        per={"video": (None, "layers of the audio net (default: --layers if a depth, else the net's)")},
    ),
    Option(
        "warm_strength",
        float,
        1.5,
        "step size of a continuing frame's steps relative to --step-size",
        range=(0.0, 100.0, True),
        per={
            "zoom": (1.0, "their step size relative to --step-size"),
            "live": (1.5, "their step size relative to --step-size"),
        },
    ),
    Option("warm_octaves", int, 1, "octaves of a continuing frame (1: full size)", range=(1, 12, False)),
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
        "style pass before or after dreaming (a schedule's `style` key too)",
        choices=("before", "after"),
    ),
    Option(
        "threads",
        int,
        None,
        "TensorFlow threads (of each task on a cluster): the same count, the same film (default: all cores)",
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
            "zoom": (24.0, "frame rate"),
            "datasets": (2.0, "frames: frames per second to keep"),
        },
    ),
    Option(
        "blend",
        float,
        0.99,
        "share of the previous dream carried along the optical flow",
        range=(0.0, 1.0, False),
        per={
            "live": (0.99, "share of the last dream carried"),
            "style": (1.0, "share of the previous frame carried along the optical flow (0..1)"),
        },
    ),
    Option(
        "warm_steps",
        int,
        None,
        "steps of a frame that continues the previous one (default: 1 per octave; styling, a third of --style-steps)",
        range=(0, 1000, False),
        per={
            "zoom": (2, "dream steps of each frame after the first"),
            "live": (None, "steps of a frame that continues the last (default: as many as fit a frame interval)"),
        },
    ),
    Option("fade_in", float, 0.0, "seconds over which the picture's dream rises from the plain film to full "
           "strength", range=(0.0, 86400.0, False)),
    Option("cut", float, 40.0, "frame difference (0..255) that counts as a scene cut", range=(0.0, 255.0, False)),
    Option("no_flow", bool, False, "every frame from scratch (no coherence)", sets=("flow", False)),
    Option("flow", bool, True, "carry each dream to the next frame along the optical flow", front="api"),
    Option("soundtrack", str, "dream", "the soundtrack dreamed, kept as it is, or dropped", front="api",
           choices=("dream", "keep", "none")),
    Option("measure_every", int, 8, "the objective gain is measured on cold frames and every n-th frame (0: cold "
           "frames alone; the command line measures with --report only)", front="api", range=(0, 1_000_000, False)),
    Option("measure", bool, True, "measure the objective before and after (a forward pass each)", front="api"),
    Option(
        "react", float, 0.0, "how much the soundtrack's onsets modulate the visual strength (0..1)", range=(0.0, 10.0, False), slider=(0.0, 1.0, 0.05)),
    Option(
        "preview",
        str,
        None,
        "write a contact sheet of input and output frames to this PNG",
        per={"zoom": (None, "write a contact sheet of frames to this PNG")},
    ),
    Option("keep_work", bool, False, "keep the work folder of finished frames"),
    Option("audio_style", str, None, "a style pass on the soundtrack with this sound", reads=True),
    Option("content_weight", float, 1.0, "weight of the content loss", range=(0.0, None, False)),
    Option("style_weight", float, 10.0, "weight of the style loss", range=(0.0, None, False)),
    Option("tv_weight", float, 0.001, "total-variation weight", range=(0.0, None, False)),
    Option(
        "temporal_weight",
        float,
        1000.0,
        "film frames: pull toward the flow-warped previous result",
        range=(0.0, None, False),
    ),
    Option("style_steps", int, 150, "Adam steps per scale", range=(1, 10000, False), slider=(10, 500, 10)),
    Option(
        "learning_rate",
        float,
        0.02,
        "Adam's step size",
        range=(0.0, 10.0, True),
        per={"train": (0.001, "Adam's step size"), "explain": (0.05, "Adam's step size")},
    ),
    Option("scales", int, 0, "coarse-to-fine levels (0 = by size)", range=(0, 10, False)),
    Option("content_layers", str, None, "comma-separated (default per net, e.g. block5_conv2)"),
    Option("style_layers", str, None, "comma-separated (default per net, e.g. block1..5_conv1)"),
    Option("filters", int, 4096, "random 1-D conv filters (audio)", range=(1, 65536, False)),
    Option("audio_style_steps", int, 100, "Adam steps per chunk (audio)", range=(1, 10000, False),
           slider=(10, 300, 10)),
    Option("style_griffin_lim", int, 32, "Griffin-Lim iterations (audio)", range=(0, 1000, False)),
    Option(
        "ray",
        str,
        None,
        "render on a Ray cluster (auto: RAY_ADDRESS or the local one, else a new one here)",
        metavar="ADDRESS",
        per={"serve": (None, "offer the Film tab's \"render on the cluster\": this Ray cluster (`auto`: RAY_ADDRESS "
                             "or the local one)")},
    ),
    Option("workers", int, None, "start a Ray cluster of this many workers on this machine", range=(1, 1024, False)),
    Option(
        "max_segment",
        int,
        300,
        "longest stretch (frames) a task renders where the film has no cut",
        range=(8, 10000000, False),
    ),
    Option("gpus_per_task", float, 0.0, "GPU share each task asks for", range=(0.0, 64.0, False)),
    Option("task_resources", str, None, "custom Ray resources each task asks for, NAME=AMOUNT[,...] (nodes started "
           "with them: `ray start --resources`)", metavar="NAME=N"),
    Option(
        "seconds",
        float,
        20.0,
        "length of the film",
        range=(0.0, 86400.0, True),
        per={"live": (None, "stop after this many seconds of the source")},
    ),
    Option(
        "zoom",
        float,
        1.02,
        "scale per frame about the centre (a schedule's `zoom` key steers it over time)",
        range=(0.8, 1.25, False),
    ),
    Option("rotate", float, 0.0, "degrees per frame (a schedule's `rotate` key too)", range=(-45.0, 45.0, False)),
    Option("pan", str, "0,0", "camera pixels per frame", metavar="DX,DY"),
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
        "share of the way to the picture's colour statistics each frame",
        range=(0.0, 1.0, False),
    ),
    Option(
        "detail_decay",
        float,
        0.3,
        "share of the finest detail removed each frame: no drift into noise",
        range=(0.0, 1.0, False),
    ),
    Option("realtime", bool, False, "play a file at its own pace, as if it were live"),
    Option(
        "deadline", float, 0.15, "seconds a frame waits for its own dream before the last one, carried, is shown",
        range=(0.0, 10.0, True),
    ),
    Option("keys", bool, True, "the terminal's keys steer the dream", front="api"),
    Option("no_keys", bool, False, "ignore the terminal's keys ([ ] depth, - + strength, , . warm steps, q stops)",
           sets=("keys", False)),
    # `mmdream explain`: what a net has learned, as feature visualisation (Olah et al., Distill 2017).
    Option("classes", str, None, "classes to picture or sound, NAME[,NAME...] (names or numbers; see `mmdream "
           "models NET`)", metavar="NAME[,NAME]", spelled="class"),
    Option("channel", str, None, "channels of a layer, LAYER:N[,N...]", metavar="LAYER:N[,N]"),
    Option("layer", str, None, "a grid of one layer's channels: the first --count, or with --examples the --count "
           "most active on them", metavar="LAYER"),
    Option("count", int, 8, "channels of --layer; examples shown beside each objective with --examples (3 each)",
           range=(1, 512, False)),
    Option("diversity", int, 1, "different visualisations of each objective (lucid's diversity term)",
           range=(1, 16, False)),
    Option("param", str, "fourier", "how a picture is parameterised: decorrelated colour in a frequency-scaled "
           "Fourier basis, or plain pixels (to compare)", choices=("fourier", "pixel")),
    Option("robust", bool, True, "jitter, scale and rotate a picture (shift, gain and stretch a sound) every step",
           front="api"),
    Option("no_robust", bool, False, "optimise without transformation robustness (to compare)",
           sets=("robust", False)),
    Option("examples", str, None, "a folder of pictures or sounds: the top examples of each objective beside it",
           metavar="FOLDER", reads=True),
    Option("start_from", str, None, "start from this picture or sound instead of noise", metavar="FILE",
           reads=True, spelled="from"),
    Option("base", str, None, "the net to retrain (the CLI lists them from the net registry)"),
    Option("name", str, None, "model name: saves models/NAME.keras and models/NAME.json (default: the folder's)"),
    Option("epochs", int, 10, "epochs training the new head", range=(1, 10000, False)),
    Option("fine_tune", int, 0, "then epochs fine-tuning the top blocks", range=(0, 10000, False),
           sets=("fine_tune_epochs", None)),
    Option("fine_tune_epochs", int, 0, "epochs fine-tuning the top blocks after the head", range=(0, 10000, False),
           front="api"),
    Option("batch_size", int, 16, "examples per training step", range=(1, 4096, False)),
    Option("val_fraction", float, 0.2, "held out per class", range=(0.0, 0.9, True)),
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
        "image side in pixels",
        range=(1, 4096, False),
        per={"datasets": (256, "frames: long side in pixels")},
    ),
    Option("window", float, 1.0, "audio window in seconds", range=(0.0, 600.0, True)),
    Option("root", str, None, "prepare: where the downloads are (or go, with --download)"),
    Option("out", str, None, "sorted class folders (prepare default: ROOT/sorted)"),
    Option("download", bool, False, "prepare: download missing files (needs the internet)"),
    Option(
        "host",
        str,
        "127.0.0.1",
        "address to listen on (127.0.0.1: this machine only; 0.0.0.0 opens it to the network)",
    ),
    Option("port", int, 7860, "port", range=(1, 65535, False)),
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
        "ask for a login: USER:PASSWORD, or a file of such lines (needed with a --host other than this machine; "
        "or set MMDREAM_STUDIO_AUTH, which keeps a password out of the process list)",
        metavar="USER:PASSWORD|FILE",
    ),
    Option("allowed_hosts", str, None, "names besides this machine's own that requests may be addressed to "
           "(a reverse proxy's), comma-separated", metavar="NAME[,NAME]"),
    Option("no_auth", bool, False, "open the page to the network without a login (on purpose)"),
    Option("max_upload", int, 500, "largest upload in MB", range=(1, 1_000_000, False)),
    Option("max_queue", int, 40, "dreams that may wait in line; the next is refused",
           range=(1, 100_000, False)),
    Option("max_live", int, 1, "live camera streams at once (the Live tab); the next visitor is told live is busy",
           range=(1, 1000, False)),
    Option("live_minutes", float, 10.0, "a live stream ends after this many minutes", range=(0.0, 24 * 60.0, True)),
    Option("examples_folder", str, None, "a server folder whose pictures, sounds and films each tab offers as "
           "one-click examples, beside the built-in picture and sound", metavar="DIR"),
)
BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}

# The options each command takes, by concern: its --help's groups, its spec's parts (mmdream.specs), in the order
# shown. `net`, `audio_net` and `image_net` come from the net registry (mmdream.nets.registry). `style` on the
# command line is one command whose positional kind picks `style image`, `style audio` or `style video`.
DREAM = ["layers", "octaves", "octave_scale", "steps", "step_size", "jitter", "smooth", "tile_size", "channels",
         "strength", "schedule", "target", "seed", "precision", "weights"]
FILM = ["max_size", "start", "end", "fps", "blend", "warm_steps", "warm_strength", "warm_octaves", "cut", "no_flow",
        "flow", "react", "measure_every"]
SOUNDTRACK = ["keep_audio", "no_audio", "soundtrack", "griffin_lim"]
IMAGE_STYLE = ["content_weight", "style_weight", "tv_weight", "temporal_weight", "style_steps", "learning_rate",
               "scales", "content_layers", "style_layers"]
AUDIO_STYLE = ["filters", "audio_style_steps", "style_griffin_lim"]
STYLE = IMAGE_STYLE + AUDIO_STYLE
CLUSTER = ["ray", "workers", "max_segment", "gpus_per_task", "task_resources"]
SENSES = "senses"
CONCERN_TITLES = {"picture": "picture", "sound": "sound", "film": "film", "dream": "dream", "style": "style",
                  SENSES: "senses (cross-modal)", "cluster": "cluster (Ray: pip install 'mmdream[cluster]')",
                  "zoom": "zoom", "live": "live", "train": "training", "data": "data sets", "studio": "studio",
                  "models": "models", "net": "net", "output": "output", "process": "process",
                  "explain": "what to explain", "optimise": "optimisation"}
COMMANDS: dict[str, dict[str, list[str]]] = {
    "image": {"picture": ["net", "value_range", "guide", "max_size", "max_pixels", "measure"], "dream": DREAM,
              SENSES: ["sound", "ear", "audio_net", "follow_weight", "follow_threshold", "links"],
              "output": ["report"], "process": ["backend"]},
    "audio": {"sound": ["net", "duration", "loudness", "griffin_lim", "ouroboros"], "dream": DREAM,
              SENSES: ["picture", "image_net", "follow_weight", "follow_threshold", "links"],
              "output": ["plot", "report"], "process": ["backend"]},
    "video": {"film": ["net", "value_range", *FILM, "fade_in"], "sound": ["audio_net", "audio_layers", *SOUNDTRACK],
              "dream": DREAM, "style": ["style", "audio_style", "style_when", *STYLE],
              SENSES: ["follow", "ear", "follow_weight", "follow_threshold", "links"], "cluster": CLUSTER,
              "output": ["preview", "keep_work", "report"], "process": ["threads", "backend"]},
    "zoom": {"zoom": ["net", "value_range", "seconds", "fps", "zoom", "rotate", "pan", "max_size", "loop",
                      "warm_steps", "warm_strength", "colour_pull", "detail_decay"],
             "sound": ["audio", "audio_ouroboros", "audio_net", "audio_layers"], "dream": DREAM,
             "output": ["preview", "keep_work", "report"], "process": ["threads", "backend"]},
    "live": {"live": ["net", "value_range", "realtime", "seconds", "max_size", "deadline", "warm_steps",
                      "warm_strength", "blend", "no_keys", "keys"],
             "sound": ["audio", "audio_net", "audio_layers"], "dream": DREAM, "output": ["report"],
             "process": ["threads", "backend"]},
    "style image": {"style": ["style", "net", "value_range", "max_size", "max_pixels", *IMAGE_STYLE],
                    "dream": ["precision", "weights"], "output": ["report"], "process": ["backend"]},
    "style audio": {"style": ["style", "duration", "loudness", *AUDIO_STYLE], "output": ["report"],
                    "process": ["backend"]},
    "style video": {"style": ["style", "net", "value_range", "audio_style", *STYLE], "film": FILM,
                    "sound": SOUNDTRACK, "dream": ["seed", "precision", "weights"],
                    "output": ["preview", "keep_work", "report"], "process": ["backend"]},
    "train": {"net": ["base", "name", "weights"],
              "train": ["epochs", "fine_tune", "fine_tune_epochs", "batch_size", "learning_rate", "val_fraction",
                        "split", "patience", "size", "window", "seed"],
              "output": ["report"], "process": ["backend"]},
    "datasets": {"data": ["root", "out", "download", "fps", "size"]},
    "explain": {"explain": ["net", "classes", "channel", "layer", "count", "diversity", "start_from", "examples"],
                "optimise": ["max_size", "duration", "loudness", "steps", "learning_rate", "param", "robust",
                             "no_robust", "seed", "precision", "weights"],
                "output": ["report"], "process": ["backend"]},
    "models": {"models": ["links"]},
    "serve": {"studio": ["host", "port", "share_folder", "auth", "no_auth", "allowed_hosts", "max_upload", "max_queue",
                        "max_live", "live_minutes", "examples_folder"],
              "cluster": ["ray", "task_resources"]},
}
# The command line's commands that are several of COMMANDS, picked by their first positional argument.
KINDS = {"style": ("style image", "style audio", "style video")}
# Switches one choice of several: at most one of them on a command line.
EXCLUSIVE = (("keep_audio", "no_audio"), ("ray", "workers"), ("auth", "no_auth"))
# Given on the command line always (the API takes them as arguments).
REQUIRED = {"style": ["style"], **{command: ["style"] for command in KINDS["style"]}}
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


def concern_of(command: str, name: str) -> str:
    """The concern an option of `command` belongs to (its --help group)."""
    return next(concern for concern, names in COMMANDS[command].items() if name in names)

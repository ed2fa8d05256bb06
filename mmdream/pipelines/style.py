"""Style transfer: Gram-matrix style losses optimised with Adam, for pictures, sounds and film frames.

Image: Gatys, Ecker & Bethge (2016), starting from the content image, coarse to fine. Style statistics are Gram
matrices of chosen layers (VGG19 block1..5_conv1 by default, content block5_conv2, as in the Keras example;
neural-style uses relu4_2 and relu1_1..relu5_1 with TV 1e-3). Each layer's loss is divided by its target's
magnitude, so the weights mean the same on every net (EfficientNet-Lite0 works offline).
Sound: Ulyanov & Lebedev (2016): the log-magnitude STFT (n_fft 2048) through one wide, shallow random 1-D
convolution (4096 filters of width 11) and a Gram-matrix style loss; phase from the content sound, refined by
Griffin-Lim.
Film frames: each frame starts from the flow-warped previous stylised frame and adds a temporal loss on the
non-occluded pixels (Ruder, Dosovitskiy & Brox 2016).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import keras
import numpy as np
from keras import ops

from mmdream.core import backend
from mmdream.errors import UserError
from mmdream.modality import IMAGE
from mmdream.nets import Net
from mmdream.nets.graph import layer_output
from mmdream.nets.net import require_kind
from mmdream.nets.registry import known, spec
from mmdream.options import AUDIO_STYLE, BY_NAME, IMAGE_STYLE


@dataclass
class StyleSettings:
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 1e-3
    temporal_weight: float = 0.0  # film frames: pull toward the warped previous result where it is visible
    steps: int = 150  # per scale
    learning_rate: float = 0.02
    scales: int = 0  # coarse-to-fine levels; 0 = one per doubling of the long side above 256 px
    content_layers: list[str] = field(default_factory=list)
    style_layers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def gram(features):
    """(B, ..., C) -> (B, C, C) averaged over positions."""
    shape = ops.shape(features)
    flat = ops.reshape(features, (shape[0], -1, shape[-1]))
    return ops.einsum("bnc,bnd->bcd", flat, flat) / ops.cast(ops.shape(flat)[1], "float32")


def gram_distance(features, style_g):
    """mean((gram(features) - style_g)^2) / mean(style_g^2), without forming the Gram matrix: at audio style's 4096
    filters it is 64 MB, and the loss and its gradient passed over it several times a step. For the features F
    (T positions by C filters, fewer positions than filters in a chunk) and the style's symmetric Gram S,
    ||F^T F / T - S||^2 = ||F F^T||^2 / T^2 - 2 <F S, F> / T + ||S||^2, with F F^T only T x T; the gradient of
    <F S, F> is 2 F S, taken from the one product F S rather than from a second one."""
    positions = ops.cast(ops.shape(features)[1], "float32")
    batch = ops.cast(ops.shape(features)[0], "float32")
    entries = ops.cast(ops.shape(style_g)[-1], "float32") ** 2
    frames = ops.einsum("btc,bsc->bts", features, features)
    product = ops.stop_gradient(ops.matmul(features, style_g))
    cross = 2.0 * ops.sum(product * features) - ops.sum(product * ops.stop_gradient(features))  # value <F S, F>
    style_sq = ops.sum(ops.square(style_g))
    squared = ops.sum(ops.square(frames)) / (positions * positions) - 2.0 * cross / positions + batch * style_sq
    return (squared / (batch * entries)) / (style_sq / entries + 1e-9)


class Adam:
    """Adam on an input array, compiled once per shape: the optimiser for every style problem here. `state`: the
    Keras variables the loss reads (a net's weights), which JAX takes as arguments."""

    def __init__(self, loss_fn: Callable[..., tuple], lr: float, bounds: tuple[float, float] | None,
                 state: list) -> None:
        self.loss_fn, self.lr, self.bounds = loss_fn, lr, bounds

        def step(x, m, v, t, *args):
            _, g = backend.value_and_grad(lambda y: self.loss_fn(y, *args)[0], x)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * ops.square(g)
            mh, vh = m / (1 - 0.9**t), v / (1 - 0.999**t)
            x = x - self.lr * mh / (ops.sqrt(vh) + 1e-8)
            if self.bounds is not None:
                x = ops.clip(x, *self.bounds)
            return x, m, v

        self._step = backend.compiled(step, None, state)

    def run(self, x, steps: int, *args, on_step: Callable[[], None] | None = None):
        m, v = ops.zeros_like(x), ops.zeros_like(x)
        for t in range(1, steps + 1):
            x, m, v = self._step(x, m, v, backend.tensor(float(t)), *args)
            if on_step:
                on_step()
        return x


# ---- images --------------------------------------------------------------------------------------------------
class ImageStyle:
    """Gatys-style transfer on one image net. Build once; `transfer` any content/style pair (or film frames)."""

    def __init__(self, net: Net, settings: StyleSettings) -> None:
        record = spec(net.name) if known(net.name) else None
        content, style = ([list(layers) for layers in record.style_layers] if record and record.style_layers else
                          ([net.layer_at_depth(0.6)], [net.layer_at_depth(d) for d in (0.0, 0.25, 0.5, 0.75)]))
        self.content_layers = settings.content_layers or content
        self.style_layers = settings.style_layers or style
        for name in self.content_layers + self.style_layers:
            if name not in net.layers:
                raise UserError(f"net {net.name} has no layer {name!r}; choose from {', '.join(net.layers)}")
        self.net, self.settings = net, settings
        names = self.content_layers + self.style_layers
        self.features = keras.Model(net.model.input, [layer_output(net.model, n) for n in names])
        self._adam = Adam(self._loss, settings.learning_rate, (-1.0, 1.0), self.features.variables)
        self._cached_grams: tuple = (None, None)

    def _split(self, x) -> tuple[list, list]:
        outs = self.features(x, training=False)
        outs = [ops.cast(o, "float32") for o in (outs if isinstance(outs, (list, tuple)) else [outs])]
        k = len(self.content_layers)
        return outs[:k], outs[k:]

    def content_targets(self, content: np.ndarray) -> list:
        with backend.inference():
            return self._split(backend.tensor(content[None]))[0]

    def style_grams(self, style: np.ndarray) -> list:
        with backend.inference():
            return [gram(f) for f in self._split(backend.tensor(style[None]))[1]]

    def _style_grams_at(self, style: np.ndarray, long_side: int) -> list:
        """The style image's Grams at the content's scale. Film frames reuse one style image: the last is kept."""
        from mmdream.media.picture import resize

        key = (id(style), long_side)
        if self._cached_grams[0] != key:
            self._cached_grams = (key, self.style_grams(resize(style, _fit(style.shape[:2], long_side))))
        return self._cached_grams[1]

    def _loss(self, x, content_t, style_t, prev, mask, weights):
        c, s = self._split(x)
        content = sum(ops.mean(ops.square(a - b)) / (ops.mean(ops.square(b)) + 1e-6) for a, b in zip(c, content_t))
        style = sum(ops.mean(ops.square(gram(a) - g)) / (ops.mean(ops.square(g)) + 1e-6)
                    for a, g in zip(s, style_t)) / len(style_t)
        tv = ops.mean(ops.square(x[:, 1:] - x[:, :-1])) + ops.mean(ops.square(x[:, :, 1:] - x[:, :, :-1]))
        temporal = ops.sum(mask * ops.square(x - prev)) / (ops.sum(mask) * 3.0 + 1e-6)
        total = weights[0] * content + weights[1] * style + weights[2] * tv + weights[3] * temporal
        return total, {"content": content, "style": style, "tv": tv, "temporal": temporal}

    def losses(self, x: np.ndarray, content: np.ndarray, style: np.ndarray) -> dict[str, float]:
        """Content and style loss of `x` (dream space) against a content and a style image (unweighted)."""
        ct, st = self.content_targets(content), self.style_grams(style)
        z = ops.zeros_like(backend.tensor(x[None]))
        with backend.inference():
            _, parts = self._loss(backend.tensor(x[None]), ct, st, z, z[..., :1], ops.ones(4))
        return {k: float(v) for k, v in parts.items() if k in ("content", "style")}

    def transfer(self, content: np.ndarray, style: np.ndarray, init: np.ndarray | None = None,
                 prev: np.ndarray | None = None, mask: np.ndarray | None = None,
                 on_step: Callable[[], None] | None = None, steps: int | None = None) -> np.ndarray:
        """Stylise `content` (H, W, 3 dream space). `init` starts the optimisation elsewhere (a warped previous
        frame); `prev` and `mask` (H, W) add the temporal loss toward `prev` where mask is 1."""
        from mmdream.media.picture import resize

        s = self.settings
        h, w = content.shape[:2]
        levels = self._levels((h, w))
        if init is not None or prev is not None:
            levels = 1  # a continuing film frame is already close: full size only
        x = coarse = None
        weights = backend.tensor([s.content_weight, s.style_weight, s.tv_weight, s.temporal_weight])
        for level in range(levels - 1, -1, -1):
            size = (max(16, round(h / 2**level)), max(16, round(w / 2**level)))
            c = resize(content, size)
            start = (init if init is not None else c) if x is None else c + resize(x - coarse, size)
            ct, gt = self.content_targets(c), self._style_grams_at(style, max(size))
            p = backend.tensor((prev if prev is not None else c)[None])
            mk = backend.tensor((mask if mask is not None else np.zeros(size, np.float32))[None, ..., None])
            x = backend.array(self._adam.run(backend.tensor(start[None]), steps or s.steps, ct, gt, p, mk, weights,
                                             on_step=on_step)[0])
            coarse = c
        return x

    def _levels(self, shape: tuple[int, int]) -> int:
        """Coarse-to-fine levels: as set, or one per doubling of the long side above 256 px."""
        return self.settings.scales or max(1, int(np.floor(np.log2(max(shape) / 256))) + 1)

    def total_steps(self, shape: tuple[int, int]) -> int:
        return self.settings.steps * self._levels(shape)


def _fit(shape: tuple[int, int], long_side: int) -> tuple[int, int]:
    h, w = shape
    k = long_side / max(h, w)
    return max(16, round(h * k)), max(16, round(w * k))


# ---- sound ---------------------------------------------------------------------------------------------------
AUDIO_N_FFT = 2048


@dataclass
class AudioStyleSettings:
    filters: int = 4096
    width: int = 11
    content_weight: float = 1e-2  # Ulyanov & Lebedev's ALPHA
    steps: int = 100
    learning_rate: float = 0.05
    griffin_lim: int = 32
    style_seconds: float = 10.0  # the style sound's statistics come from its first seconds
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class AudioStyle:
    """Ulyanov & Lebedev's audio texture transfer on log(1 + |STFT|): a random, wide, shallow 1-D conv whose
    Gram matrix over time is the style."""

    def __init__(self, settings: AudioStyleSettings) -> None:
        self.settings = settings
        bins = AUDIO_N_FFT // 2 + 1
        std = np.sqrt(2) * np.sqrt(2.0 / ((bins + settings.filters) * settings.width))
        rng = np.random.default_rng(settings.seed)
        # The conv's (width, bins, filters) kernel flattened to one matrix: `features` runs it as a matmul over
        # each position's window, which every backend does about twice as fast as its conv on a CPU.
        # A variable, not a constant: JAX takes it as an argument instead of compiling its 180 MB in.
        kernel = rng.standard_normal((settings.width, bins, settings.filters), dtype=np.float32)  # no float64 copy
        kernel *= std
        self.kernel = keras.Variable(kernel.reshape(settings.width * bins, settings.filters), trainable=False,
                                     name="audio_style_kernel")
        self._adam = Adam(self._loss, settings.learning_rate, (0.0, 1e3), [self.kernel])

    def features(self, s):
        """(B, T, F) log-magnitude -> (B, T - width + 1, filters): the random conv ("valid", stride 1), each output
        position's `width` frames side by side times the flattened kernel. The slices count from both ends, so no
        length need be known when traced (TensorFlow traces a time axis that keeps changing as unknown)."""
        w = self.settings.width
        windows = ops.concatenate([s[:, i:(i - w + 1) or None] for i in range(w)], axis=2)
        return ops.relu(backend.times_fixed(windows, self.kernel))

    def _loss(self, s, content_f, style_g):
        f = self.features(s)
        content = ops.mean(ops.square(f - content_f)) / (ops.mean(ops.square(content_f)) + 1e-9)
        style = gram_distance(f, style_g)
        return self.settings.content_weight * content + style, {"content": content, "style": style}

    def style_gram(self, style_logmag: np.ndarray):
        self._check_length(style_logmag, "style")
        return gram(self.features(backend.tensor(style_logmag[None])))

    def _check_length(self, logmag: np.ndarray, which: str) -> None:
        """The random conv needs at least its width of STFT frames."""
        if len(logmag) < self.settings.width:
            raise UserError(f"the {which} sound is too short for audio style transfer (< {self.settings.width} "
                            "STFT frames)")

    def losses(self, logmag: np.ndarray, content: np.ndarray, style_g) -> dict[str, float]:
        cf = self.features(backend.tensor(content[None]))
        _, parts = self._loss(backend.tensor(logmag[None]), cf, style_g)
        return {k: float(v) for k, v in parts.items()}

    def transfer(self, content_logmag: np.ndarray, style_g, on_step: Callable[[], None] | None = None) -> np.ndarray:
        """(T, F) log(1+|STFT|) of the content -> stylised, same shape, starting from the content."""
        self._check_length(content_logmag, "content")
        x = backend.tensor(content_logmag[None])
        cf = self.features(x)
        return backend.array(self._adam.run(x, self.settings.steps, cf, style_g, on_step=on_step)[0])


def style_image_file(pic, src: str, style_path: str, dst: str, styler: ImageStyle, max_size: int | None,
                     progress=None, max_pixels: int | None = None) -> dict:
    """`mmdream style image`: the image pipeline (mmdream.pipelines.image.through_working_size) with style transfer as its
    transform on `pic` (read from `src`), then the losses measured at the working size."""
    from mmdream.media.picture import from_dream_space, read_image, resize, to_dream_space
    from mmdream.pipelines.image import through_working_size, working_size

    style_pic = read_image(style_path, max_pixels, fit=max(working_size(pic.rgb.shape[:2], max_size)))
    size = working_size(pic.rgb.shape[:2], max_size)
    style = to_dream_space(resize(style_pic.rgb, working_size(style_pic.rgb.shape[:2], max(size))))
    on_step = progress.update if progress is not None else None
    _, result, figures = through_working_size(pic, dst, max_size, lambda x: styler.transfer(x, style, on_step=on_step),
                                              max_pixels)
    content = resize(to_dream_space(pic.rgb), size)
    start = styler.losses(content, content, style)
    end = styler.losses(to_dream_space(from_dream_space(result)), content, style)
    reference = styler.losses(resize(style, size), content, style)
    return {"input": src, "style": style_path, **figures, "style_loss_start": start["style"],
            "style_loss_end": end["style"], "style_loss_drop": start["style"] / max(end["style"], 1e-12),
            "content_loss_end": end["content"], "content_loss_of_style_image": reference["content"]}


# ---- sound files ----------------------------------------------------------------------------------------------
def _stft(x: np.ndarray) -> np.ndarray:
    import librosa

    return librosa.stft(np.ascontiguousarray(x), n_fft=AUDIO_N_FFT, hop_length=AUDIO_N_FFT // 4, window="hann",
                        center=True)


def style_logmag(path: str, sr: int, settings: AudioStyleSettings) -> np.ndarray:
    """log(1 + |STFT|) of the style sound's first seconds, mono, at the content's rate."""
    from mmdream.media.audio_source import load_mono

    mono = load_mono(path, sr, end=settings.style_seconds)
    return np.log1p(np.abs(_stft(mono))).T.astype(np.float32)


def style_block(x: np.ndarray, styler: AudioStyle, style_g, losses: list[dict],
                on_step: Callable[[], None] | None = None) -> np.ndarray:
    """Stylise each channel of an (n, ch) block; phase from the content, refined by Griffin-Lim."""
    from mmdream.pipelines.audio.spectrum import phase_refined_istft

    out = np.zeros_like(x)
    for c in range(x.shape[1]):
        spec = _stft(x[:, c])
        content = np.log1p(np.abs(spec)).T.astype(np.float32)
        start = styler.losses(content, content, style_g)
        result = styler.transfer(content, style_g, on_step)
        end = styler.losses(result, content, style_g)
        losses.append({"style_start": start["style"], "style_end": end["style"], "content_end": end["content"]})
        mag = np.expm1(np.maximum(result, 0.0)).T
        out[:, c] = phase_refined_istft(mag, np.angle(spec), len(x), AUDIO_N_FFT, AUDIO_N_FFT // 4,
                                        styler.settings.griffin_lim)
    return out


def style_audio_file(src: str, style_path: str, dst: str, styler: AudioStyle, *, loudness: float | None = None,
                     duration: float | None = None, start: float = 0.0, progress=None) -> dict:
    """`mmdream style audio`: stream the content in chunks, stylise, cross-fade, then the audio dreamer's
    ear-safety finish (DC blocking, loudness match, true-peak limiter)."""
    from mmdream.pipelines.audio.stream import stream_through

    losses: list[dict] = []
    on_step = progress.update if progress is not None else None

    def make_process(info):
        style_g = styler.style_gram(style_logmag(style_path, info.audio_rate, styler.settings))
        return lambda k, chunk: style_block(chunk, styler, style_g, losses, on_step)

    figures = stream_through(src, dst, make_process, duration=duration, start=start, loudness=loudness)
    mean = {k: float(np.mean([row[k] for row in losses])) for k in losses[0]}
    return {**figures, "style": style_path, "style_loss_start": mean["style_start"],
            "style_loss_end": mean["style_end"], "style_loss_drop": mean["style_start"] / max(mean["style_end"], 1e-12),
            "content_loss_end": mean["content_end"]}


# ---- from options (the CLI's flags, the API's keywords) -------------------------------------------------------
IMAGE_STYLE_OPTIONS = {name: BY_NAME[name].default for name in IMAGE_STYLE}
AUDIO_STYLE_OPTIONS = {name: BY_NAME[name].default for name in AUDIO_STYLE}


def _checked(options: dict, known: dict) -> dict:
    """The style options given (their values checked by a spec, mmdream.specs) over their defaults."""
    unknown = set(options) - set(known)
    if unknown:
        raise UserError(f"unknown style option(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    return {**known, **{k: v for k, v in options.items() if v is not None}}


def image_styler(net: Net, **options) -> ImageStyle:
    """An ImageStyle from the style options (IMAGE_STYLE_OPTIONS; layer lists as "a,b,c" or lists)."""
    require_kind(net, IMAGE.name, "image style transfer")
    o = _checked(options, IMAGE_STYLE_OPTIONS)
    names = lambda v: [x for x in v.split(",") if x] if isinstance(v, str) else list(v or [])  # noqa: E731
    return ImageStyle(net, StyleSettings(
        content_weight=o["content_weight"], style_weight=o["style_weight"], tv_weight=o["tv_weight"],
        temporal_weight=o["temporal_weight"], steps=o["style_steps"], learning_rate=o["learning_rate"],
        scales=o["scales"], content_layers=names(o["content_layers"]), style_layers=names(o["style_layers"])))


def audio_styler(**options) -> AudioStyle:
    """An AudioStyle from the audio style options (AUDIO_STYLE_OPTIONS)."""
    o = _checked(options, AUDIO_STYLE_OPTIONS)
    return AudioStyle(AudioStyleSettings(filters=o["filters"], steps=o["audio_style_steps"],
                                         griffin_lim=o["style_griffin_lim"]))


def style_target(path: str, max_size: int | None) -> np.ndarray:
    """The style picture in dream space at the working size (film frames reuse it)."""
    from mmdream.media.picture import read_image, resize, to_dream_space
    from mmdream.pipelines.image import working_size

    rgb = read_image(path, fit=max_size).rgb
    return to_dream_space(resize(rgb, working_size(rgb.shape[:2], max_size)))


def style_picture(image, output: str, spec, progress=None) -> dict:
    """`mmdream style image` from its spec (mmdream.specs): Gatys style transfer of a picture file onto `output`;
    the report's figures."""
    from mmdream.checks import IMAGE_SUFFIXES, check_output
    from mmdream.io_utils import check_not_same
    from mmdream.media.picture import picture_input, read_header, working_size
    from mmdream.nets import load_net
    from mmdream.pipelines.precision import resolve_precision
    from mmdream.progress import Progress

    check_output(output, IMAGE_SUFFIXES, "an image")
    check_not_same(image, output)
    pic = picture_input(image, spec.max_pixels, spec.max_size)
    read_header(spec.style, spec.max_pixels)
    net = load_net(spec.net, precision=resolve_precision(spec.precision, spec.net), weights=spec.weights)
    styler = image_styler(net, **{k: getattr(spec, k) for k in IMAGE_STYLE})
    with Progress(progress, styler.total_steps(working_size(pic.rgb.shape[:2], spec.max_size)), "styling") as bar:
        figures = style_image_file(pic, str(image), spec.style, output, styler, spec.max_size, progress=bar,
                                   max_pixels=spec.max_pixels)
    return {"command": "style image", "net": spec.net, "settings": styler.settings.as_dict(), **figures}


def style_sound(audio, output: str, spec, progress=None) -> dict:
    """`mmdream style audio` from its spec: Ulyanov & Lebedev style transfer of a sound file onto `output`; the
    report's figures."""
    from mmdream.checks import AUDIO_SUFFIXES, check_output, fits_channels
    from mmdream.io_utils import check_not_same
    from mmdream.media.ffmpeg import audio_input
    from mmdream.progress import Progress

    out = check_output(output, AUDIO_SUFFIXES, "a sound")
    check_not_same(audio, output)
    fits_channels(out, audio_input(str(audio)).audio_channels)
    audio_input(spec.style)
    styler = audio_styler(**{k: getattr(spec, k) for k in AUDIO_STYLE})
    with Progress(progress, None, "styling") as bar:
        figures = style_audio_file(str(audio), spec.style, output, styler, loudness=spec.loudness,
                                   duration=spec.duration, progress=bar)
    return {"command": "style audio", "settings": styler.settings.as_dict(), **figures}

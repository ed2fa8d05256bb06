"""The one dream engine: octave gradient ascent over a batch of 2-D arrays with channels.

Images are (1, H, W, 3) in [-1, 1]; sounds are (channels, time, freq, 1) log-magnitude spectrograms. Both go
through `Dreamer.dream`, which implements the original DeepDream recipe (Mordvintsev et al., 2015):
an octave pyramid with detail re-injection, random roll jitter, gradient normalisation, optional Gaussian
smoothing of the gradient, and tiled gradients for large inputs. It is written in `keras.ops`: on TensorFlow the
gradient is one `tf.function` with a shape-polymorphic input signature, so octaves, tiles and frames of any size
share a single trace; on JAX a whole step is one XLA function per shape; on PyTorch it runs eagerly (see
mmdream.core.backend).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from mmdream.core import backend
from mmdream.core.objectives import LOGITS, SEEN, Objective, Term, class_set, log_probabilities
from mmdream.core.settings import DreamSettings  # noqa: F401 - the engine's settings, where callers look
from mmdream.errors import UserError
from mmdream.io_utils import check_finite
from mmdream.modality import MODALITIES
from mmdream.nets import Net
from mmdream.nets.fold import fold_batch_norm
from mmdream.nets.graph import layer_output

# The largest step (after gradient normalisation) in the dreamed array's units: an image spans 2, a log-magnitude
# a few tens; any --step-size x --strength above it is taken as this.
MAX_STEP = 2.0


def compare(before: float, after: float) -> dict:
    """Report figures for an objective measured before and after dreaming. The gain (a ratio) suits the
    activation objective; a class logit can be negative, so its change is the figure to read."""
    return {"objective_before": before, "objective_after": after, "objective_change": after - before,
            "objective_gain": after / before if before > 1e-12 else float("nan")}


def parse_layers(spec: str | None, net: Net) -> dict[str, float]:
    """'mixed3:1,mixed5:1.5' (or depths '0.4:1,0.7') -> {layer: weight}; None -> the net's defaults."""
    if not spec:
        return dict(net.default_layers)
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight = part.strip().partition(":")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise UserError(f"bad layer weight in {part!r}; use name:weight, e.g. mixed3:1.5") from None
        if not math.isfinite(w) or w == 0:
            raise UserError(f"layer weight in {part!r} must be a finite number other than 0")
        try:
            depth = float(name)
        except ValueError:
            depth = None
        if depth is not None and 0.0 <= depth <= 1.0:
            name = net.layer_at_depth(depth)
        if depth is not None and name not in net.layers:  # a number that is no depth: 3, -0.5
            raise UserError(f"layer {name!r}: a depth is a number from 0 (the first dreamable layer) to 1 (the "
                            f"last); or name one of {net.name}'s layers: {', '.join(net.layers)}")
        if name not in net.layers:
            raise UserError(f"net {net.name} has no dreamable layer {name!r}; choose from {', '.join(net.layers)}")
        out[name] = out.get(name, 0.0) + w
    return out


def octave_shapes(shape: tuple[int, int], octaves: int, scale: float, min_size: int) -> list[tuple[int, int]]:
    """Shapes from coarsest to finest; the last is `shape`. Octaves below `min_size` are dropped."""
    shapes = []
    for i in range(octaves - 1, -1, -1):
        s = (max(1, round(shape[0] / scale**i)), max(1, round(shape[1] / scale**i)))
        if min(s) >= min_size or i == 0:
            shapes.append(s)
    return shapes


def _gaussian_kernel(sigma: float, channels: int) -> np.ndarray:
    """A depthwise Gaussian (k, k, channels, 1) for smoothing the gradient; sigma 0 is the 1x1 identity."""
    if sigma <= 0:
        return np.ones((1, 1, channels, 1), np.float32)
    radius = max(1, int(math.ceil(2.5 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    k1 = np.exp(-0.5 * (x / sigma) ** 2)
    k1 /= k1.sum()
    k2 = np.outer(k1, k1)
    return np.tile(k2[:, :, None, None], (1, 1, channels, 1)).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _kernel_tensor(sigma: float, channels: int):
    """`_gaussian_kernel` as a tensor, made once per sigma and channel count."""
    return backend.tensor(_gaussian_kernel(sigma, channels))


class Dreamer:
    """Gradient ascent on one net's objective. Build once, dream many arrays (frames, chunks) of any size.

    `objective`: an `Objective` (layers with weights a schedule can change, channels, a class target) or any
    composable `Term` (see mmdream.core.objectives)."""

    def __init__(self, net: Net, objective: Objective | Term, channels: int | None = None) -> None:
        self.net = net
        self.objective = objective
        spec = objective if isinstance(objective, Objective) else None
        self.layer_names = list(spec.layers) if spec is not None else []
        # A variable, so a schedule can move weight between layers frame by frame without retracing.
        self._layer_values = [float(spec.layers[n]) for n in self.layer_names] if spec else [1.0]
        self.weights = keras.Variable(self._layer_values, trainable=False, dtype="float32", name="layer_weights")
        # What reports compare; a guide (set_guide) changes what the ascent maximises, not how it is reported.
        self.score_term = self.loss_term = spec.term(self.weights) if spec is not None else objective
        model = fold_batch_norm(net.model)
        names = list(self.score_term.layers)  # a guided term reads the same layers
        # Keras keeps only the subgraph that feeds these outputs: the net is truncated at the deepest layer.
        self.features = keras.Model(model.input, [model.output if n == LOGITS else layer_output(model, n)
                                                  for n in names], name=f"{net.name}_features")
        self.feature_names = names
        c = channels if channels is not None else int(net.model.input.shape[-1])
        self.channels = c  # the channels of the input it dreams (its traces are for these)
        self._model = model
        self._score = backend.compiled(self._score_of, [backend.spec([None, None, None, c])], self._state())
        self._classifier = self._follow_grad = self._follow_step = None  # built when a dream first follows classes
        self.programs: dict = {}  # dream_between's compiled calls, by what comes before and after and the steps
        self.following = 0.0  # how hard the ascent pulls toward `class_weights` (0: the plain dream)
        self._trace()

    def _trace(self) -> None:
        """The traced functions: the gradient (for tiles) and one whole ascent step (jitter, gradient, smoothing,
        normalisation, update), both shape-polymorphic, so every octave, frame and chunk shares one trace."""
        image, scalar = backend.spec([None, None, None, self.channels]), backend.spec([])
        kernel = backend.spec([None, None, self.channels, 1])
        self._grad = backend.compiled(self._loss_and_grad, [image], self._state())
        self._step = backend.compiled(self._whole_step, [image, backend.spec([2], "int32"), scalar, scalar,
                                                         backend.spec([], "bool"), kernel], self._state())

    def _state(self) -> list:
        """The variables a compiled function reads: the net's, and the weights a schedule or a target sets."""
        following = [self.class_weights] if hasattr(self, "class_weights") else []
        return [*self._model.variables, self.weights, *following]

    # ---- objectives -------------------------------------------------------------------------------------
    def activations(self, x):
        """{layer: activation, "logits": logits} for what the objective reads (float32 whatever the precision)."""
        outs = self.features(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return {name: ops.cast(o, "float32") for name, o in zip(self.feature_names, outs)}

    def _score_of(self, x):
        """The figure reports compare, per batch item: the objective without a guide."""
        return self.score_term(self.activations(x))

    def loss(self, x):
        """What the ascent maximises, summed over the batch."""
        return ops.sum(self.loss_term(self.activations(x)))

    def _loss_and_grad(self, x):
        return backend.value_and_grad(self.loss, x)

    def traces(self) -> int:
        """How many times the gradient and the step were traced (at most once each: shapes never retrace)."""
        return backend.traces(self._grad, self._step)

    def _whole_step(self, x, shift, step_size, clip, center, kernel):
        """Jitter, gradient, smoothing, normalisation and update in one call: no host round trip inside the step."""
        _, g = self._loss_and_grad(ops.roll(x, shift, axis=(1, 2)))
        return _apply_step(x, ops.roll(g, backend.negated(shift), axis=(1, 2)), step_size, clip, center, kernel,
                           self.net.value_range)

    def step(self, x, shift: tuple[int, int] = (0, 0), step_size: float = 0.02,
             settings: DreamSettings | None = None):
        """One whole ascent step, the traced function every dream runs (for timing and experiments)."""
        s = settings or DreamSettings()
        return self._step(backend.tensor(x), backend.offsets(shift), backend.tensor(step_size),
                          backend.tensor(s.grad_clip), backend.tensor(s.center_gradient, "bool"),
                          backend.tensor(_gaussian_kernel(s.smooth, x.shape[-1])))

    def set_layer_weights(self, layers: dict[str, float]) -> None:
        """Re-weight the layers this dreamer was built with (layers left out get weight 0)."""
        extra = set(layers) - set(self.layer_names)
        if extra:
            raise UserError(f"layer(s) {', '.join(sorted(extra))} were not part of this dreamer's objective")
        values = [float(layers.get(n, 0.0)) for n in self.layer_names]
        if values != self._layer_values:  # a film's every frame sets them: unchanged, nothing goes to the device
            self.weights.assign(values)
            self._layer_values = values

    def take(self, moment, layers: dict[str, float] | None = None) -> None:
        """Dream as a schedule's moment says: its layer weights (or `layers`, a live performer's), and its class
        target, which a cross-modal dream follows (see mmdream.senses)."""
        self.set_layer_weights(layers or moment.layers)
        self.set_class_target(moment.target, moment.follow)

    def set_guide(self, guide: np.ndarray | None) -> None:
        """Dream toward the features of `guide` (same layout as the dreamed array, one item): the layers' terms
        become guided ones (see mmdream.core.objectives.guided); None goes back to the objective."""
        if not isinstance(self.objective, Objective):
            raise UserError("a guide needs an Objective of layers, not a composed term")
        features = None
        if guide is not None:
            with backend.inference():
                acts = self.activations(backend.tensor(guide[None] if guide.ndim == 3 else guide))
            features = {n: ops.reshape(acts[n], (-1, acts[n].shape[-1])) for n in self.layer_names}
        self.loss_term = self.objective.term(self.weights, features)
        self._trace()
        if self._follow_step is not None:
            self._trace_following()

    # ---- classes: what the net sees, and a dream that follows a weighted set of them ------------------------
    def _seen(self, x):
        if self._classifier is None:
            self._classifier = keras.Model(self._model.input, self._model.output, name=f"{self.net.name}_classes")
        return class_logits(self.net, self._classifier, x)

    def set_class_target(self, weights: np.ndarray | None, strength: float = 1.0) -> None:
        """Dream toward a weighted set of the net's classes (one weight per class) besides the objective, pulled
        `strength` times as hard as the objective pulls (each gradient normalised first, so the figure means the
        same on every net and layer); None or 0 is the plain dream, at the plain dream's cost."""
        if weights is None or strength <= 0 or float(np.sum(weights)) <= 0:
            self.following = 0.0
            return
        w = np.asarray(weights, np.float32) / float(np.sum(weights))
        if self._follow_step is None:
            self.class_weights = keras.Variable(w, trainable=False, dtype="float32", name="class_weights")
            self._class_term = class_set(self.class_weights)
            self._trace_following()
        else:
            self.class_weights.assign(w)
        self.following = float(strength)

    def _trace_following(self) -> None:
        """The traced gradient and step of a dream that follows classes (as `_trace`'s, with the mix k)."""
        image, scalar = backend.spec([None, None, None, self.channels]), backend.spec([])
        kernel = backend.spec([None, None, self.channels, 1])
        self._follow_grad = backend.compiled(self._following_gradient, [image, scalar], self._state())
        self._follow_step = backend.compiled(self._whole_following_step, [
            image, backend.spec([2], "int32"), scalar, scalar, backend.spec([], "bool"), kernel, scalar],
            self._state())

    def _following_gradient(self, x, k):
        """The objective's gradient and the class target's, each normalised, mixed k to 1."""
        value, g = self._loss_and_grad(x)
        _, c = backend.value_and_grad(lambda v: ops.sum(self._class_term({SEEN: self._seen(v)})), x)
        return value, _share(g) + k * _share(c)

    def _whole_following_step(self, x, shift, step_size, clip, center, kernel, k):
        _, g = self._following_gradient(ops.roll(x, shift, axis=(1, 2)), k)
        return _apply_step(x, ops.roll(g, backend.negated(shift), axis=(1, 2)), step_size, clip, center, kernel,
                           self.net.value_range)

    # ---- measurement ------------------------------------------------------------------------------------
    def score(self, x, tile: int = 1024) -> float:
        """Objective (mean squared activation of the target layers), averaged over the batch and over tiles."""
        x = backend.tensor(x)
        if len(x.shape) == 3:
            x = x[None]
        if (work := self.workable(tuple(x.shape[1:3]))) != tuple(x.shape[1:3]):
            x = ops.image.resize(x, work, interpolation="bicubic")
        vals, areas = [], []
        with backend.inference():
            for ys, xs in _tile_slices(x.shape[1], x.shape[2], tile):
                vals.append(float(ops.mean(self._score(x[:, ys, xs]))))
                areas.append((ys.stop - ys.start) * (xs.stop - xs.start))
        return float(np.average(vals, weights=areas))

    # ---- ascent -----------------------------------------------------------------------------------------
    @staticmethod
    def _fits(shape, tile: int, axes: tuple[int, ...]) -> bool:
        """Whether an array needs no tiling: images by area (a 540x360 frame is one call at tile 512), sound by
        length along its tiled axis."""
        h, w = shape[1], shape[2]
        if axes == (1, 2):
            return h * w <= tile * tile and max(h, w) <= 2 * tile
        return (1 not in axes or h <= tile) and (2 not in axes or w <= tile)

    def _gradient(self, x, tile: int, axes: tuple[int, ...], follows: bool = False):
        h, w = x.shape[1], x.shape[2]
        th, tw = (tile if 1 in axes else h), (tile if 2 in axes else w)
        grad = self._grad
        if follows:
            k = backend.constant(float(self.following))
            grad = lambda v: self._follow_grad(v, k)  # noqa: E731 - one tile's gradient, as self._grad's
        if self._fits(x.shape, tile, axes):
            return grad(x)[1]
        rows = []
        for ys in _axis_slices(h, th):
            rows.append(ops.concatenate([grad(x[:, ys, xs])[1] for xs in _axis_slices(w, tw)], axis=2))
        return ops.concatenate(rows, axis=1)

    def ascend(
        self,
        x,
        steps: int,
        step_size: float,
        settings: DreamSettings,
        rng: np.random.Generator,
        on_step: Callable[[], None] | None = None,
        constraint: Callable | None = None,
    ):
        """`steps` of normalised gradient ascent at one scale, with roll jitter; `constraint` projects x after
        each step (sound keeps its energy, so the ascent must change the spectrum's shape, not its level)."""
        lo_hi = self.net.value_range
        tile = self._tile(settings)
        whole = self._fits(x.shape, tile, settings.axes)
        size, clip, center, kernel = self._step_settings(settings, step_size, int(x.shape[-1]))
        follows, k = self.following > 0, backend.constant(float(self.following))
        step = (lambda *a: self._follow_step(*a, k)) if follows else self._step  # noqa: E731 - and the mix k
        for shift in _shifts(settings, rng, steps):
            if whole:
                x = step(x, backend.offsets(shift), size, clip, center, kernel)
            else:
                rolled = ops.roll(x, tuple(shift), axis=(1, 2))
                g = self._gradient(rolled, tile, settings.axes, follows)
                g = ops.roll(g, (-shift[0], -shift[1]), axis=(1, 2))
                x = _apply_step(x, g, size, clip, center, kernel, lo_hi)
            if constraint is not None:
                x = constraint(x)
            if on_step:
                on_step()
        return x

    @staticmethod
    def _step_settings(settings: DreamSettings, step_size: float, channels: int) -> tuple:
        """What a whole step takes besides the array and its roll, as tensors: the step's size (bounded: the ascent
        cannot blow up), the gradient's clip, whether it is centred, and the smoothing kernel."""
        return (backend.constant(float(min(step_size, MAX_STEP))), backend.constant(float(settings.grad_clip)),
                backend.constant(bool(settings.center_gradient), "bool"),
                _kernel_tensor(float(settings.smooth), channels))

    def one_call(self, shape: tuple[int, int], settings: DreamSettings) -> bool:
        """Whether dreaming an array of `shape` (h, w) can be one compiled call with what comes before and after it
        (`dream_between`): a compiling backend, one octave at the array's own size, no tiles, no class target."""
        return (backend.COMPILED and settings.steps >= 1 and self.following <= 0
                and self.octaves(shape, settings) == [tuple(shape)]
                and self._fits((1, *shape), self._tile(settings), settings.axes))

    def _tile(self, settings: DreamSettings) -> int:
        """The tile a gradient is taken in: equal tiles are over half this, so none is too small for the net."""
        return max(settings.tile_size, 2 * self.net.min_size)

    def dream_between(self, before: Callable, inputs: tuple, after: Callable, settings: DreamSettings,
                      strength: float = 1.0):
        """`after(dream(before(*inputs)))` as one compiled call on the dream's device, where `one_call` allows:
        the same steps, rolls and numbers as `dream` (on_device), with nothing between them coming back to the
        host, and one call to queue instead of one per step and per operation around them. `before` makes the
        (H, W, C) array to dream; `after` gets the dreamed one. Returns what `after` does, on the device."""
        key = (before, after, settings.steps)
        if key not in self.programs:
            self.programs[key] = backend.compiled(functools.partial(self._dreamed_between, *key), None, self._state())
        shifts = _shifts(settings, np.random.default_rng(settings.seed), settings.steps)
        return self.programs[key](inputs, backend.constant(tuple(map(tuple, shifts)), "int32"),
                                  *self._step_settings(settings, settings.step_size * strength, self.channels))

    def _dreamed_between(self, before: Callable, after: Callable, steps: int, inputs: tuple, shifts, size, clip,
                         center, kernel):
        base = ops.expand_dims(before(*inputs), 0)
        img = base
        for i in range(steps):
            img = self._whole_step(img, shifts[i], size, clip, center, kernel)
        return after(ops.squeeze(base + (img - base), 0))  # as `dream` adds an octave's detail to its base

    def dream(
        self,
        x: np.ndarray,
        settings: DreamSettings,
        on_step: Callable[[], None] | None = None,
        strength: float = 1.0,
        constraint: Callable | None = None,
        on_device: bool = False,
    ) -> np.ndarray:
        """Dream a batch (N, H, W, C). Returns the dreamed array, same shape; `on_device`: as a tensor where the
        dream ran, unchecked (a film's frame becomes its picture there: mmdream.core.carry.picture).

        `constraint(x, octave_base)` is applied after every step. An array smaller than the net takes is dreamed
        enlarged, and its dream detail brought back to the array's size."""
        if x.ndim == 3:  # a tensor's axis added and dropped as one reshape each, not as indexing
            if isinstance(x, np.ndarray):
                return self.dream(x[None], settings, on_step, strength, constraint, on_device)[0]
            out = self.dream(ops.expand_dims(x, 0), settings, on_step, strength, constraint, on_device)
            return ops.squeeze(out, 0) if on_device else out[0]
        shape = tuple(x.shape[1:3])
        if (work := self.workable(shape)) != shape:
            big = backend.array(ops.image.resize(x, work, interpolation="bicubic"))
            detail = self.dream(big, settings, on_step, strength, constraint) - big
            out = x + backend.array(ops.image.resize(detail, shape, interpolation="area"))
            lo_hi = self.net.value_range
            out = out if lo_hi is None else np.clip(out, *lo_hi)
            return backend.tensor(out) if on_device else out
        rng = np.random.default_rng(settings.seed)
        base = backend.tensor(x)
        detail = None
        for octave in self.octaves(shape, settings):
            octave_base = ops.image.resize(base, octave, interpolation="bilinear") if octave != shape else base
            img = octave_base if detail is None else octave_base + ops.image.resize(detail, octave,
                                                                                   interpolation="bilinear")
            bound = None if constraint is None else (lambda v, b=octave_base: constraint(v, b))
            img = self.ascend(img, settings.steps, settings.step_size * strength, settings, rng, on_step, bound)
            detail = img - octave_base
        if on_device:
            return base + detail
        out = backend.array(base + detail)
        check_finite(out, "the dream")
        return out

    def workable(self, shape: tuple[int, int]) -> tuple[int, int]:
        """`shape`, or where a side is below the net's minimum, the smallest enlargement (same aspect) it takes."""
        least = self.net.min_size
        if min(shape) >= least:
            return tuple(shape)
        scale = least / min(shape)
        return max(least, math.ceil(shape[0] * scale)), max(least, math.ceil(shape[1] * scale))

    def octaves(self, shape: tuple[int, int], settings: DreamSettings) -> list[tuple[int, int]]:
        """The octave shapes dreamed for an array of `shape`: none smaller than the settings or the net allow."""
        return octave_shapes(self.workable(shape), settings.octaves, settings.octave_scale,
                             max(settings.min_size, self.net.min_size))

    def total_steps(self, shape: tuple[int, int], settings: DreamSettings) -> int:
        return settings.steps * len(self.octaves(shape, settings))


def class_logits(net: Net, model, x):
    """The logits of `x` as `net` classifies it: a picture squashed (antialiased, so every pixel takes part) to the
    side the net was trained at, a sound as it is."""
    side = net.input_side
    if side is not None and MODALITIES[net.kind].squashed:
        x = ops.image.resize(x, (side, side), interpolation="bilinear", antialias=True)
    return ops.cast(model(x, training=False), "float32")


def probabilities(net: Net, x: np.ndarray) -> np.ndarray:
    """`net`'s class probabilities for each item of a batch (one class of many, or each tag on its own)."""
    x = backend.tensor(x[None] if x.ndim == 3 else x)
    with backend.inference():
        return np.exp(backend.array(log_probabilities(class_logits(net, net.model, x), net.multilabel)))


# What a gradient's mean magnitude is divided by at least, for a step: a floor, not an epsilon added. The gradient
# of a mean shrinks with the picture's pixels and with a net's activations (random weights); an added epsilon then
# set the step's length instead of `step_size`, and an untiled 1080p frame of InceptionV3 moved a hundredth of it.
_LEAST_MAGNITUDE = 1e-30


def _shifts(settings: DreamSettings, rng: np.random.Generator, steps: int) -> list[list[int]]:
    """Each step's roll (the jitter) drawn from `rng`, along the axes the settings dream."""
    j, shifts = settings.jitter, []
    for _ in range(steps):
        shift = [int(v) for v in rng.integers(-j, j + 1, size=2)] if j > 0 else [0, 0]
        shifts.append([s if axis in settings.axes else 0 for s, axis in zip(shift, (1, 2))])
    return shifts


def _unit(g):
    """`g` over its mean magnitude (per batch item), whatever its scale: a step moves `step_size` on average."""
    return g / ops.maximum(ops.mean(ops.abs(g), axis=(1, 2, 3), keepdims=True), _LEAST_MAGNITUDE)


def _share(g):
    """`g` as one of two gradients mixed (see `_following_gradient`): over its mean magnitude plus 1e-8, so each
    pulls as hard as its weight says, and a class target's gradient that has all but vanished (its class has won)
    adds next to nothing rather than its full weight."""
    return g / (ops.mean(ops.abs(g), axis=(1, 2, 3), keepdims=True) + 1e-8)


def _normalise(g, clip, center):
    g = _unit(g - ops.cast(center, g.dtype) * ops.mean(g, axis=(1, 2, 3), keepdims=True))
    return ops.clip(g, -clip, clip)


def _apply_step(x, g, step_size, clip, center, kernel, lo_hi):
    """Smooth (a 1x1 kernel leaves it), normalise and clip the gradient, step, keep x in the net's value range."""
    g = _smoothed(g, kernel)
    x = x + step_size * _normalise(g, clip, center)
    if lo_hi is not None:
        x = ops.clip(x, lo_hi[0], lo_hi[1])
    return x


def _smoothed(g, kernel):
    """`g` convolved with the depthwise `kernel`, its edges mirrored (a 1x1 kernel leaves it as it is)."""
    padded = backend.mirror_padded(g, ops.shape(kernel)[0] // 2)
    return padded if padded is g else ops.depthwise_conv(padded, kernel, 1, "valid")


def _axis_slices(n: int, tile: int) -> list[slice]:
    """Split an axis into equal tiles no larger than `tile`."""
    count = max(1, math.ceil(n / tile))
    edges = np.linspace(0, n, count + 1).round().astype(int)
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _tile_slices(h: int, w: int, tile: int) -> list[tuple[slice, slice]]:
    return [(ys, xs) for ys in _axis_slices(h, tile) for xs in _axis_slices(w, tile)]

"""The musicnn 0.1.0 networks (Pons & Serra 2019) in Keras 3, weights read from the wheel's TF1 checkpoints.

Why: pretrained mel-spectrogram CNNs that work offline. The dream model puts the mel front end *inside* the graph
(STFT log-magnitude at the input's own rate -> mel filterbank 0-8 kHz, 96 bands -> log10(10000 x + 1) -> net), so
the gradient lands in the domain that is resynthesised.

Facts used (checked against the checkpoints): BN epsilon 1e-3; in the VGG nets batch-norm follows the ReLU and
the pools are (4,1)/stride (2,2), (2,2) x3, (4,4); musicnn's pooled vector interleaves max and mean per feature.
"""

from __future__ import annotations

import functools
from pathlib import Path

import keras
import numpy as np
from keras import ops

from mmdream.errors import UserError
from mmdream.nets.cache import cache_dir, save_npz_atomic, sha256_file
from mmdream.nets.keras_base import ResizeTo, dtype_policy, seed_random_weights
from mmdream.nets.net import Net
from mmdream.nets.registry import NetSpec, spec, specs
from mmdream.nets.tf_checkpoint import read_checkpoint

SR, N_FFT, HOP, N_MELS = 16000, 512, 256, 96
NETS = [s.name for s in specs("audio") if s.builder == __name__]
# sha256 of each checkpoint's .data and .index files in musicnn 0.1.0.
CHECKSUMS = {
    "MTT_vgg": ("458f5c8bcecc086a3bba3dce83809df6da6e0a3560a59ddd84711bf3d5fd8303",
                "4b0d3d2d02bbe0919c063c1fb74bfa9018ac3517e362d681b07444d4207a5f5f"),
    "MSD_vgg": ("9683d756b8311146534f333502ebf4a2a78a3e320c54ab0411dff6186d8375fc",
                "50e499238457558bba9f34f8b84d4afb8279afd43520cdf0a4fdf805a49c9ca3"),
    "MTT_musicnn": ("041f3935e981a65cea739842d30c188d3a7d2adf4410955c8668eb3de4a5acab",
                    "da2d7bb670b2b31e9bc441bb1bd75eca31b5b061f963cc1f9630c1aff3238f57"),
    "MSD_musicnn": ("8579734ee6388f799ed0def4bbd0d1fdcbeaf213ef2a9dc860917bd76a303de6",
                    "87f3e0f3550c8d3bafc840374003e5c8af5eeb5ecf6add61af09a7822d3282c8"),
}
MIN_FRAMES = 96  # shortest time axis every layer accepts (the VGG pools need >= 66 frames); ~1.5 s


def checkpoint_dir(name: str) -> Path:
    try:
        import musicnn
    except ImportError as e:
        raise UserError("the musicnn nets need the checkpoints of the musicnn 0.1.0 package: run `mmdream models "
                        "setup`") from e
    return Path(musicnn.__file__).parent / name


# ---- front end ----------------------------------------------------------------------------------------------
@functools.cache
def stft_params(sr: int) -> tuple[int, int]:
    """(n_fft, hop) at rate `sr` with the nets' 32 ms window and 16 ms hop (512/256 at 16 kHz), to the nearest hop
    whose window length has no prime factor above 11: the FFT's fast sizes. At 44.1 kHz the exact hop, 706, makes
    a window of 4 x 353, a prime, and every STFT of the sound took four times as long (1412 against 1408 here)."""
    exact = HOP * sr / SR
    near = range(max(1, int(exact) - 16), int(exact) + 18)
    hop = min(near, key=lambda h: (_largest_prime_factor(2 * h) > 11, abs(h - exact)))
    return 2 * hop, hop


def _largest_prime_factor(n: int) -> int:
    factor, largest = 2, 1
    while factor * factor <= n:
        while n % factor == 0:
            n, largest = n // factor, factor
        factor += 1
    return max(largest, n) if n > 1 else largest


@functools.cache
def mel_matrix(sr: int) -> np.ndarray:
    """(bins, 96) filterbank 0-8 kHz for this rate, scaled so mel energies match the nets' 16 kHz front end."""
    import librosa

    n_fft, _ = stft_params(sr)
    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=N_MELS, fmin=0.0, fmax=SR / 2)
    # |STFT|^2 grows with the window length squared; bring it back to the 512-sample window's scale.
    return (fb.T * (N_FFT / n_fft) ** 2).astype(np.float32)


@keras.saving.register_keras_serializable(package="mmdream")
class LogMagToLogMel(keras.layers.Layer):
    """(B, T, F', 1) natural-log STFT magnitude -> (B, T, 96, 1) log10(10000 mel + 1), musicnn's input.

    F' may be smaller than the rate's bin count (a frequency octave): it is resized back first.
    """

    def __init__(self, sr: int, **kw):
        super().__init__(**kw)
        self.sr = int(sr)
        self.fb = mel_matrix(self.sr)

    def call(self, x):
        bins = self.fb.shape[0]
        x = ops.cast(x, "float32")
        if x.shape[2] != bins:  # unknown or smaller: resize (an identity when the sizes already match)
            x = _resized_bins(x, bins)
        power = ops.exp(2.0 * x[..., 0])
        mel = ops.matmul(power, ops.convert_to_tensor(self.fb))
        return (ops.log(10000.0 * mel + 1.0) / np.log(10.0))[..., None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], N_MELS, 1)

    def get_config(self):
        return {**super().get_config(), "sr": self.sr}


def _resized_bins(x, bins: int):
    """(B, T, F', 1) bilinearly resized to (B, T, bins, 1). A time axis of unknown length (TensorFlow's one trace
    for every chunk) is resized by TensorFlow with a size it reads at run time; a known one through keras.ops,
    which every backend runs."""
    if x.shape[1] is not None:
        return ops.image.resize(x, (int(x.shape[1]), bins), interpolation="bilinear")
    import tensorflow as tf

    return tf.image.resize(x, tf.stack([tf.shape(x)[1], bins]), method="bilinear")


@keras.saving.register_keras_serializable(package="mmdream")
class MaxMeanPool(keras.layers.Layer):
    """Temporal max and mean per feature, interleaved [max0, mean0, max1, ...] as musicnn flattens them."""

    def call(self, x):  # (B, T, C, 1)
        mx = ops.max(x, axis=1)
        mean = ops.mean(x, axis=1)
        return ops.reshape(ops.concatenate([mx, mean], axis=-1), (-1, 2 * x.shape[2]))


@keras.saving.register_keras_serializable(package="mmdream")
class FullWidthMaxPool(keras.layers.Layer):
    """Max over the frequency axis: (B, T, F, C) -> (B, T, C, 1), as musicnn's front-end blocks pool."""

    def call(self, x):
        return ops.max(x, axis=2)[..., None]


@keras.saving.register_keras_serializable(package="mmdream")
class SwapLast(keras.layers.Layer):
    """(B, T, 1, C) -> (B, T, C, 1): musicnn's transpose after each mid-end conv."""

    def call(self, x):
        return ops.transpose(x, (0, 1, 3, 2))


@keras.saving.register_keras_serializable(package="mmdream")
class TimeConv(keras.layers.Conv2D):
    """musicnn's temporal filters: a (length, 1) Conv2D of stride 1 on one channel, run as one 1-D convolution over
    time per (example, mel band), with the same weights and sums. oneDNN's 2-D kernels handle a tall one-channel
    filter poorly; its 1-D ones do not (docs/performance.md)."""

    def convolution_op(self, inputs, kernel):
        shape = ops.shape(inputs)  # (B, T, F, 1); T may be known only when it runs
        bands, filters = int(inputs.shape[2]), int(kernel.shape[-1])
        series = ops.reshape(ops.transpose(inputs[..., 0], (0, 2, 1)), (-1, shape[1], 1))  # (B F, T, 1)
        out = ops.conv(series, kernel[:, 0], strides=1, padding=self.padding)  # (B F, T, filters)
        return ops.transpose(ops.reshape(out, (-1, bands, shape[1], filters)), (0, 2, 1, 3))


def _bn(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(epsilon=1e-3, name=name)


def _pad_time(x, before: int, after: int, name: str):
    return keras.layers.ZeroPadding2D(((before, after), (0, 0)), name=name)(x)


def _vgg(x, num_classes: int):
    L = keras.layers
    x = _bn("bn_input")(x)
    pools = [((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))]
    for i, (size, stride) in enumerate(pools, start=1):
        x = L.Conv2D(128, 3, padding="same", activation="relu", name=f"conv{i}_conv")(x)
        x = _bn(f"conv{i}")(x)  # batch-norm after the ReLU, as in musicnn
        x = L.MaxPooling2D(size, stride, name=f"pool{i}")(x)
    x = ResizeTo(2, name="pool5_resize")(x)
    x = L.Flatten(name="flatten")(x)
    return L.Dense(num_classes, name="logits", dtype="float32")(x)


def _musicnn(x, num_classes: int, midend: int = 64, backend: int = 200):
    L = keras.layers
    x = _bn("bn_input")(x)
    padded = _pad_time(x, 3, 3, "timbral_pad")
    fronts = []
    for tag, width in (("f74", int(0.4 * N_MELS)), ("f77", int(0.7 * N_MELS))):
        h = L.Conv2D(204, (7, width), padding="valid", activation="relu", name=f"{tag}_conv")(padded)
        fronts.append(FullWidthMaxPool(name=f"{tag}")(_bn(f"{tag}_bn")(h)))
    for tag, length in (("s1", 128), ("s2", 64), ("s3", 32)):
        h = TimeConv(51, (length, 1), padding="same", activation="relu", name=f"{tag}_conv")(x)
        fronts.append(FullWidthMaxPool(name=f"{tag}")(_bn(f"{tag}_bn")(h)))
    timbral = L.Concatenate(axis=2, name="timbral")(fronts[:2])
    temporal = L.Concatenate(axis=2, name="temporal")(fronts[2:])
    front = L.Concatenate(axis=2, name="frontend")([timbral, temporal])  # (B, T, 561, 1)
    mids = [front]
    h = front
    for i in (1, 2, 3):
        conv = L.Conv2D(midend, (7, h.shape[2]), padding="valid", activation="relu", name=f"cnn{i}_conv")(
            _pad_time(h, 3, 3, f"cnn{i}_pad"))
        conv = SwapLast(name=f"cnn{i}_swap")(_bn(f"cnn{i}_bn")(conv))
        h = conv if i == 1 else L.Add(name=f"cnn{i}_add")([conv, h])
        h = L.Activation("linear", name=f"cnn{i}")(h)
        mids.append(h)
    feats = L.Concatenate(axis=2, name="midend")(mids)
    pooled = _bn("pool_bn")(MaxMeanPool(name="maxmean")(feats))
    dense = L.Dense(backend, activation="relu", name="penultimate_dense")(pooled)
    dense = _bn("penultimate")(dense)
    return L.Dense(num_classes, name="logits", dtype="float32")(dense)


def build(name: str, sr: int | None = None) -> keras.Model:
    """Untrained graph. sr=None: input is musicnn's log-mel (B, T, 96, 1); else log-magnitude STFT at `sr`."""
    if sr is None:
        inp = keras.Input((None, N_MELS, 1), name="logmel")
        x = inp
    else:
        inp = keras.Input((None, None, 1), name="logmag")  # any bin count: octaves shrink it
        x = LogMagToLogMel(sr, name="mel_frontend")(inp)
    logits = _vgg(x, 50) if name.endswith("vgg") else _musicnn(x, 50)
    return keras.Model(inp, logits, name=name)


# ---- weights ------------------------------------------------------------------------------------------------
def _checkpoint_arrays(name: str) -> dict[str, np.ndarray]:
    folder = checkpoint_dir(name)
    data, index = folder / ".data-00000-of-00001", folder / ".index"
    if not data.exists():
        raise UserError(f"musicnn checkpoint {folder} is missing; reinstall musicnn==0.1.0")
    if (sha256_file(data), sha256_file(index)) != CHECKSUMS[name]:
        raise UserError(f"musicnn checkpoint {folder} does not match its sha256; reinstall musicnn==0.1.0")
    tensors = read_checkpoint(str(folder) + "/")  # the prefix ends in a slash: the files are ".index", ".data-…"
    return {k: v for k, v in tensors.items() if "Adam" not in k and not k.startswith("beta")}


def _bn_weights(ck: dict, prefix: str) -> list[np.ndarray]:
    return [ck[f"{prefix}/gamma"], ck[f"{prefix}/beta"], ck[f"{prefix}/moving_mean"], ck[f"{prefix}/moving_variance"]]


def _map_checkpoint(name: str, ck: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Checkpoint variables (named in creation order by tf.compat.v1.layers) -> Keras layer weights."""
    out: dict[str, list[np.ndarray]] = {"bn_input": _bn_weights(ck, "batch_normalization")}
    if name.endswith("vgg"):
        for i in range(1, 6):
            out[f"conv{i}_conv"] = [ck[f"{i}CNN/kernel"], ck[f"{i}CNN/bias"]]
            out[f"conv{i}"] = _bn_weights(ck, f"batch_normalization_{i}")
        out["logits"] = [ck["dense/kernel"], ck["dense/bias"]]
        return out
    convs = ["f74_conv", "f77_conv", "s1_conv", "s2_conv", "s3_conv", "cnn1_conv", "cnn2_conv", "cnn3_conv"]
    bns = ["f74_bn", "f77_bn", "s1_bn", "s2_bn", "s3_bn", "cnn1_bn", "cnn2_bn", "cnn3_bn", "pool_bn", "penultimate"]
    for i, layer in enumerate(convs):
        suffix = f"_{i}" if i else ""
        out[layer] = [ck[f"conv2d{suffix}/kernel"], ck[f"conv2d{suffix}/bias"]]
    for i, layer in enumerate(bns, start=1):
        out[layer] = _bn_weights(ck, f"batch_normalization_{i}")
    out["penultimate_dense"] = [ck["dense/kernel"], ck["dense/bias"]]
    out["logits"] = [ck["dense_1/kernel"], ck["dense_1/bias"]]
    return out


def converted_path(name: str) -> Path:
    """Where a checkpoint's conversion lives in the mmdream cache (named by the checkpoint's sha256)."""
    return cache_dir() / f"{name}-{CHECKSUMS[name][0][:12]}.npz"


def converted_weights(name: str) -> Path:
    """Convert a checkpoint once into an .npz in the mmdream cache."""
    target = converted_path(name)
    if not target.exists():
        mapped = _map_checkpoint(name, _checkpoint_arrays(name))
        save_npz_atomic(target, {f"{layer}/{i}": w for layer, ws in mapped.items() for i, w in enumerate(ws)})
    return target


def set_weights(model: keras.Model, name: str) -> None:
    data = np.load(converted_weights(name))
    grouped: dict[str, dict[int, np.ndarray]] = {}
    for key in data.files:
        layer, i = key.rsplit("/", 1)
        grouped.setdefault(layer, {})[int(i)] = data[key]
    for layer, ws in grouped.items():
        model.get_layer(layer).set_weights([ws[i] for i in sorted(ws)])


def dream_net(name: str, sr: int, weights: str = "pretrained", precision: str = "fp32") -> Net:
    """The net with its mel front end for audio at rate `sr`: input (B, T, bins, 1) natural-log magnitude."""
    with dtype_policy(precision):
        model = build(name, sr)
    if weights != "random":
        set_weights(model, name)
    return Net.built(spec(name), model, value_range=None, extras={"sr": sr, "base": name})


def load(record: NetSpec, weights: str, precision: str, sr: int | None = None) -> Net:
    seed_random_weights(weights)
    return dream_net(record.name, sr or SR, "random" if weights == "random" else "pretrained", precision)


def weight_files(record: NetSpec) -> list[Path]:
    return [converted_path(record.name)]


def offline(record: NetSpec) -> bool:
    """Converted already, or convertible from the musicnn wheel's checkpoint."""
    if converted_path(record.name).exists():
        return True
    try:
        return (checkpoint_dir(record.name) / ".index").exists()
    except UserError:
        return False


def status(record: NetSpec) -> str:
    return "offline: yes (musicnn 0.1.0 wheel)" if offline(record) else "absent: run `mmdream models setup`"

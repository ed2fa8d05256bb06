"""YAMNet (Plakal & Ellis, Google; tensorflow/models research/audioset/yamnet) in Keras 3: AudioSet's 521 classes
of sound, from speech and dogs to engines and rain, by a MobileNet v1 on log-mel patches. Its published Keras
weights file (yamnet.h5) is read where the user has it: `mmdream models install yamnet yamnet.h5` checks it
against the architecture and converts it once into the mmdream cache.

Facts used (yamnet.py, params.py and features.py there): 16 kHz; STFT magnitudes of a 25 ms periodic Hann window
every 10 ms (FFT 512); 64 mel bands 125-7500 Hz on the HTK scale, as tf.signal.linear_to_mel_weight_matrix builds
them, applied to magnitudes; log(mel + 0.001); 0.96 s patches; a 3x3 convolution of stride 2 and 13 depthwise
separable blocks (widths 64 ... 1024, strides 1, 2, 1, 2, 1, 2, 1 x5, 2, 1), 'same' padding, no biases,
batch-norm with a centre and no scale (epsilon 1e-4), ReLU; global average pooling; a dense layer of 521 logits;
sigmoid. As every sound net here, the dream model takes the natural-log STFT magnitude at the input's own rate
(the audio dream space, mmdream.pipelines.audio.spectrum) and puts YAMNet's front end inside the graph: magnitudes
rescaled to its window, its mel bands, its log, its 10 ms frames.
"""

from __future__ import annotations

import functools
from pathlib import Path

import keras
import numpy as np
from keras import ops

from mmdream.errors import UserError
from mmdream.nets.cache import cache_dir, save_npz_atomic
from mmdream.nets.keras_base import dtype_policy, seed_random_weights
from mmdream.nets.musicnn import _resized_bins, stft_params
from mmdream.nets.net import Net
from mmdream.nets.registry import NetSpec, spec

RATE, WINDOW, HOP, FFT = 16000, 400, 160, 512  # its STFT: 25 ms every 10 ms at 16 kHz
MEL_BANDS, MEL_LOW, MEL_HIGH, LOG_OFFSET = 64, 125.0, 7500.0, 0.001
CLASSES = 521
# (stride, width) of each block: layer1 a full convolution, layer2..14 depthwise separable
BLOCKS = [(2, 32), (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512), (1, 512),
          (1, 512), (2, 1024), (1, 1024)]
LAYERS = tuple(f"layer{i}" for i in range(1, len(BLOCKS) + 1))
INSTALLED = "yamnet.npz"


# ---- front end ----------------------------------------------------------------------------------------------
def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)


@functools.cache
def mel_matrix(sr: int) -> np.ndarray:
    """(bins, 64) weights from the STFT bins of mmdream's analysis at `sr` to YAMNet's mel bands: triangles on the
    HTK mel scale between 66 equally spaced edges from 125 to 7500 Hz, DC weighted 0 (as TensorFlow builds them
    for its 512-point STFT at 16 kHz, whose 31.25 Hz bins the analysis's nearly match at every common rate)."""
    n_fft, _ = stft_params(sr)
    freqs = _hz_to_mel(np.arange(n_fft // 2 + 1) * sr / n_fft)[:, None]
    edges = np.linspace(_hz_to_mel(MEL_LOW), _hz_to_mel(MEL_HIGH), MEL_BANDS + 2)
    lower, centre, upper = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    weights = np.maximum(0.0, np.minimum((freqs - lower) / (centre - lower), (upper - freqs) / (upper - centre)))
    weights[0] = 0.0
    return weights.astype(np.float32)


def magnitude_scale(sr: int) -> float:
    """What mmdream's STFT magnitudes are multiplied by to be YAMNet's: the ratio of the windows' sums (a tone's
    magnitude is its amplitude times half its window's sum), YAMNet's 400-point Hann against the analysis's."""
    n_fft, _ = stft_params(sr)
    return (WINDOW / 2) / (n_fft / 2)


@keras.saving.register_keras_serializable(package="mmdream")
class LogMagToYamnet(keras.layers.Layer):
    """(B, T, F', 1) natural-log STFT magnitude at `sr` -> (B, T', 64, 1) YAMNet's log-mel at its 10 ms frames.

    F' may be smaller than the rate's bin count (a frequency octave): it is resized back first."""

    def __init__(self, sr: int, **kw):
        super().__init__(**kw)
        self.sr = int(sr)
        self.fb = mel_matrix(self.sr)
        self.scale = magnitude_scale(self.sr)
        self.frames_per_frame = stft_params(self.sr)[1] / self.sr / (HOP / RATE)  # 16 ms frames into 10 ms ones

    def call(self, x):
        bins = self.fb.shape[0]
        x = ops.cast(x, "float32")
        if x.shape[2] != bins:
            x = _resized_bins(x, bins)
        mel = ops.matmul(self.scale * ops.exp(x[..., 0]), ops.convert_to_tensor(self.fb))
        logmel = ops.log(mel + LOG_OFFSET)[..., None]
        return _resized_time(logmel, self.frames_per_frame)

    def compute_output_shape(self, input_shape):
        t = input_shape[1]
        return (input_shape[0], None if t is None else max(1, round(t * self.frames_per_frame)), MEL_BANDS, 1)

    def get_config(self):
        return {**super().get_config(), "sr": self.sr}


def _resized_time(x, factor: float):
    """(B, T, F, 1) bilinearly resized to (B, round(T x factor), F, 1): a known T through keras.ops (every
    backend), an unknown one (TensorFlow's one trace for every chunk) by TensorFlow with the size read at run time."""
    if x.shape[1] is not None:
        return ops.image.resize(x, (max(1, round(int(x.shape[1]) * factor)), int(x.shape[2])),
                                interpolation="bilinear")
    import tensorflow as tf

    frames = tf.maximum(1, tf.cast(tf.round(tf.cast(tf.shape(x)[1], tf.float32) * factor), tf.int32))
    return tf.image.resize(x, tf.stack([frames, x.shape[2]]), method="bilinear")


# ---- the net ------------------------------------------------------------------------------------------------
def _bn(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(center=True, scale=False, epsilon=1e-4, name=name)


def build(sr: int | None = None) -> keras.Model:
    """Untrained graph. sr=None: input is YAMNet's own log-mel patch (B, T, 64, 1); else log-magnitude STFT at `sr`.
    Each block's last ReLU is named `layer1` ... `layer14`, its dreamable layers."""
    L = keras.layers
    if sr is None:
        inp = keras.Input((None, MEL_BANDS, 1), name="logmel")
        x = inp
    else:
        inp = keras.Input((None, None, 1), name="logmag")
        x = LogMagToYamnet(sr, name="yamnet_frontend")(inp)
    for i, (stride, width) in enumerate(BLOCKS, start=1):
        name = f"layer{i}"
        if i == 1:
            x = L.Conv2D(width, 3, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
            x = L.ReLU(name=name)(_bn(f"{name}_conv_bn")(x))
            continue
        x = L.DepthwiseConv2D(3, stride, padding="same", use_bias=False, name=f"{name}_depthwise_conv")(x)
        x = L.ReLU(name=f"{name}_depthwise_conv_relu")(_bn(f"{name}_depthwise_conv_bn")(x))
        x = L.Conv2D(width, 1, 1, padding="same", use_bias=False, name=f"{name}_pointwise_conv")(x)
        x = L.ReLU(name=name)(_bn(f"{name}_pointwise_conv_bn")(x))
    x = L.GlobalAveragePooling2D(name="embeddings")(x)
    logits = L.Dense(CLASSES, name="logits", dtype="float32")(x)
    return keras.Model(inp, logits, name="yamnet")


def weighted_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers that hold weights, in the order YAMNet's file lists them (its graph's order)."""
    return [layer for layer in model.layers if layer.weights]


# ---- weights ------------------------------------------------------------------------------------------------
def read_weights_file(path: str | Path) -> list[list[np.ndarray]]:
    """A Keras HDF5 weights file's arrays, layer by layer in the order it lists its layers (`layer_names`), the
    layers without weights left out; a whole model's file (`model_weights`) too."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in root.attrs["layer_names"]]
            out = []
            for name in names:
                group = root[name]
                weight_names = [w.decode() if isinstance(w, bytes) else str(w)
                                for w in group.attrs.get("weight_names", [])]
                if weight_names:
                    out.append([np.asarray(group[w]) for w in weight_names])
            return out
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise UserError(f"{path} is not a Keras weights file ({e.__class__.__name__})") from None


def fitted(model: keras.Model, arrays: list[list[np.ndarray]], path: str | Path) -> list[list[np.ndarray]]:
    """The file's arrays checked against the model's layers, in order, shape by shape."""
    layers = weighted_layers(model)
    wanted = [[tuple(w.shape) for w in layer.weights] for layer in layers]
    found = [[tuple(a.shape) for a in ws] for ws in arrays]
    if found != wanted:
        where = next((i for i, (a, b) in enumerate(zip(found, wanted)) if a != b), min(len(found), len(wanted)))
        raise UserError(f"{path} is not YAMNet's weights file: its layer {where + 1} of {len(found)} holds "
                        f"{found[where] if where < len(found) else 'nothing'}, YAMNet's "
                        f"{wanted[where] if where < len(wanted) else 'nothing'}")
    return arrays


def installed_path() -> Path:
    return cache_dir() / INSTALLED


def install_weights(name: str, source: str | Path) -> Path:
    """Check a YAMNet weights file against the architecture and keep its arrays in the mmdream cache (the user's
    file stays where it is; the copy appears whole or not at all)."""
    from mmdream.io_utils import check_input_file

    source = check_input_file(source)
    arrays = fitted(build(None), read_weights_file(source), source)
    target = installed_path()
    save_npz_atomic(target, {f"{i}/{j}": a for i, ws in enumerate(arrays) for j, a in enumerate(ws)})
    return target


def _installed_arrays() -> list[list[np.ndarray]]:
    data = np.load(installed_path())
    grouped: dict[int, dict[int, np.ndarray]] = {}
    for key in data.files:
        i, j = (int(v) for v in key.split("/"))
        grouped.setdefault(i, {})[j] = data[key]
    return [[ws[j] for j in sorted(ws)] for _, ws in sorted(grouped.items())]


def dream_net(sr: int, weights: str = "pretrained", precision: str = "fp32") -> Net:
    """The net with its front end for audio at rate `sr`: input (B, T, bins, 1) natural-log magnitude."""
    with dtype_policy(precision):
        model = build(sr)
    if weights != "random":
        if not installed_path().exists():
            raise UserError(status(spec("yamnet")))
        for layer, ws in zip(weighted_layers(model), fitted(model, _installed_arrays(), installed_path())):
            layer.set_weights(ws)
    return Net.built(spec("yamnet"), model, value_range=None, extras={"sr": sr, "base": "yamnet"})


def load(record: NetSpec, weights: str, precision: str, sr: int | None = None) -> Net:
    seed_random_weights(weights)
    return dream_net(sr or RATE, "random" if weights == "random" else "pretrained", precision)


def weight_files(record: NetSpec) -> list[Path]:
    return [installed_path()]


def offline(record: NetSpec) -> bool:
    return installed_path().exists()


def status(record: NetSpec) -> str:
    if offline(record):
        return f"installed ({installed_path()})"
    return (f"absent: download {record.weights_url} and run `mmdream models install yamnet "
            f"{record.weights_url.rsplit('/', 1)[1]}`")

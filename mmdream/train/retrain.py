"""Retrain an image or audio net on the user's own class folders, so dreams show what that data taught it.

Transfer learning as in Yosinski et al. (2014) and Keras' transfer-learning guide: the base net is frozen and a
new head is trained on its deepest dreamable layer; optionally the top blocks are then fine-tuned at a tenth of
the rate, with batch-norm kept in inference mode. The saved model keeps every dreamable layer of its base under
the same names, so `--layers` works as before and `--target CLASS` names the user's own classes.

Images: random crops, flips and colour jitter at a fixed square size. Sounds: clips decoded at 16 kHz mono and
cut into windows of log-magnitude STFT frames (the same input the audio dream feeds the net, whose mel front end
is in the graph), with random crops and gains. Data streams from disk every epoch: memory does not grow with
the size of the data set.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import random
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import keras
import numpy as np

from mmdream.errors import UserError
from mmdream.modality import MODALITIES, Modality

try:  # the examples are read through tf.data, whichever backend trains
    import tensorflow as tf
except ImportError:
    raise UserError("training reads its examples through tf.data and needs TensorFlow: "
                    "pip install tensorflow-cpu") from None
from mmdream.io_utils import atomic_output
from mmdream.nets import Net, load_net
from mmdream.nets.cache import sha256_file
from mmdream.nets.graph import layer_output
from mmdream.nets.registry import SCRATCH, SCRATCH_ARCH, check_train_size, train_bases
from mmdream.specs import options_class

TRAIN_SR = 16000  # the musicnn nets' rate; a trained audio net is rebuilt for other rates when it dreams


# Training's settings as the schema declares them for `mmdream train` (its training concern), and four of its own.
TrainSettings = options_class("TrainSettings", "train", ("train",), internal=[
    ("fine_tune_rate", float, field(default=1e-4)),
    ("crops_per_clip", int, field(default=16)),  # random audio windows drawn from each clip per epoch
    ("unfreeze", float, field(default=0.75)),  # fine-tuning trains layers deeper than this relative depth
    ("dropout", float, field(default=0.3)),
])
TrainSettings.__module__ = __name__


def train_from(kind: str, data, output, spec, progress=None) -> dict:
    """`mmdream train KIND` from its spec (mmdream.specs): the model saved at `output` (default models/NAME.keras)
    with its card; the card, with the model's path."""
    from mmdream.nets.cards import models_dir
    from mmdream.nets.registry import DEFAULT_TRAIN_BASE

    if not Path(data).is_dir():
        raise UserError(f"{data} is not a folder of class sub-folders")
    base = spec.base or DEFAULT_TRAIN_BASE[kind]
    out = Path(output) if output else models_dir() / f"{spec.name or Path(data).name}.keras"
    settings = TrainSettings(**{f.name: getattr(spec, f.name) for f in fields(TrainSettings) if hasattr(spec, f.name)})
    card = train(kind, str(data), base, out, settings, weights=spec.weights, progress=progress)
    return {**card, "path": str(out)}


@dataclass
class Example:
    path: Path
    label: int
    part: str = "all"  # audio only: "head" / "tail" when a single clip is split between training and validation


# ---- data ---------------------------------------------------------------------------------------------------
def scan_classes(root: str | Path, suffixes: Collection[str]) -> dict[str, list[Path]]:
    """{class: sorted files} from a folder of class sub-folders (files nested deeper count too)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root} is not a folder of class sub-folders")
    classes = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in sub.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
        if files:
            classes[sub.name] = files
    if len(classes) < 2:
        kinds = ", ".join(sorted(suffixes))
        raise UserError(f"{root} needs at least two class sub-folders holding {kinds} files (found {len(classes)})")
    return classes


def data_manifest(classes: dict[str, list[Path]], root: str | Path) -> dict:
    """Counts per class and one sha256 over every file's class, relative path and content: the model card
    names exactly the data a model was trained on."""
    root = Path(root)
    total = hashlib.sha256()
    for name, files in sorted(classes.items()):
        for f in files:
            total.update(f"{name}/{f.relative_to(root).as_posix()}\t{sha256_file(f)}\n".encode())
    return {"sha256": total.hexdigest(), "files": sum(len(v) for v in classes.values()),
            "per_class": {k: len(v) for k, v in classes.items()}}


def stratified_split(classes: dict[str, list[Path]], fraction: float, seed: int, mode: str,
                     split_single: bool = False) -> tuple[list[Example], list[Example]]:
    """Hold out `fraction` of every class (at least one file). `mode="tail"` holds out the last files by name,
    which for numbered frames of a film means a stretch of time the net never saw. A class with one file is an
    error, unless `split_single` (audio), where its clip's last part is held out and the rest trained on."""
    if not 0.0 < fraction < 1.0:
        raise UserError("the validation fraction must be between 0 and 1")
    rng = random.Random(seed)
    train, val = [], []
    for label, (name, files) in enumerate(sorted(classes.items())):
        if len(files) == 1:
            if not split_single:
                raise UserError(f"class {name!r} has one file; each class needs at least two (one to validate)")
            train.append(Example(files[0], label, "head"))
            val.append(Example(files[0], label, "tail"))
            continue
        order = list(files) if mode == "tail" else rng.sample(files, len(files))
        n_val = min(len(files) - 1, max(1, round(fraction * len(files))))
        train += [Example(f, label) for f in order[:-n_val]]
        val += [Example(f, label) for f in order[-n_val:]]
    return train, val


class Readers:
    """tf.data runs the example readers (a picture, a sound's windows) inside TensorFlow, which wraps what they raise
    in an error of its own with a traceback: the first UserError a reader raised (a file that is not a picture or a
    sound, say) is kept, and `surfaced` raises it in that error's place, one line for the CLI. Only its words are
    kept: the exception holds the reader's frames and with them tf.data's iterator, which a process holding it
    cannot release at its exit (it hangs there)."""

    def __init__(self) -> None:
        self.failure: str | None = None

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Around a reader's work (inside a generator too: around its loop)."""
        try:
            yield
        except UserError as e:
            self.failure = self.failure or str(e)
            raise

    def reading(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def read(*args, **kwargs):
            with self.watching():
                return fn(*args, **kwargs)
        return read

    @contextlib.contextmanager
    def surfaced(self) -> Iterator[None]:
        try:
            yield
        except Exception:
            if self.failure is not None:
                raise UserError(self.failure) from None
            raise


# ---- images -------------------------------------------------------------------------------------------------
def _load_square(path: bytes, side: int) -> np.ndarray:
    """RGB uint8 (side, side, 3): the short side scaled to `side`, centre-cropped."""
    from mmdream.media.picture import read_image, resize

    rgb = read_image(path.decode()).rgb
    h, w = rgb.shape[:2]
    s = side / min(h, w)
    rgb = resize(rgb, (max(side, round(h * s)), max(side, round(w * s))))
    y, x = (rgb.shape[0] - side) // 2, (rgb.shape[1] - side) // 2
    return np.ascontiguousarray(rgb[y:y + side, x:x + side])


def image_dataset(examples: list[Example], size: int, batch: int, training: bool, seed: int,
                  readers: Readers) -> tf.data.Dataset:
    """Batches of ([-1, 1] RGB, label). Training: random 87.5% crops resized back, flips, colour jitter."""
    paths = tf.constant([str(e.path) for e in examples])
    labels = tf.constant([e.label for e in examples], tf.int32)
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if training:
        ds = ds.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    load_side = round(size / 0.875) if training else size

    def load(path, label):
        img = tf.numpy_function(readers.reading(_load_square), [path, load_side], tf.uint8, stateful=False)
        img = tf.cast(tf.reshape(img, [load_side, load_side, 3]), tf.float32) / 127.5 - 1.0
        if training:
            img = tf.image.random_crop(img, [size, size, 3])
            img = tf.image.random_flip_left_right(img)
            img = tf.image.random_brightness(img, 0.15)
            img = tf.image.random_contrast(img, 0.8, 1.2)
            img = tf.clip_by_value(img, -1.0, 1.0)
        return img, label

    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(batch).prefetch(2)


# ---- sounds -------------------------------------------------------------------------------------------------
SILENCE_DB = 40.0  # quieter than the clip's peak by this much is silence: trimmed, and never a window alone


@functools.lru_cache(maxsize=64)
def clip_logmag(path: str) -> np.ndarray:
    """(T, bins) natural-log STFT magnitude of a clip at 16 kHz mono, DC removed (as the audio dream sees it),
    leading and trailing silence trimmed (a held-out window of silence says nothing about its class)."""
    import librosa

    from mmdream.media.audio_source import load_mono
    from mmdream.pipelines.audio.spectrum import analyse

    mono = load_mono(path, TRAIN_SR)
    mono = (mono - mono.mean()).astype(np.float32)
    if np.any(mono):
        mono = librosa.effects.trim(mono, top_db=SILENCE_DB)[0]
    return analyse(mono[:, None], TRAIN_SR).logmag[0, :, :, 0]


def sounding_starts(region: np.ndarray, window: int) -> np.ndarray:
    """Window starts in `region` whose window holds at least one frame within SILENCE_DB of the clip's peak."""
    energy_db = 10 * np.log10(np.exp(2 * region).sum(axis=1) + 1e-20)
    loud = energy_db > energy_db.max() - SILENCE_DB
    count = np.concatenate([[0], np.cumsum(loud)])
    starts = np.arange(max(1, len(region) - window + 1))
    ok = count[np.minimum(starts + window, len(region))] - count[starts] > 0
    return starts[ok] if ok.any() else starts


def window_frames(seconds: float) -> int:
    from mmdream.nets.musicnn import stft_params

    return max(1, round(seconds * TRAIN_SR / stft_params(TRAIN_SR)[1]))


def clip_region(frames: int, part: str, window: int, fraction: float) -> tuple[int, int]:
    """Frame range of a clip used for `part`: the tail is the last max(window, fraction) of it, at most half."""
    if part == "all":
        return 0, frames
    tail = min(max(window, round(fraction * frames)), frames // 2)
    tail = max(tail, 1)
    return (frames - tail, frames) if part == "tail" else (0, frames - tail)


def fit_window(logmag: np.ndarray, window: int) -> np.ndarray:
    """Loop a short stretch up to the net's input length (at least MIN_FRAMES, as the audio dream pads)."""
    from mmdream.nets.musicnn import MIN_FRAMES

    need = max(window, MIN_FRAMES)
    if len(logmag) >= need:
        return logmag[:need]
    return np.pad(logmag, ((0, need - len(logmag)), (0, 0)), mode="wrap")


def audio_windows(ex: Example, window: int, fraction: float, rng: np.random.Generator | None,
                  crops: int) -> Iterator[np.ndarray]:
    """Windows of a clip's region that are not silence: `crops` random ones (with a random gain of +-6 dB) when
    `rng` is given, else consecutive non-overlapping ones (at least one) for validation."""
    lm = clip_logmag(str(ex.path))
    a, b = clip_region(len(lm), ex.part, window, fraction)
    region = lm[a:b]
    starts = sounding_starts(region, window)
    if rng is None:
        chosen = [s for s in range(0, max(1, len(region) - window + 1), window) if s in set(starts)]
        for start in chosen or [0]:
            yield fit_window(region[start:start + window], window)
        return
    for _ in range(crops):
        start = int(rng.choice(starts))
        gain = np.log(10 ** (rng.uniform(-6, 6) / 20))
        yield spec_augment(fit_window(region[start:start + window], window), rng) + np.float32(gain)


def spec_augment(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One time and one frequency band set to the window's floor (SpecAugment, Park et al. 2019)."""
    w = w.copy()
    floor = w.min()
    t, f = int(rng.integers(0, len(w) // 8 + 1)), int(rng.integers(0, w.shape[1] // 8 + 1))
    t0, f0 = int(rng.integers(0, len(w) - t + 1)), int(rng.integers(0, w.shape[1] - f + 1))
    w[t0:t0 + t] = floor
    w[:, f0:f0 + f] = floor
    return w


def audio_dataset(examples: list[Example], settings: TrainSettings, training: bool,
                  readers: Readers) -> tf.data.Dataset:
    """Batches of ((T, bins, 1) log-magnitude windows, label), streamed clip by clip."""
    window = window_frames(settings.window)
    bins = len(clip_logmag(str(examples[0].path))[0])
    epoch = [0]

    def gen():
        rng = np.random.default_rng(settings.seed + epoch[0]) if training else None
        epoch[0] += 1
        order = list(examples)
        if rng is not None:
            rng.shuffle(order)
        with readers.watching():
            for ex in order:
                for w in audio_windows(ex, window, settings.val_fraction, rng, settings.crops_per_clip):
                    yield w[..., None].astype(np.float32), np.int32(ex.label)

    frames = fit_window(np.zeros((1, bins), np.float32), window).shape[0]
    ds = tf.data.Dataset.from_generator(gen, output_signature=(
        tf.TensorSpec((frames, bins, 1), tf.float32), tf.TensorSpec((), tf.int32)))
    count = len(examples) * settings.crops_per_clip if training else sum(
        1 for ex in examples for _ in audio_windows(ex, window, settings.val_fraction, None, 0))
    ds = ds.apply(tf.data.experimental.assert_cardinality(count))  # Keras then knows where an epoch ends
    if training:
        ds = ds.shuffle(2048, seed=settings.seed)
    return ds.batch(settings.batch_size).prefetch(2)


# ---- models -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageTraining:
    """What training differs in for pictures: the base's smallest side, its features, the crops it learns from."""

    modality: Modality = MODALITIES["image"]
    split_single: bool = False  # a class of one picture cannot be split

    def check(self, base: str, settings: TrainSettings) -> None:
        check_train_size(base, settings.size)

    def features(self, base: str, weights: str) -> tuple[Net, keras.KerasTensor]:
        net = load_net(base, weights=weights, fresh=True)  # its weights are trained
        return net, keras.layers.GlobalAveragePooling2D(name="head_pool")(layer_output(net.model, net.layers[-1]))

    def datasets(self, train_ex: list[Example], val_ex: list[Example], settings: TrainSettings, readers: Readers):
        return (image_dataset(train_ex, settings.size, settings.batch_size, True, settings.seed, readers),
                image_dataset(val_ex, settings.size, settings.batch_size, False, settings.seed, readers))

    def input_card(self, settings: TrainSettings) -> dict:
        return {"size": settings.size, "range": [-1, 1]}


@dataclass(frozen=True)
class AudioTraining:
    """What training differs in for sounds: a base may start from scratch, its features, the windows it learns
    from."""

    modality: Modality = MODALITIES["audio"]
    split_single: bool = True  # one long clip splits into its own windows

    def check(self, base: str, settings: TrainSettings) -> None:
        pass

    def features(self, base: str, weights: str) -> tuple[Net, keras.KerasTensor]:
        arch = SCRATCH_ARCH if base == SCRATCH else base
        net = load_net(arch, weights="random" if base == SCRATCH or weights == "random" else "pretrained",
                       sr=TRAIN_SR, fresh=True)
        if not arch.endswith("vgg"):
            return net, net.model.get_layer("penultimate").output
        # every block's mean activation (Choi et al. 2017, "Transfer learning for music classification and
        # regression tasks": all layers' pooled features transfer best)
        blocks = [net.model.get_layer(name).output for name in net.layers if name.startswith("conv")]
        return net, keras.layers.Concatenate(name="head_pool")(
            [keras.layers.GlobalAveragePooling2D(name=f"head_mean{i}")(b) for i, b in enumerate(blocks, start=1)])

    def datasets(self, train_ex: list[Example], val_ex: list[Example], settings: TrainSettings, readers: Readers):
        return audio_dataset(train_ex, settings, True, readers), audio_dataset(val_ex, settings, False, readers)

    def input_card(self, settings: TrainSettings) -> dict:
        return {"sr": TRAIN_SR, "window_seconds": settings.window, "window_frames": window_frames(settings.window)}


TRAINING = {t.modality.name: t for t in (ImageTraining(), AudioTraining())}


def build_classifier(kind: str, base: str, n_classes: int, settings: TrainSettings,
                     weights: str = "imagenet") -> tuple[Net, keras.Model]:
    """The base net plus a new head on its deepest dreamable layer. Returns (base net, classifier)."""
    if base not in (bases := train_bases(kind)):
        raise UserError(f"unknown {kind} base {base!r}; choose one of {', '.join(bases)}")
    net, h = TRAINING[kind].features(base, weights)
    h = keras.layers.Dropout(settings.dropout, name="head_dropout")(h)
    logits = keras.layers.Dense(n_classes, name="class_logits", dtype="float32")(h)
    return net, keras.Model(net.model.input, logits, name=f"{base}_retrained")


def _is_head(layer: keras.layers.Layer) -> bool:
    return layer.name.startswith(("head_", "class_logits"))


def set_trainable(model: keras.Model, net: Net, depth: float | None) -> int:
    """Freeze the base (depth None) or train the layers after the dreamable layer at `depth`; batch-norm stays
    frozen (inference mode) either way. Returns the number of trainable weights."""
    names = [layer.name for layer in model.layers]
    first = len(names) if depth is None else names.index(net.layer_at_depth(depth)) + 1
    for i, layer in enumerate(model.layers):
        bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = _is_head(layer) or (i >= first and not bn)
    return len(model.trainable_weights)


class EpochLog(keras.callbacks.Callback):
    """One line per epoch (loss, accuracy, validation accuracy) under a bar with an ETA."""

    def __init__(self, bar, phase: str):
        super().__init__()
        self.bar, self.phase = bar, phase
        self.history: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: round(float(v), 4) for k, v in (logs or {}).items()}
        self.history.append({"phase": self.phase, "epoch": epoch + 1, **logs})
        self.bar.write(f"{self.phase} epoch {epoch + 1}: loss {logs.get('loss', 0):.3f} "
                       f"acc {logs.get('accuracy', 0):.3f}  val loss {logs.get('val_loss', 0):.3f} "
                       f"val acc {logs.get('val_accuracy', 0):.3f}")
        self.bar.update(1)


def _fit(model, train_ds, val_ds, epochs: int, rate: float, patience: int, bar, phase: str) -> list[dict]:
    model.compile(optimizer=keras.optimizers.Adam(rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    log = EpochLog(bar, phase)
    stop = keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=[stop, log], verbose=0, shuffle=False)
    bar.update(epochs - len(log.history))  # epochs skipped by early stopping
    return log.history


def evaluate(model: keras.Model, val_ds: tf.data.Dataset, n_classes: int) -> dict:
    """Accuracy, per-class accuracy and the confusion matrix on the validation split."""
    truth, pred = [], []
    for x, y in val_ds:
        truth.append(y.numpy())
        pred.append(np.argmax(model(x, training=False).numpy(), axis=-1))
    t, p = np.concatenate(truth), np.concatenate(pred)
    confusion = np.zeros((n_classes, n_classes), int)
    np.add.at(confusion, (t, p), 1)
    per_class = [float(confusion[i, i] / max(1, confusion[i].sum())) for i in range(n_classes)]
    return {"val_accuracy": float(np.mean(t == p)), "val_examples": int(len(t)), "chance": 1.0 / n_classes,
            "per_class_accuracy": per_class, "confusion": confusion.tolist()}


# ---- the command --------------------------------------------------------------------------------------------
def train(kind: str, data: str | Path, base: str, out: str | Path, settings: TrainSettings,
          weights: str = "imagenet", progress: Callable[[int, str], object] | None = None) -> dict:
    """Train, evaluate and save `out` (.keras) with its model card beside it; returns the card."""
    out = Path(out)
    if out.suffix != ".keras":
        raise UserError(f"{out}: a trained model is saved as NAME.keras")
    how = TRAINING[kind]
    how.check(base, settings)
    keras.utils.set_random_seed(settings.seed)
    classes = scan_classes(data, how.modality.reads)
    names = sorted(classes)
    manifest = data_manifest(classes, data)
    train_ex, val_ex = stratified_split(classes, settings.val_fraction, settings.seed, settings.split,
                                        split_single=how.split_single)
    net, model = build_classifier(kind, base, len(names), settings, weights)
    readers = Readers()
    train_ds, val_ds = how.datasets(train_ex, val_ex, settings, readers)
    scratch = base == "scratch"
    total = settings.epochs + (0 if scratch else settings.fine_tune_epochs)
    bar = progress(total, f"training {out.stem}") if progress else _NoBar()
    with bar, readers.surfaced():
        if scratch:
            for layer in model.layers:
                layer.trainable = True
        else:
            set_trainable(model, net, None)
        history = _fit(model, train_ds, val_ds, settings.epochs, settings.learning_rate, settings.patience, bar,
                       "scratch" if scratch else "head")
        if settings.fine_tune_epochs and not scratch:
            set_trainable(model, net, settings.unfreeze)
            history += _fit(model, train_ds, val_ds, settings.fine_tune_epochs, settings.fine_tune_rate,
                            settings.patience, bar, "fine-tune")
    with readers.surfaced():
        metrics = evaluate(model, val_ds, len(names))
    metrics["history"] = history
    metrics["train_accuracy"] = history[-1].get("accuracy") if history else None
    card = {
        "name": out.stem, "kind": kind, "base": base, "classes": names, "layers": net.layers,
        "default_layers": net.default_layers, "data": str(Path(data).resolve()), "manifest": manifest,
        "split": {"mode": settings.split, "val_fraction": settings.val_fraction, "seed": settings.seed,
                  "train": len(train_ex), "val": len(val_ex)},
        "metrics": metrics, "settings": asdict(settings),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "input": how.input_card(settings),
    }
    save_model(model, card, out)
    return card


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int = 1) -> None:
        pass

    def write(self, line: str) -> None:
        print(line)


def save_model(model: keras.Model, card: dict, out: Path) -> None:
    """Model and card, each written under a temporary name and renamed when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp:
        model.save(tmp)
    with atomic_output(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(card, indent=2))

"""Compute musicnn reference logits straight from the TF1 checkpoints with raw TensorFlow ops.

Why: the Keras port is checked against these numbers (tests/data/musicnn_parity.json). This is an independent
transcription of musicnn 0.1.0's `models.py` (vgg, build_musicnn with frontend/midend/backend) in inference mode,
reading each variable by its checkpoint name; `tf.compat.v1.layers` itself is unavailable under Keras 3.
Run: python scripts/musicnn_reference.py  (rewrites the JSON; the input is a seeded random log-mel patch).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmdream.nets.musicnn import NETS, checkpoint_dir

FRAMES, MELS, EPS = 187, 96, 1e-3
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "musicnn_parity.json"


def reference_input() -> np.ndarray:
    return np.random.default_rng(0).uniform(0.0, 3.0, (1, FRAMES, MELS)).astype(np.float32)


def _reader(name):
    r = tf.compat.v1.train.NewCheckpointReader(str(checkpoint_dir(name)) + "/")
    return lambda k: tf.constant(r.get_tensor(k))


def _bn(v, x, prefix):
    return (x - v(f"{prefix}/moving_mean")) / tf.sqrt(v(f"{prefix}/moving_variance") + EPS) * v(
        f"{prefix}/gamma") + v(f"{prefix}/beta")


def _conv(v, x, prefix, padding):
    return tf.nn.relu(tf.nn.conv2d(x, v(f"{prefix}/kernel"), 1, padding) + v(f"{prefix}/bias"))


def vgg_logits(name, x):
    v = _reader(name)
    h = _bn(v, x[..., None], "batch_normalization")
    pools = [((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))]
    for i, (size, stride) in enumerate(pools, start=1):
        h = _bn(v, _conv(v, h, f"{i}CNN", "SAME"), f"batch_normalization_{i}")
        h = tf.nn.max_pool2d(h, size, stride, "VALID")
    return tf.reshape(h, [1, -1]) @ v("dense/kernel") + v("dense/bias")


def musicnn_logits(name, x):
    v = _reader(name)
    h = _bn(v, x[..., None], "batch_normalization")
    pad7 = tf.pad(h, [[0, 0], [3, 3], [0, 0], [0, 0]])
    feats = []
    for i, (inp, pad) in enumerate([(pad7, "VALID"), (pad7, "VALID"), (h, "SAME"), (h, "SAME"), (h, "SAME")]):
        c = _bn(v, _conv(v, inp, f"conv2d{'_' + str(i) if i else ''}", pad), f"batch_normalization_{i + 1}")
        feats.append(tf.reduce_max(c, axis=2))  # max over all frequencies, squeezed
    front = tf.concat(feats, 2)[..., None]  # (1, T, 561, 1)
    mids, cur = [front], front
    for j, i in enumerate((5, 6, 7)):
        c = _conv(v, tf.pad(cur, [[0, 0], [3, 3], [0, 0], [0, 0]]), f"conv2d_{i}", "VALID")
        c = tf.transpose(_bn(v, c, f"batch_normalization_{i + 1}"), [0, 1, 3, 2])
        cur = c if j == 0 else c + cur
        mids.append(cur)
    m = tf.concat(mids, 2)
    pooled = tf.reshape(tf.concat([tf.reduce_max(m, 1), tf.reduce_mean(m, 1)], 2), [1, -1])
    pooled = _bn(v, pooled, "batch_normalization_9")
    dense = _bn(v, tf.nn.relu(pooled @ v("dense/kernel") + v("dense/bias")), "batch_normalization_10")
    return dense @ v("dense_1/kernel") + v("dense_1/bias")


def main() -> None:
    x = tf.constant(reference_input())
    out = {"input": "numpy default_rng(0).uniform(0, 3, (1, 187, 96)) float32", "logits": {}}
    for name in NETS:
        fn = vgg_logits if name.endswith("vgg") else musicnn_logits
        out["logits"][name] = [float(f"{v:.7g}") for v in np.asarray(fn(name, x))[0]]
    OUT.write_text(json.dumps(out, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

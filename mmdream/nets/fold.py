"""Batch-norm folding for dreaming.

A dream never trains, so every inference-mode batch norm that directly follows a linear convolution is an affine
map per channel and can be folded into that convolution's kernel and bias. The folded net computes the same
activations (to float round-off) with one elementwise pass fewer per layer, forward and backward: on this CPU an
InceptionV3 ascent step at 512x512 went from 0.278 s to 0.214 s (the figure the README gives).
"""

from __future__ import annotations

import weakref

import keras
import numpy as np

_CONVS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


class FoldedAway(keras.layers.Layer):
    """Stands where a folded batch norm was, so layer names (and dreamable layers) stay the same."""

    def call(self, x, training=None, mask=None):
        return x


def foldable_pairs(model: keras.Model) -> dict[str, keras.layers.BatchNormalization]:
    """conv layer name -> the batch norm that alone reads its linear output (channels last)."""
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or len(layer._inbound_nodes) != 1:
            continue
        src = layer._inbound_nodes[0].input_tensors[0]._keras_history[0]
        if (isinstance(src, _CONVS) and src.activation is keras.activations.linear and len(src._outbound_nodes) == 1
                and len(src._inbound_nodes) == 1 and layer.axis in (-1, 3)):
            pairs[src.name] = layer
    return pairs


# model -> its folded twin. A dream never changes a net's weights, so one twin serves every dreamer of the net
# (a studio's requests, a notebook's dreams, a film's audio and picture passes); a net whose weights are trained
# is a fresh one (load_net(fresh=True)), never one a dreamer has folded.
_FOLDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """The same net with conv + batch norm pairs folded, made once per net; `model` itself when there is nothing
    to fold."""
    folded = _FOLDED.get(model)
    if folded is None:
        folded = _FOLDED[model] = _fold(model)
    return folded


def _fold(model: keras.Model) -> keras.Model:
    pairs = foldable_pairs(model)
    if not pairs:
        return model
    norms = {bn.name for bn in pairs.values()}

    def clone(layer):
        if layer.name in norms:
            return FoldedAway(name=layer.name, dtype=layer.dtype_policy)
        config = layer.get_config()
        if layer.name in pairs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    folded = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.name in norms or not layer.weights:
            continue
        target = folded.get_layer(layer.name)
        if layer.name in pairs:
            target.set_weights(_folded_weights(layer, pairs[layer.name]))
        else:
            target.set_weights(layer.get_weights())
    return folded


def _folded_weights(conv, bn) -> list[np.ndarray]:
    weights = conv.get_weights()
    bias = weights[1] if conv.use_bias else None
    norm = [bn.gamma if bn.scale else None, bn.beta if bn.center else None, bn.moving_mean, bn.moving_variance]
    return folded_conv(weights[0], bias, [None if w is None else np.asarray(w) for w in norm], bn.epsilon,
                       isinstance(conv, keras.layers.DepthwiseConv2D))


def folded_conv(kernel: np.ndarray, bias: np.ndarray | None, norm: list, epsilon: float,
                depthwise: bool) -> list[np.ndarray]:
    """[kernel, bias] of a convolution with the inference-mode batch norm after it folded in; `norm` is the
    batch norm's [gamma, beta, moving mean, moving variance] (gamma or beta None where it has none)."""
    gamma, beta, mean, variance = (None if w is None else np.asarray(w, np.float32) for w in norm)
    scale = (gamma if gamma is not None else 1.0) / np.sqrt(variance + epsilon)
    if depthwise:  # output channel c * multiplier + m
        kernel = kernel * scale.reshape(kernel.shape[2], kernel.shape[3])
    else:
        kernel = kernel * scale
    bias = bias if bias is not None else np.zeros_like(mean)
    shift = beta if beta is not None else 0.0
    return [kernel.astype(np.float32), ((bias - mean) * scale + shift).astype(np.float32)]

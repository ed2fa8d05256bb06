"""`--plot`: the input's and the dream's spectrograms side by side in a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmdream.io_utils import atomic_output
from mmdream.nets.musicnn import stft_params
from mmdream.pipelines.audio.spectrum import spectrogram_db


def plot_spectrograms(before: np.ndarray, after: np.ndarray, sr: int, path: str) -> None:
    """Before/after log spectrograms (first channel) side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, x, title in zip(axes, (before, after), ("input", "dream")):
        lm = spectrogram_db(x[: 30 * sr], sr)
        ax.imshow(lm, origin="lower", aspect="auto", cmap="magma", vmin=lm.max() - 90, vmax=lm.max(),
                  extent=(0, lm.shape[1] * stft_params(sr)[1] / sr, 0, sr / 2000))
        ax.set_title(title)
        ax.set_xlabel("s")
    axes[0].set_ylabel("kHz")
    fig.tight_layout()
    with atomic_output(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)

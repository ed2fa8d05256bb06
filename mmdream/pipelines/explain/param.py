"""How an explained input is parameterised: what the optimiser changes, and how that becomes the net's input.

A picture optimised pixel by pixel fills with high-frequency patterns the net responds to and a person does not
see as anything. Feature visualisation (Olah et al. 2017) optimises instead the Fourier coefficients of the
picture, each scaled by 1/frequency so every frequency moves about equally, in a decorrelated colour space (the
square root of ImageNet's colour correlation, the figures lucid uses), squashed into the net's range by a
sigmoid. `--param pixel` keeps plain pixels, to compare. A sound is its log-magnitude spectrogram, the audio
nets' own input, held after each step to what resynthesis can deliver (mmdream.pipelines.audio.block).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from keras import ops

# The square root of ImageNet's RGB correlation (lucid's `color_correlation_svd_sqrt`), its columns normalised to
# the largest norm: decorrelated values -> RGB.
_COLOUR = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
COLOUR = _COLOUR / np.max(np.linalg.norm(_COLOUR, axis=0))
INIT_SD = 0.01  # the spread of a parameterisation's noise at the start


@dataclass
class PictureParam:
    """A batch of pictures (B, H, W, 3) in `value_range` from a parameter tensor."""

    shape: tuple[int, int]
    value_range: tuple[float, float]
    fourier: bool = True

    def __post_init__(self) -> None:
        h, w = self.shape
        fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
        freqs = np.sqrt(fx * fx + fy * fy)
        self.scale = (np.sqrt(h * w) / np.maximum(freqs, 1.0 / max(h, w))).astype(np.float32)

    def noise(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        h, w = self.shape
        shape = (batch, 2, 3, h, w) if self.fourier else (batch, h, w, 3)
        return rng.normal(0, INIT_SD, shape).astype(np.float32)

    def to_input(self, p):
        """The pictures a parameter stands for, in the net's range."""
        if self.fourier:
            scale = ops.convert_to_tensor(self.scale)  # a tensor: PyTorch will not multiply by an array
            real, imag = ops.ifft2((p[:, 0] * scale, p[:, 1] * scale))  # (B, 3, H, W)
            x = ops.transpose(real, (0, 2, 3, 1)) / 4.0
            x = ops.einsum("bhwc,dc->bhwd", x, ops.convert_to_tensor(COLOUR))
        else:
            x = p
        lo, hi = self.value_range
        return lo + (hi - lo) * ops.sigmoid(x)

    def of_picture(self, x: np.ndarray) -> np.ndarray:
        """The parameter whose picture is `x` (B, H, W, 3) in the net's range (to start from a photo)."""
        lo, hi = self.value_range
        unit = np.clip((x - lo) / (hi - lo), 0.02, 0.98)
        y = np.log(unit / (1 - unit)).astype(np.float32)
        if not self.fourier:
            return y
        decorrelated = (y @ np.linalg.inv(COLOUR).T).transpose(0, 3, 1, 2)  # (B, 3, H, W)
        spectrum = np.fft.fft2(4.0 * decorrelated) / self.scale
        return np.stack([spectrum.real, spectrum.imag], axis=1).astype(np.float32)


@dataclass
class SoundParam:
    """A batch of log-magnitude spectrograms (B, T, F, 1): the parameter is the input itself."""

    def to_input(self, p):
        return p


def high_frequency_share(pictures: np.ndarray) -> np.ndarray:
    """Each picture's share of spectral energy above half the Nyquist frequency (its mean removed): what a plain
    pixel parameterisation fills with and a Fourier one keeps low."""
    x = pictures - pictures.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2
    h, w = x.shape[1:3]
    radius = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2)
    high = (radius > 0.25)[None, :, :, None]
    return (power * high).sum(axis=(1, 2, 3)) / np.maximum(power.sum(axis=(1, 2, 3)), 1e-30)

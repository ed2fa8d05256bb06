"""What every command gives back, typed: where it wrote (if anywhere), its figures by name, and one `summary()`, the
line the command line prints after the output's name and the studio shows under the result. The figures are also
the JSON a `--report` holds (`report()`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def _times(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.2f}x"


def _maybe(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@dataclass
class Result:
    """Where a command wrote (None: nowhere) and the figures it measured."""

    output: str | None
    figures: dict = field(repr=False)

    @property
    def path(self) -> str | None:
        """The file written (None: nothing was)."""
        return self.output

    @property
    def seconds(self) -> float:
        return self.figures.get("seconds", float("nan"))

    @property
    def objective_before(self) -> float | None:
        return self.figures.get("objective_before")

    @property
    def objective_after(self) -> float | None:
        return self.figures.get("objective_after")

    @property
    def objective_gain(self) -> float:
        return self.figures.get("objective_gain", float("nan"))

    @property
    def target(self) -> str | None:
        return self.figures.get("target")

    def objective(self) -> str:
        """'objective 1.2 -> 3.4 (2.80x)', or for a class target 'logit of dog 0.1 -> 5.3 (+5.2)'; '' where the
        objective was not measured."""
        before, after = self.objective_before, self.objective_after
        if before is None or after is None:
            return ""
        if self.target:
            return f"logit of {self.target} {before:.3g} -> {after:.3g} ({after - before:+.3g})"
        return f"objective {before:.3g} -> {after:.3g} ({self.objective_gain:.2f}x)"

    def summary(self) -> str:
        return self.objective()

    def report(self) -> dict:
        """The JSON the CLI's --report writes."""
        return dict(self.figures)


@dataclass
class ImageResult(Result):
    image: np.ndarray = field(default=None, repr=False)  # RGB uint8 (H, W, 3), as written

    def summary(self) -> str:
        measured = self.objective()
        return f"{measured + ', ' if measured else ''}dreamed in {self.seconds:.2f} s"


@dataclass
class SoundPass:
    """One pass of a sound dream (an ouroboros feeds each back into the next)."""

    figures: dict

    @property
    def output(self) -> str | None:
        return self.figures.get("output")

    @property
    def loudness_lufs(self) -> float:
        return self.figures["output_loudness_lufs"]

    @property
    def true_peak_dbfs(self) -> float:
        return self.figures["true_peak_dbfs"]

    @property
    def warning(self) -> str | None:
        return self.figures.get("warning")

    def summary(self, target: str | None) -> str:
        f = self.figures
        return (f"{Result(self.output, {**f, 'target': target}).objective()}, {f['duration_s']:.2f} s at "
                f"{f['sample_rate']} Hz, {level(self.loudness_lufs, self.true_peak_dbfs)}")


SILENT_PEAK_DBFS = -200.0  # below any sound a file can hold (24-bit's floor is -144 dBFS)


def level(lufs: float | None, peak_dbfs: float | None) -> str:
    """A written sound's loudness and true peak, as a summary says them: "silent" where it is (its peak the floor
    of -240 dBFS, or null in a report read back), a loudness under the gate as such (BS.1770 measures nothing
    quieter than -70 LUFS: -inf)."""
    if peak_dbfs is None or peak_dbfs <= SILENT_PEAK_DBFS:
        return "silent"
    loudness = f"{lufs:.1f} LUFS" if lufs is not None and math.isfinite(lufs) else "below -70 LUFS (BS.1770's gate)"
    return f"{loudness}, true peak {peak_dbfs:.1f} dBFS"


@dataclass
class AudioResult(Result):
    sr: int = 0
    _audio: np.ndarray | None = field(default=None, repr=False)

    @property
    def audio(self) -> np.ndarray:
        """Samples (n, channels) float32 as written (read from the output on first use: it may be long)."""
        if self._audio is None:
            from mmdream.media.audio_source import load_whole

            self._audio = load_whole(self.output)[0]
        return self._audio

    @property
    def passes(self) -> list[SoundPass]:
        return [SoundPass(p) for p in self.figures.get("passes", [self.figures])]

    @property
    def warnings(self) -> list[str]:
        return [p.warning for p in self.passes if p.warning]

    def summary(self) -> str:
        """The last pass's figures; an ouroboros names each earlier pass's file first."""
        passes = self.passes
        lines = [f"pass {i + 1} ({Path(p.output).name}): {p.summary(self.target)}" for i, p in enumerate(passes[:-1])
                 if p.output]
        return "\n".join([*lines, passes[-1].summary(self.target)])


@dataclass
class FilmResult(Result):
    """A dream film's figures: frames, their mean objective gain, flicker, speed; per frame in `per_frame`."""

    @property
    def objective_gain(self) -> float:
        return self.figures.get("objective_gain_mean", float("nan"))

    @property
    def objective_before(self) -> float | None:
        return None  # per frame, in figures["per_frame"]

    @property
    def objective_after(self) -> float | None:
        return None

    @property
    def frames(self) -> int:
        return self.figures["frames"]

    @property
    def fps(self) -> float:
        return self.figures["fps"]

    @property
    def flicker(self) -> float | None:
        return self.figures.get("flicker_mean")

    @property
    def frames_per_second(self) -> float:
        return self.figures["frames_per_second"]

    @property
    def per_frame(self) -> list[dict]:
        return self.figures.get("per_frame", [])

    @property
    def warnings(self) -> list[str]:
        """What the soundtrack's dream warned of (a film cut short: its sound decodes shorter than its header says),
        as a sound's dream says it."""
        dreamed = (self.figures.get("soundtrack") or {}).get("dream") or {}
        return [dreamed["warning"]] if dreamed.get("warning") else []

    def summary(self) -> str:
        from mmdream.pipelines.film.cluster import segment_report

        line = (f"{self.frames} frames at {self.fps:g} fps ({self.figures['duration_s']:.2f} s), objective gain "
                f"{_times(self.objective_gain)} (mean of "
                f"{self.figures.get('objective_measured_frames', 0)} measured frames), flicker "
                f"{_maybe(self.flicker)}, {self.frames_per_second:.2f} frames/s")
        if self.figures.get("resumed_frames"):
            line += f", {self.figures['resumed_frames']} frames resumed from an earlier render"
        segments = segment_report(self.figures) if self.figures.get("segments") else ""
        return line + (f"\n{segments}" if segments else "")


@dataclass
class ZoomResult(FilmResult):
    """The endless zoom's figures: as a film's, and how far its last seconds drifted from its first."""

    def summary(self) -> str:
        stability = self.figures["stability"]
        stable = ", ".join(f"{k} x{v:.2f}" for k, v in stability["ratio"].items())
        return (f"{self.frames} frames at {self.fps:g} fps, objective gain {_times(self.objective_gain)} over each "
                f"frame's moved input (mean), flicker {_maybe(self.flicker)}, last against first "
                f"{stability['window_s']:g} s: {stable}, {self.frames_per_second:.2f} frames/s")


@dataclass
class LiveResult(FilmResult):
    """A live dream's figures: frames in and out, how each was made, latency."""

    def summary(self) -> str:
        f = self.figures
        heard = (f"; sound: {f['audio_dreamed_chunks']} of {f['audio_chunks']} chunks dreamed, latency p95 "
                 f"{1000 * (f['audio_latency_p95_s'] or 0):.0f} ms") if "audio_chunks" in f else ""
        return (f"{f['frames_out']} of {f['frames_in']} frames written ({f['dreamed_frames']} dreamed, "
                f"{f['carried_frames']} carried), latency p50 {1000 * f['latency_p50_s']:.0f} ms, p95 "
                f"{1000 * f['latency_p95_s']:.0f} ms, max {1000 * f['latency_max_s']:.0f} ms{heard}")


def change(drop: float) -> str:
    """A loss's ratio start/end as a reader says it: "5.8x lower", or "33x higher" where the passes raised it (a
    style that is the content itself: its loss starts near nothing)."""
    if not math.isfinite(drop) or drop >= 1:
        return f"{drop:.1f}x lower"
    return f"{1 / max(drop, 1e-12):.3g}x higher"


@dataclass
class StyleResult(Result):
    """A style transfer's figures: style and content loss at the start and the end (a film's: their mean)."""

    @property
    def objective_before(self) -> float:  # the style loss is what style transfer lowers
        return self.figures.get("style_loss_start", self.figures.get("style_loss_mean"))

    @property
    def objective_after(self) -> float:
        return self.figures.get("style_loss_end", self.figures.get("style_loss_mean"))

    @property
    def objective_gain(self) -> float:
        return self.figures.get("style_loss_drop", float("nan"))

    def summary(self) -> str:
        f = self.figures
        if "style_loss_mean" in f:  # a film's frames
            return f"{f['frames']} frames, style loss {f['style_loss_mean']:.3g} (mean), flicker {_maybe(f['flicker_mean'])}"
        line = f"style loss {f['style_loss_start']:.3g} -> {f['style_loss_end']:.3g} ({change(f['style_loss_drop'])})"
        if "output_loudness_lufs" in f:
            return f"{line}, {level(f['output_loudness_lufs'], f['true_peak_dbfs'])}"
        return f"{line}, content loss {f['content_loss_end']:.3g}"


@dataclass
class TrainResult(Result):
    """A retrained net: its model file, and its card (classes, layers, validation accuracy)."""

    @property
    def card(self) -> dict:
        return self.figures

    @property
    def classes(self) -> list[str]:
        return self.figures["classes"]

    @property
    def val_accuracy(self) -> float:
        return self.figures["metrics"]["val_accuracy"]

    def summary(self) -> str:
        from mmdream.modality import MODALITIES

        m = self.figures["metrics"]
        return (f"{len(self.classes)} classes, validation accuracy {m['val_accuracy']:.3f} on {m['val_examples']} "
                f"held-out {MODALITIES[self.figures['kind']].example} (chance {m['chance']:.3f}); card "
                f"{Path(self.output).with_suffix('.json')}")

    def described(self) -> str:
        """`mmdream models NAME` for a model trained here: where it came from, how well it does, its layers and
        classes."""
        f, m = self.figures, self.figures["metrics"]
        return (f"{self.output} {f['kind']} net retrained from {f['base']} on {f['manifest']['files']} files "
                f"(data sha256 {f['manifest']['sha256'][:16]}, {f['date']})\n"
                f"    validation accuracy {m['val_accuracy']:.3f} on {m['val_examples']} held-out "
                f"(chance {m['chance']:.3f})\n    layers: {', '.join(f['layers'])}\n"
                f"    classes: {', '.join(self.classes)}")

    def listed(self) -> str:
        """`mmdream models`' lines for it."""
        accuracy = self.figures.get("metrics", {}).get("val_accuracy", "n/a")
        return (f"{self.output:20s} {self.figures['kind']:6s} weights: trained here\n    trained on "
                f"{len(self.classes)} classes from {self.figures['base']} (val accuracy {accuracy})")


@dataclass
class ExplainResult(Result):
    """What `explain` made of a net: one row per visualisation in `objectives` (its goal, objective, and for a
    class its probability, for a picture how often the net still sees the class under unseen transformations,
    for a channel its activation against its layer's mean channel), written as a grid or a folder of sounds."""

    @property
    def objectives(self) -> list[dict]:
        return self.figures["objectives"]

    @property
    def transfer(self) -> float | None:
        """Pictures of classes: the mean share of unseen transformations under which the net sees the class."""
        return self.figures.get("transfer_mean")

    def summary(self) -> str:
        parts = [f"{len(self.objectives)} visualisation(s) of {self.figures['net']} in {self.seconds:.1f} s"]
        if (transfer := self.figures.get("transfer_mean")) is not None:
            parts.append(f"each class seen under unseen transformations {transfer:.0%} of the time")
        if (probability := self.figures.get("probability_mean")) is not None:
            parts.append(f"class probability {probability:.2f}")
        if (shifted := self.figures.get("probability_shifted_min_mean")) is not None:
            parts.append(f"{shifted:.2f} shifted and 3 dB off")
        if (specificity := self.figures.get("specificity_mean")) is not None:
            parts.append(f"each channel {specificity:.1f}x its layer's mean")
        return ", ".join(parts)

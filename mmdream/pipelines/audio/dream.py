"""`mmdream audio`: a sound (a file, samples or generated noise and tone) dreamed as its spec says, in passes that
each feed the next (an ouroboros), steered toward what a picture shows where one is given."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np

from mmdream.errors import UserError


def dream(audio, output: str | None, spec, sr: int | None = None, progress=None) -> tuple[dict, int, np.ndarray | None]:
    """(the report's figures, the rate written at, the samples where nothing was written: `output` None)."""
    import soundfile as sf

    from mmdream.checks import AUDIO_SUFFIXES, check_output, fits_channels
    from mmdream.io_utils import check_not_same
    from mmdream.media.audio_source import GENERATED, load_whole, samples_from_array
    from mmdream.media.ffmpeg import audio_input
    from mmdream.media.picture import read_header
    from mmdream.senses.steer import check_links

    check_links(spec.links, spec.net)
    if spec.plot is not None:
        check_output(spec.plot, {".png"}, "the plot")
    # A scratch folder only for samples given or kept (a file dreamed to a file needs none): a process killed
    # with SIGKILL cannot remove one, and it would stay in the temporary folder.
    needs_scratch = isinstance(audio, np.ndarray) or output is None
    folder = tempfile.TemporaryDirectory(prefix="mmdream-api-") if needs_scratch else contextlib.nullcontext()
    with folder as scratch:
        src = str(audio) if not isinstance(audio, np.ndarray) else str(Path(scratch) / "input.wav")
        if isinstance(audio, np.ndarray):
            if sr is None or sr < 1:
                raise UserError("samples need their rate: dream_audio(samples, sr=44100)")
            sf.write(src, samples_from_array(audio), sr, subtype="FLOAT")
        dst = Path(scratch) / "dream.wav" if output is None else Path(output)
        if output is not None:
            out = check_output(output, AUDIO_SUFFIXES, "a sound")
            if src not in GENERATED:
                check_not_same(src, output)
                fits_channels(out, audio_input(src).audio_channels)
        if spec.picture is not None and not isinstance(spec.picture, np.ndarray):
            read_header(spec.picture)
        figures = passes(src, dst, spec, progress)
        if isinstance(audio, np.ndarray):
            figures["input"] = "array"
        samples = None
        if output is None:  # the scratch folder goes: keep the samples, forget its paths
            samples = load_whole(str(dst))[0]
            figures["output"] = None
    return figures, figures["passes"][-1]["sample_rate"], samples


def passes(src: str, dst: Path, spec, progress=None) -> dict:
    """`spec.ouroboros` passes of the audio dream from `src`, the last one to `dst`, and the plot of the first; the
    report, each pass's figures in it (objective measured with the first keyframe's layers, on input and output)."""
    from mmdream.core.engine import compare
    from mmdream.media.audio_source import load_whole, open_source
    from mmdream.media.picture import named, picture_input
    from mmdream.pipelines.audio.block import AUDIO_DEFAULTS
    from mmdream.pipelines.audio.plot import plot_spectrograms
    from mmdream.pipelines.audio.stream import dream_audio_file, score_file, total_audio_steps
    from mmdream.pipelines.precision import resolve_precision
    from mmdream.plan import lent_plan
    from mmdream.progress import Progress
    from mmdream.senses.steer import follow

    duration, ouroboros = spec.duration, spec.ouroboros
    info, _ = open_source(src, duration)
    dream_values = {**spec.concern("dream"), **spec.concern("senses"),
                    "precision": resolve_precision(spec.precision, spec.net)}
    with lent_plan("audio", spec.net, AUDIO_DEFAULTS, dream_values, sr=info.audio_rate) as (dreamer, plan):
        if spec.picture is not None:  # dreamed toward what the picture shows
            from mmdream.senses.perceive import SEEN_SIDE, see_picture

            follow(plan, dreamer.net, see_picture(picture_input(spec.picture, None, fit=SEEN_SIDE).rgb, spec.image_net),
                   spec.links)
        seconds = duration or info.duration or 1.0
        done, current = [], src
        for i in range(ouroboros):
            out = str(dst) if i == ouroboros - 1 else str(dst.with_name(f"{dst.stem}.pass{i + 1}{dst.suffix}"))
            with Progress(progress, total_audio_steps(plan, dreamer, seconds, info.audio_rate),
                          f"dreaming pass {i + 1}/{ouroboros}") as bar:
                figures = dream_audio_file(current, out, dreamer, plan, loudness=spec.loudness,
                                           griffin_lim=spec.griffin_lim, duration=duration, progress=bar)
            dreamer.set_layer_weights(plan.at(0.0).layers)  # the objective is measured with the first keyframe's
            figures.update(compare(score_file(dreamer, current, duration), score_file(dreamer, out)))
            done.append(figures)
            if spec.plot and i == 0:  # the first 30 s of the input and of the first pass
                plot_spectrograms(load_whole(src, end=min(30.0, duration or 30.0))[0], load_whole(out, end=30.0)[0],
                                  info.audio_rate, spec.plot)
            current = out
        moment = plan.at(0.0)
        report = {"command": "audio", "net": spec.net, "layers": moment.layers, "target": spec.target,
                  "schedule": spec.schedule, "strength": moment.strength, "settings": moment.settings.as_dict(),
                  **done[-1], "passes": done}
        if plan.steer is not None:
            report["follow"] = {"picture": named(spec.picture), "image_net": spec.image_net,
                                **plan.steer.describe(0.0, threshold=moment.follow_threshold), "weight": moment.follow}
        return report

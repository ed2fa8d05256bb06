"""What `mmdream explain` shows: a labelled grid of pictures, or a sheet of spectrograms, each row an objective's
visualisations followed by its dataset examples. Written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmdream.io_utils import atomic_output, check_finite
from mmdream.pipelines.explain.goals import Goal

LABEL = 18  # pixels of a row's label


def picture_grid(path: str, goals: list[Goal], pictures: np.ndarray, examples: list[list[np.ndarray]],
                 per_goal: int, value_range: tuple[float, float]) -> None:
    """A row per goal: its `per_goal` pictures, then its examples, under its label."""
    from PIL import Image, ImageDraw

    check_finite(pictures, "the visualisation")
    side = pictures.shape[1]
    columns = per_goal + max((len(e) for e in examples), default=0)
    sheet = Image.new("RGB", (columns * side + (columns - 1) * 4, len(goals) * (side + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    lo, hi = value_range
    for row, goal in enumerate(goals):
        y = row * (side + LABEL)
        shown = [*pictures[row * per_goal:(row + 1) * per_goal], *examples[row]]
        for col, x in enumerate(shown):
            rgb = np.clip((np.asarray(x) - lo) / (hi - lo) * 255 + 0.5, 0, 255).astype(np.uint8)
            sheet.paste(Image.fromarray(rgb), (col * (side + 4), y + LABEL))
        label = goal.title + ("   | examples" if examples[row] else "")
        draw.text((2, y + 3), label[:120], fill="black")
    with atomic_output(Path(path)) as tmp:
        sheet.save(tmp, format="png")


def sound_sheet(path: str, titles: list[str], files: list[str], examples: list[list[np.ndarray]], sr: int) -> None:
    """A row per sound: its spectrogram as written, then its examples' (log-magnitudes at `sr`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mmdream.media.audio_source import load_whole
    from mmdream.pipelines.audio.spectrum import spectrogram_db

    columns = 1 + max((len(e) for e in examples), default=0)
    fig, axes = plt.subplots(len(files), columns, figsize=(4 * columns, 2.2 * len(files)), squeeze=False)
    for row, (title, file) in enumerate(zip(titles, files)):
        shown = [spectrogram_db(load_whole(file)[0], sr)] + [e[:, :, 0].T / np.log(10) * 20 for e in examples[row]]
        for col, ax in enumerate(axes[row]):
            ax.axis("off")
            if col < len(shown):
                db = shown[col]
                ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 80, vmax=db.max())
                ax.set_title(title if col == 0 else "example", fontsize=9)
    fig.tight_layout()
    with atomic_output(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)

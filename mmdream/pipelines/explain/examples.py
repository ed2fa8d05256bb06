"""Dataset examples (lucid's): the crops of a folder's pictures, or the windows of its sounds, that drive each goal
most, shown beside what the optimisation made, so a visualisation can be read against what the net meets in the
world. Each picture is read no larger than its crops need; each sound's first minute is heard."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmdream.errors import UserError
from mmdream.modality import MODALITIES

EXAMPLES_PER_GOAL = 3
GRID = 3  # a picture's crops: the whole, and a GRID x GRID of crops half its short side
SOUND_SECONDS = 60.0  # of each sound, at most


@dataclass
class Example:
    """One candidate: where it came from (a file, and a crop box or a start second) and the input it is."""

    name: str
    where: str
    input: np.ndarray  # a picture (side, side, 3) in the net's range, or a log-magnitude (T, F, 1)


def example_files(folder: str, kind: str) -> list[Path]:
    """The folder's pictures or sounds, by name; none is one line."""
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"examples: {folder} is not a folder")
    suffixes = MODALITIES[kind].reads
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise UserError(f"examples: {folder} holds nothing an {kind} net takes ({', '.join(sorted(suffixes))})")
    return files


def picture_examples(files: list[Path], side: int, value_range: tuple[float, float]) -> list[Example]:
    """Each picture whole (squashed to the side) and in GRID x GRID crops of half its short side."""
    from mmdream.media.picture import read_image, resize

    lo, hi = value_range
    out = []
    for path in files:
        try:
            rgb = read_image(path, fit=2 * GRID * side).rgb
        except UserError:
            continue  # an unreadable file among the examples is passed over, not fatal
        h, w = rgb.shape[:2]
        boxes = [(0, 0, h, w)]
        c = min(h, w) // 2
        for i in range(GRID):
            for j in range(GRID):
                y, x = round(i * (h - c) / (GRID - 1)), round(j * (w - c) / (GRID - 1))
                boxes.append((y, x, y + c, x + c))
        for y0, x0, y1, x1 in boxes:
            crop = resize(rgb[y0:y1, x0:x1], (side, side)).astype(np.float32) / 255.0
            out.append(Example(path.name, f"{x0},{y0} {x1 - x0}x{y1 - y0}", lo + (hi - lo) * crop))
    return out


def sound_examples(files: list[Path], seconds: float, sr: int) -> list[Example]:
    """Windows of `seconds` every half window of each sound's first minute, as log-magnitudes at `sr`."""
    from mmdream.media.audio_source import load_mono
    from mmdream.pipelines.audio.spectrum import analyse

    out = []
    for path in files:
        try:
            mono = load_mono(str(path), sr, end=SOUND_SECONDS)
        except (UserError, OSError, RuntimeError):
            continue
        n, hop = int(seconds * sr), int(seconds * sr / 2)
        for start in range(0, max(1, len(mono) - n + 1), hop):
            window = mono[start:start + n]
            if len(window) < n:
                window = np.pad(window, (0, n - len(window)))
            out.append(Example(path.name, f"{start / sr:.1f} s", analyse(window[:, None], sr).logmag[0]))
    return out


def top_examples(table: np.ndarray, examples: list[Example], k: int = EXAMPLES_PER_GOAL) -> list[list[Example]]:
    """For each goal (a column of `table`, candidates by goals), its k highest candidates, one per file."""
    best = []
    for column in table.T:
        chosen, files = [], set()
        for i in np.argsort(-column):
            if examples[i].name not in files:
                chosen.append(examples[i])
                files.add(examples[i].name)
            if len(chosen) == k:
                break
        best.append(chosen)
    return best

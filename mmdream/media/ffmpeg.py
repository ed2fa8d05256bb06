"""ffmpeg (from the imageio-ffmpeg wheel): probe streams and stream audio in and out, never loading a whole file."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from mmdream.errors import UserError
from mmdream.io_utils import check_input_file

# What a sound's header may say before anything is sized from it (a forged WAV says 2.1 GHz, or no channels).
SAMPLE_RATES = (1_000, 768_000)
MAX_CHANNELS = 64
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.0(side)": 5,
                    "5.1": 6, "5.1(side)": 6, "6.1": 7, "7.1": 8, "7.1(wide)": 8}


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class MediaInfo:
    path: str
    duration: float | None
    audio_rate: int | None
    audio_channels: int | None
    video_size: tuple[int, int] | None  # (width, height) of a real video stream (not cover art)
    fps: float | None

    @property
    def has_audio(self) -> bool:
        return self.audio_rate is not None

    @property
    def has_video(self) -> bool:
        return self.video_size is not None


def is_stream(path: str | object) -> bool:
    """Whether `path` is a URL ffmpeg opens itself (udp://, rtsp://, http://), not a file."""
    return "://" in str(path)


# How ffmpeg opens a stream, to probe it and to decode it: its streams' facts from half a second of it, not from
# the 5 s ffmpeg reads by default (a live session from a stream would wait that long twice before its first frame).
STREAM_OPEN = ["-probesize", "500000", "-analyzeduration", "500000"]


def probe(path: str) -> MediaInfo:
    """Read stream facts from `ffmpeg -i` (imageio-ffmpeg ships no ffprobe). A file is probed once per process
    while it stays the same file (its checks, the API and the pipeline all ask); a URL (udp://, rtsp://, http://)
    each time, opened by ffmpeg itself, and must show its streams within 30 s."""
    if is_stream(path):
        return _ffmpeg_probe(str(path), stream=True)
    check_input_file(path)
    st = os.stat(path)
    return _probe_file(str(path), (st.st_ino, st.st_size, st.st_mtime_ns))


@functools.lru_cache(maxsize=32)
def _probe_file(path: str, identity: tuple[int, int, int]) -> MediaInfo:
    """A file's probe, remembered under its identity (inode, size, modification time)."""
    return _ffmpeg_probe(path, stream=False)


def _ffmpeg_probe(path: str, stream: bool) -> MediaInfo:
    try:
        opening = STREAM_OPEN if stream else []
        err = subprocess.run([ffmpeg_exe(), "-hide_banner", *opening, "-i", str(path)], capture_output=True, text=True,
                             errors="replace", timeout=30 if stream else None, stdin=subprocess.DEVNULL).stderr
    except subprocess.TimeoutExpired:
        raise UserError(f"{path}: nothing arrived in 30 s") from None
    if stream and "Stream #" not in err:  # refused, not found, nothing there: what ffmpeg said last
        reason = (err.strip().splitlines() or ["nothing arrived"])[-1].removeprefix("Error opening input files: ")
        raise UserError(f"{path}: the stream could not be opened ({reason})")
    if "Invalid data found" in err or "Stream #" not in err:
        raise UserError(f"{path} is not a media file ffmpeg can read")
    duration = None
    if m := re.search(r"Duration: (\d+):(\d+):(\d+\.\d+)", err):
        duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    rate = channels = size = fps = None
    for line in err.splitlines():
        if "Stream #" not in line:
            continue
        if "Audio:" in line and rate is None:
            if m := re.search(r"(\d+) Hz, ([^,]+)", line):
                rate = int(m[1])
                layout = m[2].strip()
                if lm := re.match(r"(\d+) channels", layout):
                    channels = int(lm[1])
                else:
                    channels = _LAYOUT_CHANNELS.get(layout.split(" ")[0], 2)
        elif "Video:" in line and "attached pic" not in line and size is None:
            if m := re.search(r", (\d{2,5})x(\d{2,5})", line):
                size = (int(m[1]), int(m[2]))
            if m := re.search(r"([\d.]+) fps", line):
                fps = float(m[1])
            elif m := re.search(r"([\d.]+) tbr", line):
                fps = float(m[1])
    if rate is not None and not (SAMPLE_RATES[0] <= rate <= SAMPLE_RATES[1] and 1 <= channels <= MAX_CHANNELS):
        raise UserError(f"{path}'s sound says {rate} Hz and {channels} channel(s); mmdream reads sound of "
                        f"{SAMPLE_RATES[0]:,} to {SAMPLE_RATES[1]:,} Hz and 1 to {MAX_CHANNELS} channels")
    # A phone's display matrix: ffmpeg turns the frames when it decodes them, so the picture plays turned too
    if size is not None and (m := re.search(r"(?i)display ?matrix: rotation of (-?[\d.]+) degrees", err)):
        if round(abs(float(m[1]))) % 180 == 90:
            size = (size[1], size[0])
    return MediaInfo(str(path), duration, rate, channels, size, fps)


def f32_samples(raw: bytes, channels: int) -> np.ndarray:
    """ffmpeg's f32le bytes as (n, channels) float32 samples (a trailing partial frame dropped)."""
    usable = len(raw) - len(raw) % (4 * channels)
    return np.frombuffer(raw[:usable], np.float32).reshape(-1, channels)


def read_audio_blocks(path: str, info: MediaInfo, block: int, end: float | None = None,
                      start: float = 0.0) -> Iterator[np.ndarray]:
    """Yield float32 (n, channels) blocks of `block` frames at the file's own rate: `end` seconds (all if None)
    from `start`, decoded from the beginning of the file (an output-side -ss decodes and discards, never seeks)."""
    limit = (["-ss", f"{start:.6f}"] if start else []) + (["-t", f"{end:.6f}"] if end else [])
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-vn", "-map", "0:a:0", *limit, "-f", "f32le", "-acodec",
           "pcm_f32le", "-ac", str(info.audio_channels), "-ar", str(info.audio_rate), "-"]
    for raw in _ffmpeg_output(cmd, block * 4 * info.audio_channels, f"the audio of {path}"):
        samples = f32_samples(raw, info.audio_channels)
        if not np.isfinite(samples).all():
            raise UserError(f"{path} holds non-finite samples (NaN or Inf); mmdream dreams only finite sound")
        yield samples


def _ffmpeg_output(cmd: list[str], chunk: int, what: str, handover: int | None = None) -> Iterator[bytes]:
    """Run ffmpeg and yield its stdout in `chunk`-byte reads (shorter only at the end). A consumer that stops
    early stops ffmpeg; a decode error at the end is one line naming `what`. `handover`: a pipe's write end
    ffmpeg writes a second output to (closed here once ffmpeg holds it, so its reader sees the end)."""
    fds = () if handover is None else (handover,)
    try:
        # stdin is not ffmpeg's: a terminal there gets its keys read and its modes changed, and a killed ffmpeg
        # leaves them changed (a live session's terminal)
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=fds)
    finally:
        if handover is not None:
            os.close(handover)
    complete = False
    try:
        while raw := proc.stdout.read(chunk):
            yield raw
        complete = True
    finally:
        proc.stdout.close()
        if not complete:
            proc.kill()
        err = proc.stderr.read().decode(errors="replace")
        proc.wait()
    if proc.returncode != 0 and "Error" in err:
        raise UserError(f"ffmpeg could not decode {what}: {err.strip().splitlines()[-1]}")


def encode_audio(src_wav: str, dst: str) -> None:
    """Transcode a finished WAV into mp3/ogg/opus/m4a by the output's suffix."""
    codec = {".mp3": ["-c:a", "libmp3lame", "-b:a", "256k"], ".ogg": ["-c:a", "libvorbis", "-q:a", "6"],
             ".opus": ["-c:a", "libopus", "-b:a", "160k"], ".m4a": ["-c:a", "aac", "-b:a", "256k"]}
    suffix = dst[dst.rfind("."):].lower()
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", src_wav, *codec[suffix], dst]
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise UserError(f"ffmpeg could not write {dst}: {p.stderr.strip().splitlines()[-1] if p.stderr else ''}")


def frame_checksums(path: str | os.PathLike, stream: str = "v") -> list[str]:
    """ffmpeg's MD5 of every decoded video frame (`stream` "v") or audio packet's samples ("a") of a file: two films
    are the same pictures and sound when these are, whatever their containers say."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", f"0:{stream}", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def even_size(width: int, height: int, max_size: int | None) -> tuple[int, int]:
    """(width, height) scaled so the long side is at most `max_size`, both even (H.264 yuv420p needs it)."""
    s = min(1.0, max_size / max(width, height)) if max_size else 1.0
    return max(2, int(round(width * s / 2)) * 2), max(2, int(round(height * s / 2)) * 2)


@dataclass
class AudioTap:
    """The sound of a video being read, decoded by the same ffmpeg (a stream can be opened only once, and the two
    stay in step): float32 (n, channels) blocks at `rate` go to `put` from a thread of their own, which keeps the
    pipe drained so the pictures never wait for it; an empty block marks the end."""

    rate: int
    channels: int
    put: Callable[[np.ndarray], None]
    block_seconds: float = 0.05

    def output(self, options: list[str]) -> tuple[list[str], int]:
        """ffmpeg's output for the sound (with `options`, e.g. its time limit), and the write end of its pipe;
        the reader thread is started."""
        read_end, write_end = os.pipe()
        threading.Thread(target=self._read, args=(read_end,), name="mmdream-audio-tap", daemon=True).start()
        return ["-map", "0:a:0", "-vn", "-sn", *options, "-f", "f32le", "-acodec", "pcm_f32le", "-ac",
                str(self.channels), "-ar", str(self.rate), f"pipe:{write_end}"], write_end

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            while raw := pipe.read(max(1, int(self.block_seconds * self.rate)) * 4 * self.channels):
                self.put(np.nan_to_num(f32_samples(raw, self.channels), nan=0.0, posinf=0.0, neginf=0.0))
        self.put(np.zeros((0, self.channels), np.float32))


def read_video_frames(path: str, size: tuple[int, int], fps: float, start: float = 0.0,
                      end: float | None = None, realtime: bool = False,
                      sound: AudioTap | None = None) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames (H, W, 3) at `size` (width, height), at a constant `fps` (variable frame rate
    input is resampled by ffmpeg's fps filter), from `start` to `end` seconds. Decoded from the start of the
    file: an output-side -ss decodes and discards, never seeks (seeking returns corrupt frames on some files).
    `realtime`: read at the input's own pace (a file played as if live); a V4L2 camera (/dev/videoN) and a stream
    (a URL) are live. `sound`: the audio too, as it is decoded (see AudioTap)."""
    w, h = size
    limit = (["-ss", f"{start:.6f}"] if start else []) + (["-t", f"{end - start:.6f}"] if end else [])
    live = ["-f", "v4l2"] if str(path).startswith("/dev/video") else []
    if is_stream(path):  # a stream: frames as they come, not after seconds of probing and buffering
        live += ["-fflags", "nobuffer", *STREAM_OPEN]
    audio, handover = sound.output(limit) if sound is not None else ([], None)
    cmd = [ffmpeg_exe(), "-v", "error", *live, "-i", str(path), "-map", "0:v:0", "-an", "-sn",
           "-vf", f"fps={fps:.6f},scale={w}:{h}:flags=area", *limit, "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
           *audio]
    frame_bytes = w * h * 3
    first = 0.0
    for i, raw in enumerate(_ffmpeg_output(cmd, frame_bytes, f"the video of {path}", handover)):
        if len(raw) < frame_bytes:
            break
        if realtime:  # frame i is due i / fps after the first (ffmpeg's -re bursts the first third of a second)
            first = first if i else time.perf_counter()
            time.sleep(max(0.0, first + i / fps - time.perf_counter()))
        yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)


def audio_input(path: str):
    """Probe a sound input; a file without sound is an error."""
    info = probe(path)
    if not info.has_audio:
        raise UserError(f"{path} has no audio stream")
    return info

"""`mmdream live`: a file played at its own pace, dreamed in real time into a file and into an MPEG-TS stream on
the loopback (what VLC or OBS would open); every input frame comes out, with bounded latency. The 20 s figure of
the issue comes from `scripts/bench.py --live`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import decoded_frames, free_port, run_here, start_mmdream

from mmdream.cli import main
from mmdream.media.ffmpeg import ffmpeg_exe
from mmdream.pipelines.live.controls import DreamFit, LiveControls, adapted, key_actions
from mmdream.pipelines.live.session import LiveOptions

pytestmark = pytest.mark.serial  # real time, measured against this host's own speed: alone on the host


def _kept_busy(r: dict) -> None:
    """The network was kept dreaming, measured against the session itself: of the stream's time after its first
    dream (the frames not shown raw, at the stream's rate), at least 0.6 was taken by the later dreams, each its
    seconds with its flow, or a frame's interval where it was quicker (one dream a frame at most); a dream after a
    jump in the picture starts cold and costs a pyramid, and counts as well. And a warm dream cost what the steps
    timed before the source opened predict, within 4x (a dream that traced again, or waited on something, costs
    tens of times that). A fixed count failed on a host at a slow hour (4 dreams of 72 frames, each 0.7 s, the
    network busy), and a count of warm dreams alone where the stream's second dream was cold (0.76 s: 5 warm)."""
    step = {float(k): v for k, v in r["step_seconds_before"].items()}
    warm = [d for d in r["per_dream"] if not d["cold"]]
    window = sum(f["shown"] != "raw" for f in r["per_frame"]) / r["fps"]
    taken = sum(max(d["seconds"] + d["flow_s"], 1 / r["fps"]) for d in r["per_dream"][1:])
    over = [d["seconds"] / (d["steps"] * step[d["scale"]]) for d in warm]
    print(f"{len(r['per_dream']) - 1} dreams after the first ({len(warm)} warm) took {taken:.2f} s of {window:.2f} s; "
          f"a warm dream {np.median(over):.2f}x its steps timed before; first dream {r['first_dream_s']:.2f} s")
    assert taken >= 0.6 * window, (taken, window, [(d["frame"], d["seconds"], d["cold"]) for d in r["per_dream"]])
    assert np.median(over) <= 4.0, (np.median(over), step)


def test_live_realtime_file_keeps_every_frame_within_the_deadline(media, tmp_path):
    out, rep = tmp_path / "live.mp4", tmp_path / "live.json"
    src = media / "video" / "big_buck_bunny_0_30.webm"
    assert main(["live", str(src), "--realtime", "--seconds", "3", "-o", str(out), "--report", str(rep)]) == 0
    r = json.loads(rep.read_text())
    assert r["frames_in"] == r["frames_out"] == 72 == len(decoded_frames(out))  # 3 s at 24 fps: none dropped
    assert 2.9 <= r["seconds"] < 4.0, r["seconds"]  # the file came at its own pace, and the session kept it
    _kept_busy(r)  # here 0.94-0.98 of the time, three busy loops beside it too; 0.1 s idle after each dream: 0.46
    shown = [row["shown"] for row in r["per_frame"]]
    raw = shown.count("raw")
    assert "raw" not in shown[raw:], shown  # raw only before the first dream, never after
    # only frames whose deadline passed while the first (cold) dream ran, a 2 x 4 pyramid traced before the
    # source opened: the file comes at its own pace from the first frame (ffmpeg's -re bursts ~9 frames first);
    # four frames' slack for the three threads' turns at the interpreter
    assert raw <= max(0.0, r["first_dream_s"] - LiveOptions.deadline) * 24 + 4, (raw, r["first_dream_s"])
    # the cold pyramid (2 octaves of 4 steps at most full size) traced before the source opened: a first dream that
    # traced would take seconds, tens of full-size steps timed before the source (here 0.47 s, a step 0.05 s)
    assert r["first_dream_s"] < 20 * r["step_seconds_before"]["1.0"], r["first_dream_s"]
    assert r["latency_p95_s"] <= 0.3 and r["latency_max_s"] < 1.0, (r["latency_p95_s"], r["latency_max_s"])
    late = [row["latency_s"] for row in r["per_frame"][-24:]]
    assert np.mean(late) <= 0.2, late  # no growing lag: the last second is as prompt as the deadline allows
    warm = [d for d in r["per_dream"] if not d["cold"]]
    # adapted: more than one step only where they fit a frame interval. A median of fewer than three deeper dreams
    # is one timing (the first warm dream's steps come from a bare step timed before the source opened, and the
    # fit's median of a dozen rides out a passing stall); a fit that takes more steps than fit gives dozens of them.
    deeper = [d["seconds"] for d in warm if d["steps"] > 1]
    assert {d["steps"] for d in warm} <= set(range(1, 5)), warm
    assert len(deeper) < 3 or np.median(deeper) <= 1.5 / 24, warm
    assert all(d["steps"] == 1 for d in warm if d["scale"] < 1), warm  # a smaller dream only at one step


def test_live_dreams_smaller_where_a_full_size_step_misses_the_frame_interval(media, tmp_path):
    """960 px on two cores in fp32 (at 640 px, or in bf16, a step comes near the interval on a host with AVX-512
    BF16, and the premise is gone): one lite0 step takes about 0.1 s against a 50 ms frame interval, so the
    dreams go down to half size from the first one (each size's step is timed before the source opens), their
    change brought back up: they are faster, more frames get their own dream than full size has time for, the
    warm dreams keep coming, and the output keeps its size. Every time is measured in this run, on this host.
    The cockatoo's first seconds, one shot: in Big Buck Bunny's, a change near 1.5-2 s that the flow cannot
    explain across a few frames counted as a cut where a host ran at half speed (warm dreams 0.3 s apart), and
    each cold dream (1.2 s) left the next frame far enough on to be cold too: three cold dreams of six failed the
    count below on an AVX2 host; the cockatoo kept every dream but the first warm with both cores taken by others.
    The first (cold) dream at one octave: what is measured is the warm dreams, and two octaves' first dream took 3.7 s
    of the 3 s stream in CI on a slow hour (one warm dream left; here 0.97-1.26 s, 4-7 warm, against 0.52-0.63 s and
    10-11 warm at one octave)."""
    out, rep = tmp_path / "big.mp4", tmp_path / "big.json"
    assert main(["live", str(media / "video" / "cockatoo.mp4"), "--realtime", "--seconds", "3", "--octaves", "1",
                 "--max-size", "960", "--precision", "fp32", "-o", str(out), "--report", str(rep)]) == 0
    r = json.loads(rep.read_text())
    frames = decoded_frames(out)
    assert frames.shape[1:] == (540, 960, 3) and len(frames) == r["frames_out"] == 60 and r["fps"] == 20
    step = {float(k): v for k, v in r["step_seconds_before"].items()}
    assert set(step) == {1.0, 0.75, 0.5} and step[0.5] < 0.6 * step[1.0], step  # smaller is faster, timed alike
    interval = 1 / 20
    assert step[1.0] > 0.9 * interval, step  # the premise: a full-size step misses the frame interval
    assert r["per_dream"][0]["scale"] == adapted(step[1.0], interval)[1] < 1  # fitted from the first dream on
    warm = [d for d in r["per_dream"] if not d["cold"]]
    small = [d["seconds"] for d in warm if d["scale"] < 1]
    assert len(warm) >= 5 and len(small) >= 0.8 * len(warm), r["per_dream"]
    # A full-size dream costs what a small one does with the full-size step in place of the small step's. A
    # dream's flow, carry and encoding share the two cores and do not shrink with it: more frames than full size
    # has time for by a tenth (measured 1.2 to 1.9 times as many, and 1.45 on one core).
    least = min(d["scale"] for d in warm)
    full = np.median(small) - step[least] + step[1.0]
    assert r["dreamed_frames"] >= 1.1 * 3 / full, (r["dreamed_frames"], full)


def test_warm_steps_and_size_fit_the_frame_interval_and_keys_map_to_changes():
    import mmdream

    assert mmdream.LiveControls is LiveControls  # the API's name for it
    frame = 1 / 24  # 42 ms, a budget of 37.5
    assert adapted(0.029, frame) == (1, 1.0)  # this CPU at 320 px: one step, full size
    assert adapted(0.015, frame) == (2, 1.0) and adapted(0.004, frame) == (4, 1.0)  # a GPU: deeper, up to 4
    assert adapted(0.05, frame) == (1, 0.75) and adapted(0.11, frame) == (1, 0.5)  # too dear: smaller
    assert adapted(1.0, frame) == (1, 0.5)  # never below half size: the deadline carries the rest
    assert adapted(0.039, frame, scale=1.0) == (1, 1.0)  # a tenth over: held
    assert adapted(0.035, frame, scale=0.75) == (1, 0.75)  # full size would leave less than a fifth: held
    assert adapted(0.025, frame, scale=0.75) == (1, 1.0)  # it would leave a third: back up
    cpu = DreamFit(frame)  # this CPU at 640 px: a step takes 0.11 s at full size, 0.03 at half
    for _ in range(3):
        cpu.record(1.0, 1, 0.11)
    assert cpu.choose(1.0, None) == (1, 0.5)
    for _ in range(3):
        cpu.record(0.5, 1, 0.03)
    assert cpu.choose(0.5, None) == (1, 0.5) and cpu.choose(0.5, 2) == (2, 0.5)  # held steps are kept
    gpu = DreamFit(frame)  # the H200 on torch: 45 ms at any size (per-operation overhead)
    for _ in range(3):
        gpu.record(1.0, 1, 0.045)
    assert gpu.choose(1.0, None) == (1, 0.75)  # the pixels say smaller will do
    for _ in range(3):
        gpu.record(0.75, 1, 0.044)
    assert gpu.choose(0.75, None) == (1, 1.0) and gpu.least == 1.0  # it did not: full size, for good
    slow = DreamFit(frame, {1.0: 0.17, 0.75: 0.1, 0.5: 0.046})  # one AVX2 core at 640 px, timed before the source
    assert slow.choose(1.0, None) == (1, 0.5)  # the first dream is already small
    slow.record(0.5, 1, 0.16)  # a dream costs more than its bare step (flow, carry): not compared with 0.75's step
    assert slow.choose(0.5, None) == (1, 0.5) and slow.least == 0.5
    timed = DreamFit(frame, {1.0: 0.045, 0.75: 0.044, 0.5: 0.044})  # the GPU's steps timed before the source
    assert timed.choose(1.0, None) == (1, 0.75) and timed.choose(0.75, None) == (1, 1.0)  # up, for one dream
    assert timed.least == 0.5  # steps timed before the source give nothing up: dreams must show it
    for scale in (1.0, 0.75):
        timed.record(scale, 1, 0.05)
    assert timed.choose(0.75, None) == (1, 1.0) and timed.least == 1.0  # they did: full size, for good
    caught = DreamFit(frame, {1.0: 0.1, 0.75: 0.095, 0.5: 0.03})  # 0.75's timing caught the host at a slow moment
    assert caught.choose(1.0, None) == (1, 0.5)
    caught.record(1.0, 1, 0.12)
    caught.record(0.75, 1, 0.06)
    assert caught.choose(0.75, None) == (1, 0.5) and caught.least == 0.5  # dreams at both sizes: 0.75 is faster
    steady = DreamFit(frame)
    for seconds in [0.028] * 10 + [0.06] * 4:  # a passing stall
        steady.record(1.0, 1, seconds)
    assert steady.choose(1.0, None) == (1, 1.0)
    c = LiveControls()
    for action in key_actions("]x]+-,,.q"):
        if action is None:
            c.stop()
        else:
            c.change(*action)
    assert (c.depth, c.strength, c.steps, c.stop_requested) == (0.7, 1.0, 2, True)
    assert [ch["steps"] for ch in c.changes] == [None, None, None, None, 1, 1, 2]  # from the adapted 1, never 0
    for _ in range(20):
        c.change("depth", +0.1)
        c.change("strength", 1.25)
    assert c.depth == 1.0 and c.strength == 8.0  # held in range


def test_live_streams_mpeg_ts_that_a_player_can_open(media, tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    got = tmp_path / "got.ts"
    player = subprocess.Popen([ffmpeg_exe(), "-v", "error", "-y", "-i",
                               f"udp://127.0.0.1:{port}?fifo_size=1000000&overrun_nonfatal=1", "-c", "copy",
                               str(got)], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        done = run_here("live", media / "video" / "cockatoo.mp4", "--realtime", "--seconds", "2", "--max-size", "160",
                        "-o", f"udp://127.0.0.1:{port}")
        assert done.returncode == 0, done.stderr[-800:]
        assert "40 of 40 frames written" in done.stdout, done.stdout
        time.sleep(1.0)  # the last packets on their way
    finally:
        player.terminate()  # a player stopped by the user: ffmpeg closes the file it wrote
        player.wait(timeout=60)
    frames = decoded_frames(got)
    assert frames.shape[1:] == (90, 160, 3) and len(frames) >= 36, frames.shape  # UDP may drop a packet or two


def test_live_reads_a_stream_from_the_network(media, tmp_path):
    """A source that is a stream, not a file: ffmpeg sends a clip as MPEG-TS over UDP on the loopback (a camera
    or an encoder would), and `mmdream live` opens the address, dreams 2 s of it and writes every frame. The stream's
    facts come from its first half second, not the 5 s ffmpeg reads by default (the session would wait them twice)."""
    from mmdream.media.ffmpeg import probe

    port = free_port(socket.SOCK_DGRAM)
    sender = subprocess.Popen([ffmpeg_exe(), "-v", "error", "-re", "-stream_loop", "-1", "-i",
                               str(media / "video" / "cockatoo.mp4"), "-an", "-vf", "scale=320:-2", "-c:v", "libx264",
                               "-preset", "ultrafast", "-g", "10", "-f", "mpegts",
                               f"udp://127.0.0.1:{port}?pkt_size=1316"], stdin=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    out, rep = tmp_path / "from_udp.mp4", tmp_path / "from_udp.json"
    url = f"udp://127.0.0.1:{port}?fifo_size=1000000&overrun_nonfatal=1"
    try:
        t0 = time.monotonic()
        info = probe(url)
        opened = time.monotonic() - t0
        assert info.video_size == (320, 180) and info.fps == 20 and opened < 2.5, (info, opened)
        assert main(["live", url, "--seconds", "2", "--max-size", "160", "-o", str(out), "--report", str(rep)]) == 0
    finally:
        sender.kill()
        sender.wait(timeout=30)
    r = json.loads(rep.read_text())
    assert r["frames_in"] == r["frames_out"] == len(decoded_frames(out)) >= 30, r["frames_out"]  # 2 s at 20 fps
    assert r["size"] == [160, 90]
    _kept_busy(r)


def _until_said(said, proc, words: str, limit: float = 120.0) -> str:
    """What a session started with its stderr at `said` has written there, once that holds `words` (or the session
    ended, or `limit` seconds passed)."""
    deadline = time.monotonic() + limit
    while words not in (seen := said.read_text(errors="replace")) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    return seen


def test_ctrl_c_ends_a_live_session_and_keeps_the_recording(media, tmp_path):
    """Ctrl-C two seconds into a session (about 48 frames: its line says the frames are flowing; the recording's
    file shows nothing yet, its muxer holds 256 KB) ends it with status 0 and a complete file of what it wrote."""
    out, rep, said = tmp_path / "live.mp4", tmp_path / "live.json", tmp_path / "stderr.txt"
    said.touch()
    # a process group of its own, as a terminal's job
    proc = start_mmdream("live", media / "video" / "big_buck_bunny_0_30.webm", "--realtime", "--max-size", "96",
                         "-o", out, "--report", rep, stderr=str(said))
    assert f"into {out}; Ctrl-C stops" in _until_said(said, proc, "Ctrl-C stops")  # its name, not a temporary's
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group, ffmpeg included
    proc.communicate(timeout=120)
    err = said.read_text(errors="replace")
    assert proc.returncode == 0, err[-800:]
    r = json.loads(rep.read_text())
    assert r["stopped_by_user"] and 24 <= r["frames_out"] <= r["frames_in"] < 30 * 24, r["frames_out"]
    assert len(decoded_frames(out)) == r["frames_out"]  # a complete file, every written frame in it
    assert not list(tmp_path.glob(".live.partial-*"))


def test_live_dreams_the_sound_too_in_sync(media, tmp_path):
    """`--audio`: the source's sound dreamed in 1 s chunks beside the pictures, as long as they are, in sync with
    the source (its envelope not shifted), as loud, limited, and deeper by the sound net's own measure."""
    from mmdream.media.ffmpeg import probe, read_audio_blocks
    from mmdream.media.loudness import LoudnessMeter
    from mmdream.pipelines.audio.block import AUDIO_DEFAULTS
    from mmdream.pipelines.audio.stream import score_audio
    from mmdream.plan import build_plan

    src, out, rep = media / "video" / "big_buck_bunny_0_30.webm", tmp_path / "heard.mp4", tmp_path / "heard.json"
    assert main(["live", str(src), "--realtime", "--seconds", "4", "--audio", "--max-size", "160", "-o", str(out),
                 "--report", str(rep)]) == 0
    r = json.loads(rep.read_text())
    assert r["frames_in"] == r["frames_out"] == 96 == len(decoded_frames(out))
    assert r["audio_chunks"] >= 4 and r["audio_dreamed_chunks"] >= 2, r["per_audio_chunk"]  # the last: flushed
    assert r["latency_p95_s"] <= 0.3, r["latency_p95_s"]  # the pictures' writer never waits for the sound

    def sound(path, end=None):
        return np.concatenate(list(read_audio_blocks(str(path), probe(str(path)), 65536, end=end)))

    heard, source = sound(out), sound(src, end=4.0)
    assert abs(len(heard) / 44100 - 4.0) < 0.01 and np.isfinite(heard).all()  # ends with the pictures
    assert np.abs(heard).max() <= 1.0

    def loudness(x):
        meter = LoudnessMeter(44100, 2)
        meter.add(x)
        return meter.integrated()

    assert abs(loudness(heard) - loudness(source)) < 1.5, (loudness(heard), loudness(source))

    def envelope(x):  # 10 ms mean level, centred
        e = np.abs(x[: len(x) // 441 * 441]).mean(axis=1).reshape(-1, 441).mean(axis=1)
        return e - e.mean()

    a, b = envelope(heard), envelope(source)
    n = min(len(a), len(b))
    lags = {lag: float(np.dot(a[max(0, lag):n + min(0, lag)], b[max(0, -lag):n - max(0, lag)]))
            for lag in range(-20, 21)}
    assert max(lags, key=lags.get) in (-1, 0, 1), lags  # in sync to 10 ms
    dreamer, _ = build_plan("audio", "MTT_vgg", AUDIO_DEFAULTS, {}, sr=44100)
    gain = score_audio(dreamer, heard, 44100) / score_audio(dreamer, source, 44100)
    assert gain > 1.2, gain


def test_live_refuses_bad_arguments_in_one_line(media, tmp_path):
    silent = tmp_path / "silent.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1",
                    "-pix_fmt", "yuv420p", str(silent)], check=True)
    for argv, words in ((["live", str(silent), "--audio", "-o", str(tmp_path / "o.mp4")],
                         "has no audio stream to dream"),
                        (["live", str(tmp_path / "none.mp4"), "-o", str(tmp_path / "o.mp4")], "no such file"),
                        (["live", str(media / "audio" / "animals" / "dog.mp3"), "-o", str(tmp_path / "o.mp4")],
                         "has no video stream"),
                        (["live", str(media / "video" / "cockatoo.mp4"), "-o", str(tmp_path / "o.gif")],
                         "cannot write a film as .gif"),
                        (["live", str(media / "video" / "cockatoo.mp4"), "-o", str(tmp_path / "o.mp4"),
                          "--deadline", "0"], "--deadline must be above 0"),
                        (["live", "/dev/video97", "-o", str(tmp_path / "o.mp4")], "/dev/video97: no such camera"),
                        (["live", f"http://127.0.0.1:{free_port()}/x.ts", "-o", str(tmp_path / "o.mp4")],
                         "the stream could not be opened (Connection refused)")):
        p = run_here(*argv)
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert p.returncode == 2 and len(lines) == 1 and words in lines[0], (argv, p.stderr[-400:])


def test_a_decoder_stopped_early_leaves_the_terminal_as_it_was(media):
    """ffmpeg, given a terminal as stdin, takes its keys and changes its modes, and a killed one never changes them
    back (a live session's `q` reached ffmpeg, and its terminal was left without echo): the decoders get none."""
    import pty
    import termios

    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    code = ("import sys; from mmdream.media.ffmpeg import probe, read_video_frames; i = probe(sys.argv[1]); "
            "g = read_video_frames(sys.argv[1], i.video_size, i.fps); next(g); g.close()")
    try:
        done = subprocess.run([sys.executable, "-c", code, str(media / "video" / "cockatoo.mp4")], stdin=slave,
                              capture_output=True, text=True, timeout=60)
        after = termios.tcgetattr(slave)
    finally:
        os.close(master)
        os.close(slave)
    assert done.returncode == 0, done.stderr[-400:]
    assert after == before


def test_live_keys_change_depth_and_strength_while_it_runs_and_q_ends_it(media, tmp_path):
    """A performer at the terminal (a pseudo-terminal here): `]]]` goes three tenths deeper than the middle, `++`
    makes it 1.25² stronger, `q` ends the session like Ctrl-C; the terminal is left as it was."""
    import pty
    import termios

    from mmdream.nets import spec

    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    out, rep = tmp_path / "keys.mp4", tmp_path / "keys.json"
    said = tmp_path / "stderr.txt"
    said.touch()
    proc = start_mmdream("live", media / "video" / "big_buck_bunny_0_30.webm", "--realtime", "--seconds", "30",
                         "--max-size", "160", "-o", out, "--report", rep, stdin=os.ttyname(slave), stderr=str(said))
    try:
        seen = _until_said(said, proc, "keys:")  # the help line: the keys are being read
        time.sleep(1.0)
        os.write(master, b"]]]")
        time.sleep(2.0)  # the new layer's dreamer is built and traced
        os.write(master, b"++")
        time.sleep(2.5)
        os.write(master, b"q")
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, (seen + err)[-800:]
    assert after == before  # echo and line editing back on
    r = json.loads(rep.read_text())
    assert r["stopped_by_user"] and len(decoded_frames(out)) == r["frames_out"] < 10 * 24, r["frames_out"]
    assert 0 <= r["frames_in"] - r["frames_out"] <= 6, r  # a stop drops only frames still within their deadline
    assert [(c["depth"], c["strength"]) for c in r["controls"]] == [
        (0.6, 1.0), (0.7, 1.0), (0.8, 1.0), (0.8, 1.25), (0.8, 1.5625)]
    layers = spec("efficientnet_lite0").layers
    deep = layers[round(0.8 * (len(layers) - 1))]
    dreams = r["per_dream"]
    chosen = [d["layer"] for d in dreams]
    first = chosen.index(deep)
    assert chosen[0] is None and set(chosen[first:]) == {deep}, chosen  # the plan's layers, then the chosen one
    assert [d["traced"] for d in dreams].count(True) == len(set(chosen) - {None})  # one trace per new layer
    assert dreams[-1]["strength"] == 1.5625 and len([d for d in dreams if d["strength"] == 1.5625]) >= 5
    assert f"depth 0.8 ({deep}), strength x1.5625" in err, err[-800:]


def test_a_frame_the_network_skipped_is_carried_at_once_not_at_the_deadline():
    """The writer waits for a frame's own dream only while that dream may come: frames older than the one the
    network took are carried from the last dream at once; the frame being dreamed waits up to the deadline."""
    import cv2

    from mmdream.pipelines.live.session import _Live, _write_all

    rng = np.random.default_rng(4)
    base = cv2.GaussianBlur(rng.integers(0, 256, (36, 56, 3), np.uint8), (7, 7), 2)
    frames = [np.ascontiguousarray(base[:, k:k + 48]) for k in range(0, 10, 2)]
    live, written = _Live(), []

    class Sink:
        def write(self, rgb):
            written.append(rgb)

    for i, frame in enumerate(frames):
        live.arrive(i, frame)
    live.publish(1, frames[1], 255 - frames[1])  # the last dream: frame 1's
    live.dreaming = 4  # the network took frame 4: 2 and 3 will never be dreamed
    live.source_ended = True
    opts, rows = LiveOptions(), []
    _write_all(live, Sink(), opts, rows)
    shown = {r["frame"]: (r["shown"], r["from"], r["latency_s"]) for r in rows}
    assert len(written) == len(rows) == 5 and [r["frame"] for r in rows] == list(range(5))
    assert shown[1][:2] == ("dreamed", 1) and np.array_equal(written[1], 255 - frames[1])
    for i in (2, 3):  # skipped: carried from frame 1's dream without waiting
        assert shown[i][:2] == ("carried", 1) and shown[i][2] < opts.deadline / 3, shown
    assert shown[4][:2] == ("carried", 1) and shown[4][2] >= opts.deadline, shown  # its own dream might have come

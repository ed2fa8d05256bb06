"""`mmdream video --workers N / --ray`: a film rendered as Ray tasks on a local cluster is the one-machine film,
frame for frame and sample for sample; forced seams are smooth; a killed worker and an interrupted render change
nothing. Every render runs in its own process (a render fixes TensorFlow's thread count for its process)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import forked
import psutil
import pytest
from conftest import (
    ROOT,
    framemd5,
    free_port,
    main_apart,
    media_root,
    our_lines,
    run_mmdream,
    run_temp,
    start_mmdream,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.xdist_group("ray")  # one cluster and one reference film for the module: one worker
SMALL = ["--max-size", "160"]


@pytest.fixture(scope="module")
def two_clips(media, tmp_path_factory) -> Path:
    """Two real clips with a hard cut between them: 2 s of cockatoo, then 2 s of Big Buck Bunny, with sound."""
    from mmdream.media.ffmpeg import ffmpeg_exe

    out = tmp_path_factory.mktemp("cluster") / "two.mp4"
    video = media / "video"
    chain = ("[0:v]scale=320:180,fps=20,setsar=1[a];[1:v]scale=320:180,fps=20,setsar=1[b];"
             "[0:a]aresample=44100,aformat=channel_layouts=stereo[x];"
             "[1:a]aresample=44100,aformat=channel_layouts=stereo[y];[a][x][b][y]concat=n=2:v=1:a=1[v][s]")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-ss", "2", "-t", "2", "-i", str(video / "cockatoo.mp4"),
                    "-t", "2", "-i", str(video / "big_buck_bunny_0_30.webm"), "-filter_complex", chain,
                    "-map", "[v]", "-map", "[s]", "-c:v", "libx264", "-c:a", "aac", str(out)], check=True)
    return out


RAY = str(Path(sys.executable).with_name("ray"))
SHORT = "/tmp"  # where folders Ray puts sockets in go: a socket's path must fit in 107 bytes (not pytest's folders)
# Here Ray 2.60's `ray start` asked for a token (ray.init leaves one in ~/.ray) that drivers do not send by default:
# the cluster states its authentication mode, as an operator would; drivers follow RAY_AUTH_MODE.
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


@contextlib.contextmanager
def ray_head(cpus: int, temp: Path):
    """A Ray cluster's head started as a user starts one (`ray start --head`), for `--ray ADDRESS`. It runs in the
    foreground (`--block`) and is stopped by its own process group: `ray stop` would stop every Ray on the machine."""
    port = free_port()
    head = subprocess.Popen([RAY, "start", "--head", "--block", f"--port={port}", f"--num-cpus={cpus}",
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                            env=RAY_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_until_up(head, port, f"{temp}/")
        yield f"127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):  # its tests are done: nothing to shut down gracefully (~30 s)
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=60)
        for proc in psutil.process_iter(["cmdline"]):  # the cluster's own processes, by its port or temp folder
            cmd = " ".join(proc.info["cmdline"] or [])
            if f"{port}" in cmd and ("gcs_server" in cmd or "raylet" in cmd):
                with contextlib.suppress(psutil.Error):
                    proc.kill()


def _live_nodes(port: int) -> set[str] | None:
    """The ids of the nodes the cluster at `port` counts as live, asked of its GCS from this process (what `ray
    status` asks, without a process of a second's CPU each time); None where it does not answer."""
    from ray._raylet import GcsClient
    from ray.core.generated.gcs_pb2 import GcsNodeInfo

    try:
        nodes = GcsClient(address=f"127.0.0.1:{port}").get_all_node_info(timeout=10)
    except Exception:  # noqa: BLE001 - not up yet, or gone: either way no node to count
        return None
    return {k.hex() for k, info in nodes.items() if info.state == GcsNodeInfo.ALIVE}


def _raylet(marker: str) -> psutil.Process | None:
    """The raylet running here whose command line holds `marker` (a folder of its node's), if one does."""
    return next((p for p in psutil.process_iter(["cmdline"]) if "raylet" in (p.info["cmdline"] or [""])[0]
                 and marker in " ".join(p.info["cmdline"])), None)


def _wait_until_up(proc: subprocess.Popen, port: int, marker: str, known: set[str] = frozenset(), log=None) -> None:
    """Until the cluster at `port` counts a live node not in `known`, its raylet's command line holding `marker`
    (`log`: the starting process's output file). A new node, not a count: a node lost just before is still counted
    live for a few seconds."""
    deadline = time.monotonic() + 120
    while True:
        # until its raylet runs, asking the cluster cannot find the node
        if _raylet(marker) and (_live_nodes(port) or set()) - known:
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            why = log.seek(0) or log.read().decode(errors="replace")[-1500:] if log else ""
            raise AssertionError(f"the Ray node did not come up: {why}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def running_cluster(tmp_path_factory):
    with ray_head(2, tmp_path_factory.mktemp("ray")) as address:
        yield address


@dataclass
class Node:
    """A second Ray node that shares nothing with the head but Ray: started in its own mount namespace with the
    media, the tests' folders (inputs, outputs, work folders, models) and mmdream's cache hidden under empty tmpfs
    mounts, its own caches and Ray folder inside them."""

    proc: subprocess.Popen
    hidden: list[Path]
    root: Path  # its own folders, in its namespace only (an empty folder here)

    def raylet(self) -> psutil.Process:
        found = _raylet(f"{self.root}/")
        assert found is not None, f"no raylet of the node at {self.root}"
        return found

    def mounts(self) -> dict[str, str]:
        """Mount point -> file system type, as the node's processes see them."""
        found = {}
        for line in Path(f"/proc/{self.raylet().pid}/mountinfo").read_text().splitlines():
            fields, _, fs = line.partition(" - ")
            found[fields.split()[4]] = fs.split()[0]
        return found

    def sees(self, path: Path) -> Path:
        """`path` as the node's processes see it."""
        return Path(f"/proc/{self.raylet().pid}/root{path}")

    def lose(self) -> None:
        """The whole node gone at once: SIGKILL to its process group (its raylet, its workers' parent)."""
        os.killpg(self.proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def hidden_node(address: str, base: Path, resources: dict | None = None):
    from mmdream.nets.cache import cache_dir

    if os.geteuid() != 0:
        pytest.skip("a node in its own mount namespace needs root (unshare --mount), as CI has")
    port = int(address.rsplit(":", 1)[1])
    known = _live_nodes(port) or set()
    # Its own folders: a tmpfs of their own at a short path (a Ray socket's path must fit in 107 bytes).
    root = Path(tempfile.mkdtemp(prefix="mmdream-node-", dir=SHORT))
    hidden = [media_root().resolve(), base.resolve(), cache_dir().resolve(), root]
    mounts = "".join(f"mount -t tmpfs tmpfs {shlex.quote(str(p))}\n" for p in hidden)
    script = (f"set -e\n{mounts}mkdir -p {root}/ray {root}/cache {root}/keras {root}/models\n"
              f"exec {RAY} start --address={address} --block --num-cpus=1 "
              f"--resources={shlex.quote(json.dumps(resources or {}))} --temp-dir={root}/ray --disable-usage-stats")
    env = {**RAY_ENV, "MMDREAM_CACHE": f"{root}/cache", "KERAS_HOME": f"{root}/keras",
           "MMDREAM_MODELS": f"{root}/models", "XDG_CACHE_HOME": f"{root}/cache"}
    log = tempfile.TemporaryFile()  # what it says, for a node that does not come up (a pipe could fill)
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "bash", "-c", script], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_up(proc, port, f"{root}/", known, log=log)
        yield Node(proc, hidden, root)
    finally:  # stopped as `ray stop` does (the head hears of it at once), unless it was lost
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        root.rmdir()  # empty here: what the node wrote was in its namespace
        log.close()


@pytest.fixture(scope="module")
def small_head(tmp_path_factory):
    """A head of one CPU, to which each test adds its own second node: two nodes of one CPU, one segment each."""
    with ray_head(1, tmp_path_factory.mktemp("ray")) as address:
        yield address


@pytest.fixture(scope="module")
def one_machine(two_clips) -> tuple[Path, dict]:
    """The film rendered on one machine with one TensorFlow thread, as each task of the cluster runs."""
    out, rep = two_clips.with_name("one.mp4"), two_clips.with_name("one.json")
    done = run_mmdream("video", str(two_clips), "-o", str(out), "--threads", "1", "--report", str(rep), *SMALL,
                       cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return out, json.loads(rep.read_text())


def _same_film(out: Path, reference: Path, streams: tuple[str, ...] = ("v", "a"),
               explain: Callable[[], str] | None = None) -> None:
    """`explain()`: what the failure message adds where the frames differ."""
    from mmdream.media.ffmpeg import probe

    for stream in streams:
        ours, theirs = framemd5(out, stream), framemd5(reference, stream)
        assert len(ours) == len(theirs) > 0
        differ = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
        assert not differ, (f"{len(differ)} {stream} frames differ from {reference.name}, first {differ[:5]}"
                            + (f"; {explain()}" if explain else ""))
    if "a" in streams:  # a silent film's length is its frames'
        assert abs(probe(str(out)).duration - probe(str(reference)).duration) <= 1 / 20


def test_two_workers_render_the_one_machine_film(two_clips, one_machine, tmp_path):
    """`--workers 2` starts Ray here, even where a `ray start` that was killed left its address in Ray's temporary
    folder (Ray would connect there and refuse the worker count): the film is the one-machine film."""
    reference, ref_report = one_machine
    out, rep = tmp_path / "cluster.mp4", tmp_path / "cluster.json"
    ray_tmp = Path(tempfile.mkdtemp(prefix="mmdream-ray-", dir=SHORT))
    (ray_tmp / "ray").mkdir()
    (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{free_port()}")  # nothing listens there
    try:
        done = run_mmdream("video", str(two_clips), "-o", str(out), "--workers", "2", "--report", str(rep), *SMALL,
                           cwd=ROOT, env={**os.environ, "RAY_TMPDIR": str(ray_tmp)})
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(rep.read_text())
    assert [(s["first"], s["end"]) for s in report["segments"]] == [(0, 40), (40, 80)]  # split at the cut
    assert report["cluster"]["threads"] == 1 and report["cluster"]["workers"] == 2
    assert all(s["worker"]["pid"] > 0 and s["worker"]["host"] for s in report["segments"])  # who rendered what
    assert report["frames"] == ref_report["frames"] == 80
    assert abs(report["duration_s"] - 4.0) <= 1 / 20
    _same_film(out, reference)
    assert "segment 1: frames 40-79 on" in done.stdout
    assert not out.with_name(".cluster.mmdream-work").exists()


def test_ray_auto_does_not_wait_on_an_address_a_killed_ray_start_left(tmp_path, monkeypatch):
    """`--ray auto` takes a running cluster's address only where something answers there: a stale address file
    (a killed `ray start`'s) means no cluster, so the film starts its own Ray instead of waiting minutes."""
    import ray._private.services as services

    from mmdream.pipelines.film.cluster import answering_cluster

    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(services, "find_gcs_addresses", lambda: [])  # other tests' clusters on this machine aside
    monkeypatch.setattr(services, "resolve_ip_for_localhost", lambda host: host)  # 127.0.0.1 stays (not the LAN's)
    assert answering_cluster() is None  # no address at all
    (tmp_path / "ray").mkdir()
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        (tmp_path / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}")
        assert answering_cluster() == f"127.0.0.1:{port}"  # something answers: Ray is asked to join it
    t0 = time.perf_counter()
    assert answering_cluster() is None  # the same address, nothing there now
    assert time.perf_counter() - t0 < 3.0


# 60 frames of one shot: six segments; the work folder kept, so a seam that differs names its task's frames
STRETCH = ["--end", "3", "--max-segment", "10", "--keep-work", *SMALL]


def _seam_arrays(ours: tuple[Path, dict], theirs: tuple[Path, dict]) -> str:
    """Where two renders of the stretch, each a (film, report) pair, differ in the frames the head cross-fades:
    each segment's head and tail as its task returned them (`NNNN.edges.npz` in their kept work folders), with the
    worker process of each side. A seam's film frames blend two tasks' frames, and x264 spreads a one-level change
    over the frames that follow it, so the film alone names neither the task nor the size of the change."""
    import numpy as np

    from mmdream.checks import work_folder

    def worker(s: dict) -> str:
        return f"pid {s['worker']['pid']} ({s['worker'].get('isa')})"

    mine = {s["index"]: s for s in ours[1]["segments"]}
    found = []
    for seg in theirs[1]["segments"]:
        k, name = seg["index"], f"segments/{seg['index']:04d}.edges.npz"
        path = work_folder(theirs[0]) / name
        if not path.exists():  # neither head nor tail: a film of one segment
            continue
        with np.load(path) as a, np.load(work_folder(ours[0]) / name) as b:
            for part, start in (("head", seg["first"]), ("tail", seg["end"] - 1)):
                if part in a.files:
                    d = np.abs(a[part].astype(np.int16) - b[part].astype(np.int16))
                    frames = [start + int(i) for i in np.flatnonzero(d.reshape(len(d), -1).max(axis=1))]
                    if frames:
                        found.append(f"segment {k}'s {part} at frames {frames} ({int((d > 0).sum())} values, up to "
                                     f"{int(d.max())} levels; ours on {worker(mine[k])}, theirs on {worker(seg)})")
    return "; ".join(found) or "every segment's head and tail equal"


@pytest.fixture(scope="module")
def stretch(media, running_cluster, tmp_path_factory) -> tuple[Path, dict]:
    """A stretch of one shot without cuts, split into six segments on the running cluster."""
    folder = tmp_path_factory.mktemp("stretch")
    out, rep = folder / "long.mp4", folder / "long.json"
    done = run_mmdream("video", str(media / "video" / "cockatoo.mp4"), "-o", str(out), "--ray", running_cluster,
                       "--report", str(rep), *STRETCH, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return out, json.loads(rep.read_text())


def test_a_stretch_without_cuts_is_split_and_its_seams_are_smooth(stretch):
    from mmdream.media.ffmpeg import probe

    out, report = stretch
    assert [(s["first"], s["end"]) for s in report["segments"]] == [(i, i + 10) for i in range(0, 60, 10)]
    assert all(s["warmup"] > 0 and s["fade_in"] > 0 for s in report["segments"][1:])
    # six segments on two CPUs, each worker process building the net once: a task that waited on Ray (a blocking
    # progress message) would lend its CPU to a queued task on a fresh process
    assert len({s["worker"]["pid"] for s in report["segments"]}) <= 2, report["segments"]
    info = probe(str(out))
    assert info.has_video and info.has_audio and len(framemd5(out, "v")) == 60
    assert abs(info.duration - 3.0) <= 1 / 20
    median = report["flicker_median"]
    assert len(report["seams"]) == 5 and median > 0
    for seam in report["seams"]:  # every frame the seam touches, against the film's median
        assert seam["flicker_max"] <= 1.5 * median, (seam, median)


def test_a_tasks_progress_messages_do_not_wait_for_the_queue(running_cluster, monkeypatch):
    """A task that waits on Ray lends its CPU back, and Ray starts a queued task beside it on a fresh worker process
    (the cores oversubscribed, the net built again): a segment's word to the head is sent without waiting, even to
    a queue too busy to take it."""
    import ray
    from ray.util.queue import Queue

    from mmdream.pipelines.film.cluster import Messages
    from mmdream.pipelines.film.segments import Segment

    class BusyQueue:
        def put_nowait(self, _item) -> None:
            time.sleep(30)  # far beyond any host's pace: a message that waits for it is unmistakable

        def ready(self) -> bool:
            return True

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(address=running_cluster, log_to_driver=False, logging_level="ERROR")
    try:
        queue = Queue(actor_options={"num_cpus": 0})
        queue.actor = ray.remote(BusyQueue).options(num_cpus=0).remote()
        assert ray.get(queue.actor.ready.remote())
        t = time.monotonic()
        messages = Messages(queue, Segment(0, 0, 10), frames=False)  # "start"
        for i in range(10):
            messages.frame_done(i, None, {})  # the last frame's count
        waited = time.monotonic() - t
    finally:
        ray.shutdown()
    assert waited < 15, f"two progress messages took {waited:.1f} s: they waited for the queue"


def _segment_workers() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd and cmd[0].startswith("ray::render_segment"):
            found.append(proc)
    return found


def _wait_for(condition, proc: forked.Started, limit: float = 120.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if (found := condition()):
            return found
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    raise AssertionError("timed out")


def _render_struck(args: list[str], workers, strike) -> tuple[int, str]:
    """`mmdream ARGS` struck by `strike(found)` as soon as `workers()` finds segment tasks at work (mid-segment: a
    warm worker renders a short segment in a second, so no later moment is sure); its exit status and stderr."""
    proc = start_mmdream(*args, cwd=ROOT)
    try:
        strike(_wait_for(workers, proc))
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    return proc.returncode, err


def test_a_killed_worker_is_retried_and_the_film_is_the_same(two_clips, one_machine, running_cluster, tmp_path):
    out, rep = tmp_path / "killed.mp4", tmp_path / "killed.json"
    # A worker of the previous render on this cluster may still bear its last task's title until Ray reaps it as
    # idle: only this render's workers are victims.
    before = {p.pid for p in _segment_workers()}
    victims: list[psutil.Process] = []

    def strike(workers: list[psutil.Process]) -> None:
        victims.append(workers[0])
        assert workers[0].is_running() and workers[0].cmdline()[0].startswith("ray::render_segment")
        workers[0].send_signal(signal.SIGKILL)

    code, err = _render_struck(["video", str(two_clips), "-o", str(out), "--ray", running_cluster, "--report",
                                str(rep), *SMALL], lambda: [p for p in _segment_workers() if p.pid not in before],
                               strike)
    victim = victims[0]
    assert code == 0, err[-2000:]
    report = json.loads(rep.read_text())
    assert report["cluster"]["address"] == running_cluster and report["cluster"]["workers"] is None
    assert victim.pid not in {s["worker"]["pid"] for s in report["segments"]}  # its segment was done again
    _same_film(out, one_machine[0])


def _mount_namespace(pid: int) -> str | None:
    with contextlib.suppress(OSError):
        return os.readlink(f"/proc/{pid}/ns/mnt")
    return None


def test_a_node_lost_mid_film_is_named_and_the_film_is_the_same(two_clips, one_machine, small_head,
                                                                tmp_path_factory, tmp_path):
    """The second node's raylet and workers killed at once while it renders a segment: the segment is rendered
    again on the head, the film is the one-machine film, and the report names the node and the segment. Silent:
    with a soundtrack chunk as a third task, the node could dream the chunk while the head took both segments, and
    nothing would be struck (that happened in CI); two segments on two one-CPU nodes put one on each. A task's
    start message is sent without waiting, and a node lost in the instant it is sent takes it along (the segment is
    still rendered again, but the report cannot name that try): the strike waits until the node's task has built
    its net (its weights converted into the node's own cache), which it starts after sending that message, and
    lands while the segment's frames are dreamed."""
    out, rep = tmp_path / "lost.mp4", tmp_path / "lost.json"
    with hidden_node(small_head, run_temp(tmp_path_factory), {"doomed": 1}) as node:
        namespace = _mount_namespace(node.raylet().pid)

        def built_on_the_node() -> list[psutil.Process]:
            workers = [p for p in _segment_workers() if _mount_namespace(p.pid) == namespace]
            return workers if workers and list(node.sees(node.root / "cache").glob("efficientnet_lite0-*.npz")) else []

        code, err = _render_struck(["video", str(two_clips), "-o", str(out), "--ray", small_head, "--report", str(rep),
                                    "--no-audio", *SMALL], built_on_the_node, lambda _workers: node.lose())
    assert code == 0, err[-2000:]
    report = json.loads(rep.read_text())
    lost = [n for n in report["lost_nodes"] if "doomed" in n["resources"]]
    assert len(lost) == 1 and report["cluster"]["nodes"] == 2, report["lost_nodes"]
    retried = report["retried_segments"]
    assert retried, report["segments"]
    for k in retried:
        attempts = report["segments"][k]["attempts"]
        assert attempts[0]["node"] == lost[0]["node"] and report["segments"][k]["worker"]["node"] != lost[0]["node"]
    _same_film(out, one_machine[0], streams=("v",))


def test_an_interrupted_cluster_render_keeps_finished_segments(media, stretch, running_cluster, tmp_path):
    """The stretch's six segments on the running cluster's two CPUs, two at a time: when the first is kept, the
    interrupt lands with at least two still to render (a film of two segments could finish before it did)."""
    out, rep = tmp_path / "resumed.mp4", tmp_path / "resumed.json"
    args = ["video", str(media / "video" / "cockatoo.mp4"), "-o", str(out), "--ray", running_cluster,
            "--report", str(rep), *STRETCH]
    proc = start_mmdream(*args, cwd=ROOT)
    segments = out.with_name(".resumed.mmdream-work") / "segments"
    try:
        _wait_for(lambda: list(segments.glob("*.json")), proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0 and not out.exists(), err[-2000:]
    kept = {int(p.stem) for p in segments.glob("*.json")}
    assert kept and len(kept) < 6
    done = run_mmdream(*args, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(rep.read_text())
    assert {s["index"] for s in report["segments"] if s["resumed"]} == kept  # never rendered again
    _same_film(out, stretch[0], explain=lambda: _seam_arrays((out, report), stretch))


def test_a_task_that_fails_on_bad_input_says_so_in_one_line_naming_its_segment(two_clips, running_cluster,
                                                                              tmp_path):
    """A style "picture" that is text is first read where a segment's frame function is built: in a task. The
    render stops with one line naming the segment, not a Ray traceback."""
    bad = tmp_path / "style.png"
    bad.write_text("not a picture")
    done = run_mmdream("video", str(two_clips), "-o", str(tmp_path / "bad.mp4"), "--ray", running_cluster,
                       "--style", str(bad), "--no-audio", *SMALL, cwd=ROOT)
    lines = our_lines(done.stderr)
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert re.match(r"mmdream: error: segment \d \(frames \d+-\d+\): .*style\.png", lines[0]), lines[0]
    assert "Traceback" not in done.stderr and not (tmp_path / "bad.mp4").exists()


@pytest.mark.parametrize("flags, message", [
    (["--workers", "0"], "--workers must be at least 1"),
    (["--workers", "2", "--max-segment", "3"], "--max-segment must be at least 8"),
    (["--workers", "2", "--task-resources", "CPU=1"], "bad --task-resources part 'CPU=1'"),
    (["--workers", "2", "--task-resources", "render"], "bad --task-resources part 'render'"),
    (["--workers", "2", "--threads", "0"], "--threads must be at least 1"),
    (["--workers", "2", "--gpus-per-task", "-1"], "--gpus-per-task must be at least 0"),
])
def test_cluster_arguments_are_checked_before_anything_loads(media, tmp_path, flags, message):
    """Refused in one line before TensorFlow, Ray or a net is loaded (what the process imported, not how long it
    took: that would measure the host)."""
    code, loaded, stderr = main_apart("video", media / "video" / "cockatoo.mp4", "-o", tmp_path / "x.mp4", *flags)
    assert code == 2 and loaded == set(), (code, loaded, stderr[-2000:])
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr
    assert not (tmp_path / "x.mp4").exists()


def test_a_segment_task_loads_no_sound_library():
    """Every worker of a render imports the task's module before its first frame: librosa's STFT (a second of
    start-up) is loaded only where a task dreams sound, so a segment worker starts that much sooner."""
    code = ("import sys, mmdream.pipelines.film.cluster, mmdream.pipelines.precision\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'librosa'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "[]", (done.stdout[-500:], done.stderr[-2000:])


def test_the_pre_pass_cut_rule_is_the_renderers_and_segments_are_frame_exact(media, tmp_path):
    """The head's cut rule is the renderer's own number (not a second estimate), and each segment's lossless
    input holds exactly the frames the one-machine render decodes, warm-up and tail included."""
    import numpy as np

    from mmdream.media.ffmpeg import probe
    from mmdream.media.flow import FlowEstimator
    from mmdream.pipelines.film import film_options
    from mmdream.pipelines.film.frames import film_frames
    from mmdream.pipelines.film.segments import read_lossless, settle_frames, split_film

    src = str(media / "video" / "big_buck_bunny_0_30.webm")
    opts = film_options(max_size=96, start=10.0, end=14.0)  # the cut at 11.8 s, and 4 s of film
    info = probe(src)
    frames, size, fps = film_frames(src, info, opts)
    frames = list(frames)
    renderer, prepass = FlowEstimator(), FlowEstimator()
    motion = [renderer.motion(a, b).change for a, b in zip(frames, frames[1:])]
    alone = [prepass.change(a, b) for a, b in zip(frames, frames[1:])]
    assert motion == alone
    cuts = [i + 1 for i, c in enumerate(motion) if c > opts.cut]
    assert cuts == [43]  # 11.8 s

    segs = list(split_film(iter(frames), size, fps, opts, 30, tmp_path))
    settle = settle_frames(fps)
    assert [(s.first, s.end) for s in segs] == [(0, 30), (30, 43), (43, 73), (73, 96)]
    assert [(s.warmup, s.fade_in, s.tail) for s in segs] == [(0, 0, settle), (settle, settle, 0), (0, 0, settle),
                                                              (settle, settle, 0)]
    for s in segs:
        got = list(read_lossless(tmp_path / f"{s.index:04d}.in.mkv", size))
        want = frames[s.file_first:s.end + s.tail]
        assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
        if s.fade_in:
            seam = np.load(tmp_path / f"{s.index:04d}.seam.npy")
            assert s.seam == list(range(s.first - 1, s.first + s.fade_in + 1))
            assert all(np.array_equal(seam[j], frames[k]) for j, k in enumerate(s.seam))


def test_the_studio_renders_a_film_on_a_two_node_cluster_cancels_and_resumes(media, small_head, tmp_path_factory,
                                                                            monkeypatch):
    """`mmdream serve --ray ADDRESS`: the Film tab's "render on the cluster", through gradio_client, on a head and a
    node that sees none of the studio's files. Four shots, so four segments; pinned to the node's one CPU they run
    one after another, so Cancel lands with a segment kept and others to go, and the same render again resumes."""
    from gradio_client import Client, handle_file

    from mmdream.media.ffmpeg import ffmpeg_exe, probe

    shots = tmp_path_factory.mktemp("shots") / "four.mp4"
    video = media / "video"
    # (cockatoo.mp4 decodes clean from a seek to 0 s or 2 s only)
    parts = [("cockatoo.mp4", 2), ("big_buck_bunny_0_30.webm", 0), ("cockatoo.mp4", 0), ("big_buck_bunny_0_30.webm", 4)]
    inputs = [arg for name, at in parts for arg in ("-ss", str(at), "-t", "2", "-i", str(video / name))]
    chain = "".join(f"[{i}:v]scale=320:180,fps=20,setsar=1[v{i}];[{i}:a]aresample=44100,"
                    f"aformat=channel_layouts=stereo[a{i}];" for i in range(4))
    chain += "".join(f"[v{i}][a{i}]" for i in range(4)) + "concat=n=4:v=1:a=1[v][s]"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *inputs, "-filter_complex", chain, "-map", "[v]", "-map", "[s]",
                    "-c:v", "libx264", "-c:a", "aac", str(shots)], check=True)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("TMPDIR", str(tmp_path_factory.mktemp("studio")))  # its folders: hidden from the node too
    args = [handle_file(str(shots)), None, "efficientnet_lite0", "MTT_vgg", 160, 0, 0, None, False, 0.0, None,
            10, "none", True]
    with hidden_node(small_head, run_temp(tmp_path_factory), {"hidden": 1}):
        url, proc, _ = start_server("--ray", small_head, "--task-resources", "hidden=1")
        try:
            client = Client(url, verbose=False)
            job = client.submit(*args, api_name="/dream_video")

            def dreamed() -> int:  # frames the page says are done
                counts = [int(m[1]) for o in job.outputs() if (m := re.search(r"(\d+) / \S+ frames dreamed", o[0]))]
                return max(counts, default=0)

            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and dreamed() <= 45 and not job.done():
                time.sleep(0.05)
            assert client.predict(api_name="/cancel_video") == "cancelling after the frame in hand…"
            status, sheet, film = job.result(timeout=300)
            assert status.startswith("cancelled"), (status, [o[0] for o in job.outputs()][-5:])
            done = int(re.fullmatch(r"cancelled after (\d+) frames; the work is kept: Render again resumes it",
                                    status)[1])
            assert 40 < done < 160 and film is None and Path(sheet).is_file()  # frames from the cluster were shown
            status, _, film = client.predict(*args, api_name="/dream_video")
        finally:
            stop_server(proc)
    assert status.startswith("160 frames at 20 fps (8.00 s)"), status
    resumed = int(re.search(r", (\d+) frames resumed from an earlier render", status)[1])
    assert 40 <= resumed <= done, (resumed, done)
    assert abs(probe(film).duration - 8.0) <= 1 / 20


# The animal net it needs is trained once per run (conftest.animals_net), at the start of a parallel run by the
# worker that takes the animals group (conftest.GROUP_ORDER); last in the module all the same.
def _sheet(path: Path):
    import cv2

    return cv2.imread(str(path))


def test_a_node_that_shares_nothing_with_the_head_renders_the_one_machine_film(media, two_clips, animals_net,
                                                                             small_head, tmp_path_factory, tmp_path):
    """The whole recipe (a cut, a schedule, a style picture, a trained sound net, a contact sheet) with every task
    pinned to a node that cannot see the head's files: the film, sound and sheet are the one-machine render's."""
    import numpy as np

    schedule = tmp_path / "film.toml"
    schedule.write_text('[[keyframe]]\ntime = 0\nlayers = 0.3\nstrength = 0.5\n\n'
                        '[[keyframe]]\ntime = 2\nlayers = 0.8\nstrength = 1.5\n')
    style = media / "images" / "Starry_Night.jpeg"
    recipe = ["--schedule", str(schedule), "--style", str(style), "--style-steps", "2", "--react", "0.5", "--audio-net",
              str(animals_net), *SMALL]
    # The one-machine render runs beside the node's start and the cluster's render (it is the same bytes at any
    # pace: one thread), and is waited for before the films are compared.
    one = start_mmdream("video", str(two_clips), "-o", str(tmp_path / "one.mp4"), "--threads", "1",
                        "--preview", str(tmp_path / "one.png"), *recipe, cwd=ROOT)
    out, rep, sheet = tmp_path / "node.mp4", tmp_path / "node.json", tmp_path / "node.png"
    try:
        with hidden_node(small_head, run_temp(tmp_path_factory), {"hidden": 1}) as node:
            done = run_mmdream("video", str(two_clips), "-o", str(out), "--ray", small_head, "--task-resources",
                               "hidden=1", "--preview", str(sheet), "--report", str(rep), *recipe, cwd=ROOT)
            assert done.returncode == 0, done.stderr[-2000:]
            # It cannot have opened a path of the head's: each is an empty tmpfs there.
            mounts = node.mounts()
            assert all(mounts.get(str(p)) == "tmpfs" for p in node.hidden), (node.hidden, mounts)
            assert list(node.sees(media_root().resolve()).iterdir()) == []
            assert not node.sees(out).exists() and not node.sees(schedule).exists()
            # What it needed came through the object store, into its own cache.
            carried = {f.name for f in node.sees(node.root / "cache" / "carried").glob("*/*")}
            assert carried == {"film.toml", style.name, "animals.keras", "animals.json"}
            assert list(node.sees(node.root / "cache").glob("efficientnet_lite0-*.npz"))
        _, err = one.communicate(timeout=600)
    finally:
        one.kill()
    assert one.returncode == 0, err[-2000:]
    report = json.loads(rep.read_text())
    pinned = [n["node"] for n in report["nodes"] if "hidden" in n["resources"]]
    assert len(pinned) == 1 and len(report["segments"]) == 2
    assert {s["worker"]["node"] for s in report["segments"]} == set(pinned)
    assert report["cluster"]["task_resources"] == {"hidden": 1.0}
    assert len(report["cluster"]["instruction_sets"]) == 1 and "lost node" not in done.stdout
    _same_film(out, tmp_path / "one.mp4")
    assert np.array_equal(_sheet(sheet), _sheet(tmp_path / "one.png"))

"""Ray, for renders too long for one machine: the options of a cluster render, checked before anything loads,
and joining a running cluster or starting one here. The film on it: mmdream.pipelines.film.cluster."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mmdream.errors import UserError


@dataclass
class ClusterOptions:
    address: str | None = None  # "auto", "ray://host:10001", "host:6379"; None with `workers`
    workers: int | None = None  # start a local cluster of this many workers
    threads: int = 1  # intra-op threads (and CPUs asked) per task
    max_segment: int = 300
    gpus_per_task: float = 0.0

    def key(self) -> dict:
        """What changes the film: the split (the thread count is in the recipe)."""
        return {"max_segment": self.max_segment}


def cluster_options(address: str | None, workers: int | None, threads: int | None, max_segment: int,
                    gpus_per_task: float, preview: str | None, on_frame: Callable | None) -> ClusterOptions:
    """The cluster's options, checked before anything loads (the CLI's names in its errors)."""
    import importlib.util

    from mmdream.checks import check_options

    if importlib.util.find_spec("ray") is None:
        raise UserError("a cluster render needs Ray: pip install 'mmdream[cluster]'")
    if address is not None and workers is not None:
        raise UserError("give --ray ADDRESS to join a cluster or --workers N to start one here, not both")
    check_options(workers=workers, max_segment=max_segment, gpus_per_task=gpus_per_task, threads=threads)
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // workers) if workers else 1
    if preview:
        raise UserError("--preview is not made by a cluster render yet; render without --ray/--workers for it")
    if on_frame is not None:
        raise UserError("on_frame (a live preview) is not available on a cluster render")
    return ClusterOptions(address, workers, threads, max_segment, gpus_per_task)


@contextlib.contextmanager
def connected(cluster: ClusterOptions) -> Iterator[None]:
    """Ray joined (an address, or "auto": RAY_ADDRESS or a running local cluster, else a new one) or started
    here with `workers` workers; shut down again if this render started it."""
    import ray

    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if ray.is_initialized():
        yield
        return
    if cluster.workers is not None:
        ray.init(num_cpus=cluster.workers * cluster.threads, **quiet)
    elif cluster.address == "auto" and not os.environ.get("RAY_ADDRESS"):
        try:
            ray.init(address="auto", **quiet)
        except ConnectionError:
            ray.init(**quiet)  # no cluster running: one on this machine
    else:
        try:
            ray.init(address=cluster.address, **quiet)
        except ConnectionError as e:
            raise UserError(f"cannot reach the Ray cluster at {cluster.address}: {str(e).splitlines()[0]}") from None
    try:
        yield
    finally:
        ray.shutdown()

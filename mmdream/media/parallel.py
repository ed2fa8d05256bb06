"""A stream's items worked on the host's cores and handed back in order: the blocks of a sound through the limiter,
the chunks of a sound around the one net that dreams them. numpy's FFTs and scipy's filters run in compiled code
that lets other threads run, so threads are enough; at most `ahead` items are in flight, so memory does not grow
with the stream."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def in_order(fn: Callable, items: Iterable, workers: int | None = None, ahead: int | None = None) -> Iterator:
    """`fn(item)` for each item, in the items' order, on `workers` threads (default: every core) with at most
    `ahead` (default twice the threads) submitted beyond the one handed back; the items are drawn in the caller's
    thread. Each result is what `fn` alone gives; an error is raised at its item, and what was not started is
    dropped."""
    workers = workers or cores()
    if workers == 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="mmdream-in-order")
    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > (ahead or 2 * workers):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

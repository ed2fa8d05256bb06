"""The test suite's time at two revisions, paired: each revision cloned beside this checkout (as CI clones it, with
../shared next to it) and `CI=true bash .ci/run` run in each, one after the other, nothing else started, the order
alternating when there are several rounds. Each run starts with empty caches, as CI's does (XDG_CACHE_HOME a new
folder: pip's and uv's downloads, mmdream's converted weights, measured precisions and JAX's compiled programs), and
includes the install. Prints each run's phases and the head's time over the base's.

A host's speed drifts by tens of percent within an hour, so only runs made back to back compare:

    python scripts/suite_pair.py --base dffd290              # HEAD against dffd290, one round (~50 min)
    python scripts/suite_pair.py --base dffd290 --rounds 2   # base, head, head, base

Each run's output goes to suite-pair-<rev>-<n>.log beside this checkout; the clones are removed afterwards."""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pytest's last line of each phase: "405 passed, 5 warnings in 1054.34s (0:17:34)"
SUMMARY = re.compile(r"^=*\s*(?P<counts>\d+ \w+.*?) in (?P<seconds>[0-9.]+)s", re.M)


@dataclass
class Run:
    rev: str
    code: int
    wall: float  # the whole command, install included
    cpu: float  # user + system of everything it started
    phases: list[tuple[str, float]]  # (pytest's counts, seconds) per phase

    @property
    def tests(self) -> float:
        return sum(seconds for _, seconds in self.phases)


def phases(log: str) -> list[tuple[str, float]]:
    """Each pytest phase's counts and seconds, in order, from a run's output."""
    return [(m["counts"], float(m["seconds"])) for m in SUMMARY.finditer(log)]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_at(rev: str, n: int) -> Run:
    """A clean clone of `rev` beside this checkout, its CI command run to the end, then the clone removed."""
    commit = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    clone = ROOT.parent / f"suite-pair-{commit}-{n}"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", commit], cwd=clone, check=True)
    log = ROOT.parent / f"suite-pair-{commit}-{n}.log"
    caches = clone.with_name(f"{clone.name}-cache")
    shutil.rmtree(caches, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "MMDREAM_CACHE"}
    cpu, t0 = children_cpu(), time.perf_counter()
    with log.open("w") as out:
        code = subprocess.run(["bash", ".ci/run"], cwd=clone, env={**env, "CI": "true", "XDG_CACHE_HOME": str(caches)},
                              stdout=out, stderr=subprocess.STDOUT).returncode
    run = Run(commit, code, time.perf_counter() - t0, children_cpu() - cpu, phases(log.read_text()))
    shutil.rmtree(clone, ignore_errors=True)
    shutil.rmtree(caches, ignore_errors=True)
    print(f"{commit}: exit {code}; tests {run.tests:.1f} s ({'; '.join(f'{c} in {s:.1f} s' for c, s in run.phases)}); "
          f"{run.wall:.1f} s in all, CPU {run.cpu:.1f} s; output in {log}", flush=True)
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the revision measured against (a commit, tag or branch)")
    ap.add_argument("--head", default="HEAD", help="the revision measured (default: HEAD)")
    ap.add_argument("--rounds", type=int, default=1, help="pairs to run, the order alternating (default 1)")
    args = ap.parse_args(argv)
    runs: dict[str, list[Run]] = {"base": [], "head": []}
    for k in range(args.rounds):
        for side in (("base", "head") if k % 2 == 0 else ("head", "base")):
            runs[side].append(run_at(getattr(args, side), k))
    for name, of in (("tests", lambda r: r.tests), ("whole command", lambda r: r.wall), ("CPU", lambda r: r.cpu)):
        ratios = [of(h) / of(b) for b, h in zip(runs["base"], runs["head"])]
        print(f"{name}: head over base {statistics.median(ratios):.3f}x "
              f"(rounds {', '.join(f'{r:.3f}' for r in ratios)})")
    failed = [f"{r.rev} (round {k})" for rs in runs.values() for k, r in enumerate(rs) if r.code != 0]
    if failed:  # a failed test's time is not the time it takes when it passes
        print(f"failed: {', '.join(failed)}: the ratios above are not the suite's", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

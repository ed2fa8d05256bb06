"""`mmdream models setup` (and `make install`): add the musicnn checkpoints if they are missing, then convert the
offline networks into the mmdream cache, checking sha256 first."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# musicnn's metadata pins numpy<1.17; its checkpoints need none of its dependencies.
MUSICNN = "musicnn==0.1.0"


def install_musicnn() -> None:
    """pip-install the musicnn wheel without its dependencies into this interpreter's environment."""
    from mmdream.errors import UserError

    if importlib.util.find_spec("musicnn") is not None:
        return
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", MUSICNN],
                          capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise UserError(f"could not install {MUSICNN} ({last}); run `{sys.executable} -m pip install --no-deps "
                        f"{MUSICNN}` by hand")
    importlib.invalidate_caches()


def setup() -> list[str]:
    """Install musicnn if needed and convert every offline net; returns one line per net."""
    from mmdream.nets import efficientnet_lite, musicnn

    install_musicnn()
    lines = [f"efficientnet_lite0 weights: {efficientnet_lite.converted_weights()}"]
    lines += [f"{name} weights: {musicnn.converted_weights(name)}" for name in musicnn.NETS]
    return lines


def main() -> int:
    from mmdream.errors import UserError

    try:
        for line in setup():
            print(line)
    except UserError as e:
        print(f"mmdream setup: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run once by `make install`: convert the offline networks into the mmdream cache, checking sha256 first."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    from mmdream.errors import UserError
    from mmdream.nets import efficientnet_lite

    try:
        print(f"efficientnet_lite0 weights: {efficientnet_lite.converted_weights()}")
        try:
            from mmdream.nets import musicnn
        except ImportError:
            musicnn = None
        if musicnn is not None:
            for name in musicnn.NETS:
                print(f"{name} weights: {musicnn.converted_weights(name)}")
    except UserError as e:
        print(f"mmdream setup: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# On a lent GPU machine, in one call: the compiled film's rows, the host side on its cores, live, audio and style
# (scripts/bench.py --gpu, each part in a process of its own, the most wanted first), written to $OUT as each ends;
# then what XLA compiled (keep $OUT/xla.tar outside the checkout; a later carry takes it as XLA_TAR). Build the
# carry here first:
#
#   XLA_TAR=~/xla.tar bash scripts/gpu_carry.sh                      # here (XLA_TAR: optional)
#   bash scripts/gpu_run.sh                                          # there (device tool: carry [".carry"])
#   PARTS=jax/audio,jax/style bash scripts/gpu_run.sh                # some parts only (an H100 took 104-135 s for
#   the 1080p film row, 123-151 lite0, 14 the host part, 229 to over 280 live (105-206 with an earlier call's
#   XLA cache), 7 the decode part, 46 audio and 77 style, compiling included: a call of the first four needs
#   about 560 s; `:graphs` after a film part, e.g. jax/film:efficientnet_lite0:540:graphs, runs it with XLA's CUDA
#   graphs for every run of calls, see scripts/bench.py XLA_VARIANTS)
set -uo pipefail
cd "$(dirname "$0")/.."
source .carry/go.sh || { echo "the carry did not install" >&2; exit 1; }
out=${OUT:-/tmp/mmdream-gpu}
mkdir -p "$out"
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc
  python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"; } \
  2>&1 | tee "$out/device.txt"
parts=${PARTS:-jax/film:inception_v3:1920,jax/film:efficientnet_lite0:540,jax/host,jax/decode:1920,jax/live:1280,jax/audio,jax/style}
MMDREAM_BENCH_PROFILE=1 python3 scripts/bench.py --gpu --gpu-classic 0 --gpu-seconds 5 --gpu-parts "$parts" --part-timeout "${PART_TIMEOUT:-300}" \
  --json "$out/gpu.json"
if [ -d "$MMDREAM_CACHE/xla" ] && [ "$(du -sm "$MMDREAM_CACHE/xla" | cut -f1)" -lt 40 ]; then
  tar -cf "$out/xla.tar" -C "$MMDREAM_CACHE" xla
fi
ls -la "$out"

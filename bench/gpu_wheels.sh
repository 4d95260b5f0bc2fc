#!/usr/bin/env bash
# Make the folder bench/gpu_check.sh carries to a GPU image: wheels of our pinned pure-Python stack
# (and the few small binary wheels it imports), a csmpt wheel, and the tiny tokenizer + MDS shards
# the training part needs. Run here (CPU, PyPI reachable), then carry the folder with the check.
#
#   bench/gpu_wheels.sh [OUT]            # default artifacts/gpu_wheels; fails above 64 MiB
#
# Which packages: the import closure, computed, not listed by hand. bench/gpu_closure.py imports
# everything the check imports (composer, streaming, transformers, llmfoundry, lion_pytorch,
# csmpt's trainer, models and optimizer, the GPU test files) under a Python that has only the
# image's packages, with the carried wheels installed as the image will install them (pip
# --no-deps --no-index --target); for each import that fails it carries the wheel of the
# distribution the failure names (ModuleNotFoundError, transformers' version check, "cannot
# import name ... from", "module ... has no attribute"), at the version pinned in this venv, and
# tries again until everything imports. So mlflow-skinny's chain is carried because llm-foundry
# imports mlflow unconditionally; boto3 is not, because nothing imports it at import time.
#
# The image: $IMAGE_PYTHON, or a Python 3.12 venv made here ($GPU_IMAGE_VENV, default
# ~/.cache/csmpt/gpu_image_py312) with those of bench/gpu_image_packages.txt (the image's documented
# packages, pinned where a version was seen) that this venv also has, everything else removed.
# Needs python3.12 (or $PYTHON312) and the registry; ~3 GB for torch 2.11 and its CUDA libraries.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$REPO/artifacts/gpu_wheels}"
PY="${PYTHON:-$REPO/.venv/bin/python}"
LIMIT_MIB=64
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
# GPU_WHEELS_KEEP=1 goes on from the wheels already there (after a stop); by default from scratch.
[ "${GPU_WHEELS_KEEP:-0}" = 1 ] || rm -rf "$OUT/wheels"
mkdir -p "$OUT/wheels"

image_python() {  # prints a Python that has only the image's packages (made once)
  if [ -n "${IMAGE_PYTHON:-}" ]; then echo "$IMAGE_PYTHON"; return; fi
  local venv="${GPU_IMAGE_VENV:-$HOME/.cache/csmpt/gpu_image_py312}"
  if [ -f "$venv/.csmpt-image" ]; then echo "$venv/bin/python"; return; fi
  local py312=""
  for cand in "${PYTHON312:-}" python3.12 "$(command -v uv > /dev/null && uv python find 3.12)" \
      "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
    if [ -n "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 12)' \
        2>/dev/null; then py312="$cand"; break; fi
  done
  if [ -z "$py312" ]; then
    echo "gpu_wheels: no Python 3.12 here to simulate the GPU image (set PYTHON312 or" \
         "IMAGE_PYTHON)" >&2
    exit 2
  fi
  echo "== simulating the GPU image: $venv ($("$py312" -V))" >&2
  [ -x "$venv/bin/python" ] || "$py312" -m venv "$venv"
  "$PY" - "$REPO/bench/gpu_image_packages.txt" > "$venv/image-requirements.txt" <<'PYEOF'
import importlib.metadata as md, re, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
ours = {norm(d.metadata["Name"]) for d in md.distributions()}
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line and norm(line.split("==")[0]) in ours:
        print(line)
PYEOF
  "$venv/bin/python" -m pip install -q -r "$venv/image-requirements.txt" >&2
  # Only the image's packages: remove what their installs pulled in beyond its documented list.
  "$venv/bin/python" - "$REPO/bench/gpu_image_packages.txt" > "$venv/not-in-image.txt" <<'PYEOF'
import importlib.metadata as md, re, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
image = {norm(l.split("#")[0].strip().split("==")[0]) for l in open(sys.argv[1]) if l.split("#")[0].strip()}
for d in md.distributions():
    name = norm(d.metadata["Name"])
    if name not in image and not name.startswith(("nvidia-", "cuda-")) and name != "pip":
        print(name)
PYEOF
  if [ -s "$venv/not-in-image.txt" ]; then
    echo "   removing what the image does not list: $(tr '\n' ' ' < "$venv/not-in-image.txt")" >&2
    "$venv/bin/python" -m pip uninstall -q -y -r "$venv/not-in-image.txt" >&2
  fi
  touch "$venv/.csmpt-image"
  echo "$venv/bin/python"
}

IMG="$(image_python)"
echo "== the image's Python: $IMG ($("$IMG" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)'))"

echo "== csmpt wheel (with its llm-foundry entry points; the repository's code comes first on PYTHONPATH)"
rm -f "$OUT"/wheels/csmpt-*.whl
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$OUT/wheels" "$REPO"

echo "== the import closure: carry what fails to import on the image, until everything imports"
"$PY" "$REPO/bench/gpu_closure.py" solve --image-python "$IMG" --wheels "$OUT/wheels"

echo "== tokenizer and MDS shards of the sample corpora (the hot-swap run's data)"
CSMPT="$(dirname "$PY")/csmpt"
# The recipes name their inputs relative to the repository root and data_prep/sample.yaml reads
# its classifier from artifacts/demo/filter/classifier: run in a scratch root that links the
# inputs, so nothing is written into the repository's artifacts/.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ln -s "$REPO/data" "$WORK/data"
ln -s "$REPO/data_prep" "$WORK/data_prep"
(cd "$WORK" && "$CSMPT" tokenizer train data_prep/tokenizer/sample.yaml \
   "output_dir=$OUT/data/tokenizer")
(cd "$WORK" && "$CSMPT" filter train data_prep/filter/sample.yaml)
(cd "$WORK" && "$CSMPT" prep data_prep/sample.yaml "tokenizer=$OUT/data/tokenizer" \
   "output_dir=$OUT/data/mds")

SIZE_MIB=$(du -sm "$OUT" | cut -f1)
echo "== done: $(ls "$OUT"/wheels/*.whl | wc -l) wheels ($(du -sm "$OUT/wheels" | cut -f1) MiB)," \
     "${SIZE_MIB} MiB in all in $OUT; the closure with the import failure that brought each wheel" \
     "in: $OUT/requirements-gpu.txt"
if [ "$SIZE_MIB" -gt "$LIMIT_MIB" ]; then
  echo "gpu_wheels: ${SIZE_MIB} MiB is more than the ${LIMIT_MIB} MiB a device call carries" >&2
  exit 1
fi

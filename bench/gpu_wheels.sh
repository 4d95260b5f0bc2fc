#!/usr/bin/env bash
# Make the folder bench/gpu_check.sh carries to a GPU image: wheels of our pinned pure-Python stack
# (and the few small binary wheels it imports), a csmpt wheel, and the tiny tokenizer + MDS shards
# the training part needs. Run here (CPU, PyPI reachable), then carry the folder with the check.
#
#   bench/gpu_wheels.sh [OUT]            # default artifacts/gpu_wheels; ~45 MiB
#
# Which packages. The GPU image (checked: Python 3.12, torch 2.11, transformers 5.x, triton 3.6,
# no registry) has torch and what torch and transformers 5 require. Our stack needs older
# versions of some of those and packages the image lacks. The list is not guessed: it is the
# import closure of `composer`, `llmfoundry`, `streaming`, `transformers` and csmpt's trainer and
# hot swap, measured in this venv (every distribution a module of it comes from), pinned to the
# versions installed here (requirements/constraints.txt), minus
#   * torch, triton, nvidia-*, and torchvision (built against one torch: the image's must serve);
#   * what a torch-2.11 + transformers-5 image installs for itself, at versions our stack accepts:
#     numpy, packaging, PyYAML, regex, requests (urllib3, idna, certifi, charset-normalizer),
#     safetensors, tqdm, filelock, fsspec? (no: datasets 3.6 pins fsspec 2023.6, carried), jinja2,
#     MarkupSafe, networkx, sympy, mpmath, typing_extensions, setuptools;
#   * large binaries imported only opportunistically or for features the check does not use:
#     pyarrow and pandas (datasets' Arrow tables: finetuning data), matplotlib and its
#     fonttools/kiwisolver/pillow/contourpy, scipy, scikit-learn, mlflow, cryptography and the
#     ssh/crypto stack (paramiko, bcrypt, PyNaCl, cffi: remote storage). If the image lacks one
#     that an import really needs, bench/gpu_check.sh says which module failed to import and
#     still runs the torch-only parts.
# Carried as binary wheels for CPython 3.12 manylinux x86_64 (small, needed at import):
#   tokenizers 0.21 (transformers 4.51.3 refuses 0.22; abi3), xxhash, zstd, zstandard, brotli,
#   cramjam (python-snappy), psutil, and aiohttp's multidict/yarl/frozenlist/propcache.
# Also pytest (+ pluggy, iniconfig, pytest-timeout): the check runs `pytest -m gpu`.
# A package published only as source would be built here with `pip wheel`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$REPO/artifacts/gpu_wheels}"
PY="${PYTHON:-$REPO/.venv/bin/python}"
mkdir -p "$OUT/wheels"
OUT="$(cd "$OUT" && pwd)"

echo "== requirements: the import closure of the training stack, pinned to this venv"
"$PY" - "$OUT/requirements-gpu.txt" <<'PYEOF'
import importlib.metadata as md
import sys
import warnings

warnings.filterwarnings("ignore")
before = {m.split(".")[0] for m in sys.modules}
import composer  # noqa: E402,F401
import llmfoundry  # noqa: E402,F401
import llmfoundry.command_utils  # noqa: E402,F401
import streaming  # noqa: E402,F401
import transformers  # noqa: E402,F401

import csmpt.callbacks.hot_swap  # noqa: E402,F401
import csmpt.optim.lionw  # noqa: E402,F401
import csmpt.training  # noqa: E402,F401

mods = {m.split(".")[0] for m in sys.modules} - before
owners = md.packages_distributions()
dists = {d for m in mods for d in owners.get(m, [])}
dists |= {"lion-pytorch"}  # csmpt_lionw's triton kernel (imported on first use)
dists |= {"pytest", "pluggy", "iniconfig", "pytest-timeout"}  # gpu_check runs `pytest -m gpu`

def norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")

IMAGE_HAS = {
    "torch", "triton", "torchvision", "numpy", "packaging", "pyyaml", "regex", "requests",
    "urllib3", "idna", "certifi", "charset-normalizer", "safetensors", "tqdm", "filelock",
    "jinja2", "markupsafe", "networkx", "sympy", "mpmath", "typing-extensions", "setuptools",
}
NOT_CARRIED = {
    "pyarrow", "pandas", "matplotlib", "fonttools", "kiwisolver", "pillow", "contourpy",
    "cycler", "scipy", "scikit-learn", "threadpoolctl", "joblib", "mlflow", "mlflow-skinny",
    "cryptography", "pyopenssl", "paramiko", "bcrypt", "pynacl", "cffi", "pycparser",
    "csmpt", "databricks-sdk", "narwhals", "opentelemetry-api", "opentelemetry-sdk",
    "opentelemetry-semantic-conventions", "pytz", "tzdata",
}
keep = sorted(
    d for d in dists
    if norm(d) not in IMAGE_HAS and norm(d) not in NOT_CARRIED and not norm(d).startswith("nvidia-")
)
with open(sys.argv[1], "w") as f:
    for d in keep:
        f.write(f"{d}=={md.version(d)}\n")
print(f"{len(keep)} distributions -> {sys.argv[1]}")
PYEOF

echo "== wheels for CPython 3.12 manylinux x86_64 (binary where one exists)"
PLAT=(--python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
      --platform manylinux_2_28_x86_64 --platform any)
NOT_CARRIED=()
while read -r req; do
  [ -z "$req" ] && continue
  name="${req%%==*}"
  if "$PY" -m pip download -q --no-deps --only-binary=:all: "${PLAT[@]}" -d "$OUT/wheels" \
      "$req" 2>/dev/null; then
    continue
  fi
  # No wheel of the pinned version for the image. A pure-Python package is built here; a
  # compiled one takes the newest earlier release that has a CPython 3.12 wheel.
  tmp="$(mktemp -d)"
  if "$PY" -m pip wheel -q --no-deps -w "$tmp" "$req" 2>/dev/null && ls "$tmp"/*-none-any.whl \
      > /dev/null 2>&1; then
    echo "   $req: no wheel on the registry; built here (pure Python)"
    mv "$tmp"/*.whl "$OUT/wheels/"
  elif "$PY" -m pip download -q --no-deps --only-binary=:all: "${PLAT[@]}" -d "$OUT/wheels" \
      "$name<=${req#*==}" 2>/dev/null; then
    echo "   $req: no CPython 3.12 wheel of this version; carried $(ls "$OUT"/wheels/ \
      | grep -i "^${name//-/_}-" | head -1) instead"
  else
    NOT_CARRIED+=("$req")
  fi
  rm -rf "$tmp"
done < "$OUT/requirements-gpu.txt"

if [ "${#NOT_CARRIED[@]}" -gt 0 ]; then
  echo "   not carried (no CPython 3.12 wheel; the image must provide them): ${NOT_CARRIED[*]}"
fi

echo "== csmpt wheel (with its llm-foundry entry points)"
rm -f "$OUT"/wheels/csmpt-*.whl
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$OUT/wheels" "$REPO"

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

echo "== done: $(ls "$OUT"/wheels/*.whl | wc -l) wheels, $(du -sh "$OUT" | cut -f1) in $OUT"
SIZE_MB=$(du -sm "$OUT" | cut -f1)
if [ "$SIZE_MB" -gt 60 ]; then
  echo "warning: ${SIZE_MB} MiB is more than a 64 MiB carry allows with the repository" >&2
fi

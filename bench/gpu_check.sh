#!/usr/bin/env bash
# One prepared GPU check for one H100/H200, inside 5 minutes: FSDP + bf16 + hot swap + kill and
# autoresume + LionW kernels + MFU. Writes OUT/gpu_check.json (and one JSON/log per part) and
# prints a short table last.
#
#   bench/gpu_wheels.sh                       # here, once: artifacts/gpu_wheels (carry it)
#   bench/gpu_check.sh [OUT] [--wheels DIR] [--dry-run]
#
#   OUT        results folder (default artifacts/gpu_check/)
#   --wheels   the folder bench/gpu_wheels.sh made (default artifacts/gpu_wheels, or $GPU_WHEELS)
#   --dry-run  prints what it would run, stops after the CUDA check (works on a CPU machine)
#
# Steps, each under `timeout` within a 285 s budget (a step that has no time left is skipped and
# reported as such; $GPU_CHECK_BUDGET_S changes the budget):
#   1. install the carried wheels into OUT/site (pip --no-deps --no-index --target, or unzip
#      where the image has no pip) and put it first on PYTHONPATH; print versions; import
#      Composer, and if it fails on the image's torch, say exactly why and go on with the parts
#      that need only torch;
#   2. CUDA check;
#   3. kernels (torch only): bf16 matmul rate, attention fwd+bwd at the 350M shape for
#      csmpt_flex_alibi / csmpt_sdpa_alibi / torch, LionW on 1B fp32 params vs the copy floor;
#   4. pytest -m gpu (the test files that hold GPU tests);
#   5. ~350M ALiBi MPT, bf16, FSDP FULL_SHARD on one GPU, per attention: tokens/s, MFU against
#      the matmul rate of step 3, peak memory;
#   6. the hot-swap recipe at 350M: 30 steps uninterrupted vs SIGKILL after step 21 + autoresume
#      (sharded checkpoints every 10 steps): losses within bf16 noise, events identical;
#   7. OUT/gpu_check.json and the table.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY=0
OUT=""
WHEELS="${GPU_WHEELS:-$REPO/artifacts/gpu_wheels}"
BUDGET="${GPU_CHECK_BUDGET_S:-285}"
PY="${PYTHON:-python3}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --wheels) WHEELS="$2"; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) OUT="$1" ;;
  esac
  shift
done
OUT="${OUT:-$REPO/artifacts/gpu_check}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
: > "$OUT/steps.jsonl"
cd "$REPO" || exit 2
SECONDS=0

record() {  # name status seconds
  printf '{"name": "%s", "status": "%s", "seconds": %s}\n' "$1" "$2" "$3" >> "$OUT/steps.jsonl"
}

step() {  # name cap_seconds command...: run under timeout within the budget, log to OUT/name.log
  local name="$1" cap="$2"
  shift 2
  local left=$((BUDGET - SECONDS - 10))
  if [ "$left" -lt 15 ]; then
    echo "== $name: skipped, no time left in the ${BUDGET}s budget"
    record "$name" "skipped: no time left" 0
    return 1
  fi
  [ "$cap" -gt "$left" ] && cap="$left"
  echo "== $name (at most ${cap}s): $*"
  local start=$SECONDS rc
  timeout -k 5 "$cap" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  local took=$((SECONDS - start))
  if [ "$rc" -eq 0 ]; then
    record "$name" ok "$took"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    record "$name" "timed out after ${cap}s" "$took"
    echo "   timed out after ${cap}s; last lines of $OUT/$name.log:"; tail -n 5 "$OUT/$name.log"
  else
    record "$name" "failed (exit $rc)" "$took"
    echo "   failed (exit $rc); last lines of $OUT/$name.log:"; tail -n 8 "$OUT/$name.log"
  fi
  return "$rc"
}

# --- 1. carried wheels -----------------------------------------------------------------------------
SITE="$OUT/site"
if ls "$WHEELS"/wheels/*.whl > /dev/null 2>&1; then
  N_WHEELS=$(ls "$WHEELS"/wheels/*.whl | wc -l)
  if [ "$DRY" -eq 1 ]; then
    echo "== would install $N_WHEELS carried wheels from $WHEELS/wheels into $SITE (--no-deps)"
  else
    echo "== installing $N_WHEELS carried wheels into $SITE"
    rm -rf "$SITE"
    if ! "$PY" -m pip install -q --no-deps --no-index --target "$SITE" "$WHEELS"/wheels/*.whl \
        > "$OUT/install.log" 2>&1; then
      echo "   pip could not install them (see $OUT/install.log); unpacking the wheels instead"
      "$PY" - "$SITE" "$WHEELS"/wheels/*.whl <<'PYEOF'
import sys, zipfile
for wheel in sys.argv[2:]:
    zipfile.ZipFile(wheel).extractall(sys.argv[1])
PYEOF
    fi
    export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
  fi
else
  echo "== no carried wheels in $WHEELS/wheels: using the packages the image has" \
       "(make them with bench/gpu_wheels.sh)"
  export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
fi
DATA="$WHEELS/data"

# --- versions, Composer import, CUDA -------------------------------------------------------------
"$PY" - "$OUT/env.json" <<'PYEOF'
import importlib, importlib.metadata as md, json, platform, sys, traceback, warnings

warnings.filterwarnings("ignore")
env = {"python": platform.python_version()}
try:
    import torch
    env["torch"] = torch.__version__
    env["cuda_available"] = torch.cuda.is_available()
    env["device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    env["cuda"] = torch.version.cuda
except Exception as e:  # noqa: BLE001
    env["torch"] = f"does not import: {type(e).__name__}: {e}"
    env["cuda_available"] = False
for dist in ("triton", "transformers", "mosaicml", "llm-foundry", "mosaicml-streaming",
             "tokenizers", "huggingface-hub", "csmpt", "pytest"):
    try:
        env[dist] = md.version(dist)
    except md.PackageNotFoundError:
        env[dist] = None
for module in ("composer", "llmfoundry", "streaming"):
    try:
        importlib.import_module(module)
        env[f"{module}_imports"] = True
    except BaseException as e:  # noqa: BLE001 - report exactly why, whatever it is
        env[f"{module}_imports"] = False
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else "?"
        env[f"{module}_error"] = f"{type(e).__name__}: {e} (at {where})"
env["composer"] = env.pop("mosaicml")
for key, value in env.items():
    print(f"   {key}: {value}")
json.dump(env, open(sys.argv[1], "w"), indent=1)
PYEOF
COMPOSER_OK=$("$PY" -c "import json,sys; print(int(json.load(open(sys.argv[1]))['composer_imports'] and json.load(open(sys.argv[1]))['llmfoundry_imports']))" "$OUT/env.json" 2>/dev/null || echo 0)
CUDA_OK=$("$PY" -c "import json,sys; print(int(json.load(open(sys.argv[1]))['cuda_available']))" "$OUT/env.json" 2>/dev/null || echo 0)
if [ "$COMPOSER_OK" != 1 ]; then
  echo "== Composer/llm-foundry do not import here (why: env.json *_error above); only the" \
       "torch-only parts will run: kernels (attention, LionW)"
fi

GPU_TESTS=$(grep -rl --include="test_*.py" "pytest.mark.gpu" tests | sort | tr '\n' ' ')
PLAN="   3. kernels: $PY bench/gpu_check_kernels.py --out $OUT/kernels.json
   4. pytest -m gpu: $PY -m pytest -m gpu $GPU_TESTS
   5. throughput: $PY bench/gpu_check_train.py throughput (csmpt_flex_alibi, csmpt_sdpa_alibi, torch; 350M, bf16, FSDP FULL_SHARD)
   6. resume: $PY bench/gpu_check_train.py resume --data $DATA (30 steps, hot swap, SIGKILL after 21, autoresume)
   7. report: $PY bench/gpu_check_report.py $OUT"
if [ "$CUDA_OK" != 1 ]; then
  echo "== CUDA check: no CUDA device here ($("$PY" -c "import torch; print('torch', torch.__version__)" 2>&1 | tail -1))"
  if [ "$DRY" -eq 1 ]; then
    echo "== dry run: on a CUDA machine this would run (within ${BUDGET}s):"
    echo "$PLAN"
    record cuda_check "no CUDA device (dry run)" "$SECONDS"
    exit 0
  fi
  record cuda_check "no CUDA device" "$SECONDS"
  echo "gpu_check: needs a CUDA GPU (run with --dry-run to see the plan)" >&2
  exit 2
fi
record cuda_check ok "$SECONDS"
if [ "$DRY" -eq 1 ]; then
  echo "== dry run: CUDA is here; this would run (within ${BUDGET}s):"
  echo "$PLAN"
  exit 0
fi

# --- 3..6 -------------------------------------------------------------------------------------------
step kernels 75 "$PY" bench/gpu_check_kernels.py --out "$OUT/kernels.json"
MATMUL=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['matmul_bf16_tflops']['value'])" "$OUT/kernels.json" 2>/dev/null || echo 0)

if [ "$COMPOSER_OK" = 1 ]; then
  step pytest 45 "$PY" -m pytest -m gpu -q -p no:cacheprovider -x $GPU_TESTS
  SUMMARY=$(grep -E "passed|failed|error" "$OUT/pytest.log" | tail -n 1)
  printf '{"summary": "%s"}\n' "${SUMMARY//\"/\'}" > "$OUT/pytest.json"
  step train 90 "$PY" bench/gpu_check_train.py throughput --out "$OUT/train.json" \
    --matmul-tflops "$MATMUL" --timeout 60
  step resume 75 "$PY" bench/gpu_check_train.py resume --out "$OUT/resume.json" --data "$DATA" \
    --work "$OUT/runs" --timeout 60
else
  for part in pytest train resume; do record "$part" "skipped: Composer does not import" 0; done
fi

echo "== results ($SECONDS s): $OUT/gpu_check.json"
"$PY" bench/gpu_check_report.py "$OUT"

#!/usr/bin/env bash
# One prepared GPU check for one H100/H200, inside 9 minutes: FSDP1 and FSDP2 + bf16 + hot swap +
# kill and autoresume + LionW kernels + MFU + a real FSDP1 sharded checkpoint for the CPU tests. The results are one small folder, all that needs copying back:
# OUT/rows.jsonl (every row, appended as it is measured), OUT/gpu_check.json, OUT/gpu_check.md (the
# table, also printed last) and at most 5 logs. Big outputs (the installed wheels, the training
# runs' checkpoints) go to WORK.
#
#   bench/gpu_wheels.sh                       # here, once: artifacts/gpu_wheels (carry it)
#   bench/gpu_check.sh [OUT] [--wheels DIR] [--work DIR] [--tar FILE] [--dry-run]
#
#   OUT        results folder (default artifacts/gpu_check/)
#   --wheels   the folder bench/gpu_wheels.sh made (default artifacts/gpu_wheels, or $GPU_WHEELS)
#   --work     big outputs (default $GPU_CHECK_WORK or a new folder under ${TMPDIR:-/tmp})
#   --tar      also pack OUT into FILE (.tar.gz) at the end: a device call returns at most 8
#              files, 2 folders down, so the check's ~12 files and the fixture's folder come back
#              as one (the device call: `bench/gpu_check.sh /tmp/gc --tar $OUT/gpu_check.tar.gz`)
#   --dry-run  installs the carried wheels into a temporary folder, imports the whole stack with
#              them (bench/gpu_closure.py probe) and stops after the CUDA check: on a CPU machine,
#              run it with PYTHON= a Python 3.12 that has the image's packages
#
# Steps, each under `timeout` within a 540 s budget ($GPU_CHECK_BUDGET_S); the caps leave ~50 s for
# the install, and a step with no time left is skipped and reported as such:
#   1. install the carried wheels into WORK/site (pip --no-deps --no-index --target, or unzip
#      where the image has no pip); PYTHONPATH is the repository, then WORK/site (the carried csmpt
#      wheel gives the entry points, the repository the code); HF_HUB_OFFLINE=1;
#   2. import everything the check imports, one row per module (why, where it failed); CUDA check;
#   3. kernels (torch only): bf16 matmul rate, attention fwd+bwd at the 350M shape for
#      csmpt_flex_alibi / csmpt_sdpa_alibi / torch, LionW on 1B fp32 params vs the copy floor;
#   4. pytest -m gpu, the tests that compile nothing;
#   5. ~350M ALiBi MPT, bf16, FSDP FULL_SHARD on one GPU, per attention, and csmpt_sdpa_alibi
#      under Composer's FSDP2 path (`fsdp_config.version: 2`): tokens/s, MFU against the matmul
#      rate of step 3, peak memory;
#   6. a tiny MPT under FSDP1 with a sharded (DCP) save and its logits: OUT/fsdp1/, the fixture
#      of tests/checkpoint/test_sharded_export.py (FSDP1 cannot run on CPU);
#   7. the hot-swap recipe at 350M: 30 steps uninterrupted vs SIGKILL after step 21 + autoresume:
#      losses within bf16 noise, events identical, the step the kill landed on (on one GPU
#      llm-foundry's train drops fsdp_config - "not applicable for single-GPU training" - so
#      this run is single-device with monolithic checkpoints, not FSDP);
#   8. pytest -m gpu, the flex tests (each compiles kernels: last, so they cannot eat 5's budget);
#   9. OUT/gpu_check.json and the table, which names every missing row and why.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY=0
OUT=""
WORK="${GPU_CHECK_WORK:-}"
WHEELS="${GPU_WHEELS:-$REPO/artifacts/gpu_wheels}"
BUDGET="${GPU_CHECK_BUDGET_S:-540}"
TAR=""
PY="${PYTHON:-python3}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --wheels) WHEELS="$2"; shift ;;
    --work) WORK="$2"; shift ;;
    --tar) TAR="$2"; shift ;;
    -h|--help) sed -n '2,45p' "$0"; exit 0 ;;
    *) OUT="$1" ;;
  esac
  shift
done
OUT="${OUT:-$REPO/artifacts/gpu_check}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
rm -f "$OUT"/*.log "$OUT"/rows.jsonl "$OUT"/gpu_check.json "$OUT"/gpu_check.md
: > "$OUT/rows.jsonl"
ROWS="$OUT/rows.jsonl"
if [ -z "$WORK" ]; then WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check_work.XXXXXX")"; fi
mkdir -p "$WORK"
if [ "$DRY" -eq 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
export TOKENIZERS_PARALLELISM=false
cd "$REPO" || exit 2
SECONDS=0

record() {  # name status seconds [extra JSON fields]: one step row
  printf '{"part": "step", "name": "%s", "status": "%s", "seconds": %s%s}\n' \
    "$1" "${2//\"/\'}" "$3" "${4:+, $4}" >> "$ROWS"
}

# name cap_seconds log command...: run under timeout within the budget, log to OUT/log; the
# command sees its cap as $CAP_S (gpu_check_train.py stops its subprocesses 5 s before it).
step() {
  local name="$1" cap="$2" log="$3"
  shift 3
  local left=$((BUDGET - SECONDS - 10))
  if [ "$left" -lt 15 ]; then
    echo "== $name: skipped, no time left in the ${BUDGET}s budget"
    record "$name" "skipped: no time left in the ${BUDGET}s budget" 0
    return 1
  fi
  [ "$cap" -gt "$left" ] && cap="$left"
  echo "== $name (at most ${cap}s): $*"
  echo "== $name (at most ${cap}s): $*" >> "$OUT/$log"
  local start=$SECONDS rc
  CAP_S="$cap" timeout -k 5 "$cap" "$@" >> "$OUT/$log" 2>&1
  rc=$?
  local took=$((SECONDS - start))
  if [ "$rc" -eq 0 ]; then
    record "$name" ok "$took"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    record "$name" "timed out after ${cap}s" "$took"
    echo "   timed out after ${cap}s; last lines of $OUT/$log:"; tail -n 5 "$OUT/$log"
  else
    record "$name" "failed (exit $rc)" "$took"
    echo "   failed (exit $rc); last lines of $OUT/$log:"; tail -n 8 "$OUT/$log"
  fi
  return "$rc"
}

# --- 1. carried wheels -----------------------------------------------------------------------------
SITE="$WORK/site"
if ls "$WHEELS"/wheels/*.whl > /dev/null 2>&1; then
  N_WHEELS=$(ls "$WHEELS"/wheels/*.whl | wc -l)
  echo "== installing $N_WHEELS carried wheels into $SITE"
  rm -rf "$SITE"
  start=$SECONDS
  if ! "$PY" -m pip install -q --no-deps --no-index --no-compile --target "$SITE" \
      "$WHEELS"/wheels/*.whl > "$OUT/install.log" 2>&1; then
    echo "   pip could not install them (see $OUT/install.log); unpacking the wheels instead"
    "$PY" - "$SITE" "$WHEELS"/wheels/*.whl <<'PYEOF'
import sys, zipfile
for wheel in sys.argv[2:]:
    zipfile.ZipFile(wheel).extractall(sys.argv[1])
PYEOF
  fi
  record install ok $((SECONDS - start)) "\"wheels\": $N_WHEELS"
  # The repository first: the carried csmpt wheel supplies the entry points, not the code.
  export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"
else
  echo "== no carried wheels in $WHEELS/wheels: using the packages the image has" \
       "(make them with bench/gpu_wheels.sh)"
  record install "no carried wheels in $WHEELS/wheels" 0
  export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
fi
DATA="$WHEELS/data"

# --- 2. versions, imports, CUDA -----------------------------------------------------------------
"$PY" - "$ROWS" <<'PYEOF' 2>> "$OUT/install.log"
import importlib.metadata as md, json, platform, sys, warnings

warnings.filterwarnings("ignore")
env = {"part": "env", "python": platform.python_version()}
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
             "tokenizers", "huggingface-hub", "mlflow-skinny", "setuptools", "csmpt", "pytest"):
    try:
        env[dist] = md.version(dist)
    except md.PackageNotFoundError:
        env[dist] = None
env["composer"] = env.pop("mosaicml")
for key, value in env.items():
    print(f"   {key}: {value}")
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(env) + "\n")
PYEOF
echo "== importing what the check imports (bench/gpu_closure.py probe)"
"$PY" bench/gpu_closure.py probe 2>> "$OUT/install.log" \
  | "$PY" -c 'import json, sys
for line in sys.stdin:
    row = json.loads(line)
    row["part"] = "import"
    print(json.dumps(row))' >> "$ROWS"
# The first of the stack that does not import names why the Composer parts are skipped.
read -r N_IMPORT_FAIL CUDA_OK NOT_IMPORTING < <("$PY" - "$ROWS" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
env = next((r for r in rows if r.get("part") == "env"), {})
imports = [r for r in rows if r.get("part") == "import"]
bad = [r for r in imports if not r["ok"]]
print(f"   {len(imports) - len(bad)} modules import, {len(bad)} do not", file=sys.stderr)
for r in bad:
    print(f"   {r['module']}: {r['error']} ({r['where']})", file=sys.stderr)
stack = ("composer", "streaming", "transformers", "llmfoundry", "csmpt.training")
first = next((r for r in bad if r["module"] in stack), None)
why = f"{first['module']} does not import ({first['error'][:200]})" if first else ""
print(len(bad) if imports else 1, int(bool(env.get("cuda_available"))), why.replace("\n", " "))
PYEOF
)
N_IMPORT_FAIL="${N_IMPORT_FAIL:-1}"
CUDA_OK="${CUDA_OK:-0}"
if [ -n "$NOT_IMPORTING" ]; then
  echo "== $NOT_IMPORTING: only the torch-only parts will run: kernels (attention, LionW)"
fi

GPU_TESTS=$(grep -rl --include="test_*.py" "pytest.mark.gpu" tests | sort | tr '\n' ' ')
PYTEST=("$PY" -m pytest -m gpu -q -p no:cacheprovider --timeout 60)
PLAN="   3. kernels: $PY bench/gpu_check_kernels.py --out $ROWS
   4. pytest -m gpu -k 'not flex': ${PYTEST[*]} $GPU_TESTS
   5. throughput: $PY bench/gpu_check_train.py throughput (csmpt_sdpa_alibi, torch, csmpt_sdpa_alibi@fsdp2, csmpt_flex_alibi; 350M, bf16, FSDP FULL_SHARD)
   6. fsdp1 fixture: $PY bench/gpu_check_train.py fsdp1-fixture --fixture-out $OUT/fsdp1
   7. resume: $PY bench/gpu_check_train.py resume --data $DATA --work $WORK/runs (30 steps, hot swap, SIGKILL after 21, autoresume)
   8. pytest -m gpu -k flex (compiles)
   9. report: $PY bench/gpu_check_report.py $OUT"
if [ "$CUDA_OK" != 1 ]; then
  echo "== CUDA check: no CUDA device here ($("$PY" -c "import torch; print('torch', torch.__version__)" 2>&1 | tail -1))"
  if [ "$DRY" -eq 1 ]; then
    echo "== dry run: on a CUDA machine this would run (within ${BUDGET}s):"
    echo "$PLAN"
    record cuda_check "no CUDA device (dry run)" "$SECONDS"
    [ "$N_IMPORT_FAIL" -eq 0 ]; exit $?
  fi
  record cuda_check "no CUDA device" "$SECONDS"
  echo "gpu_check: needs a CUDA GPU (run with --dry-run to see the plan)" >&2
  exit 2
fi
record cuda_check ok "$SECONDS"
if [ "$DRY" -eq 1 ]; then
  echo "== dry run: CUDA is here; this would run (within ${BUDGET}s):"
  echo "$PLAN"
  [ "$N_IMPORT_FAIL" -eq 0 ]; exit $?
fi

# --- 3..8 ---------------------------------------------------------------------------------------------
# Caps: 60 + 40 + 200 + 30 + 120 + 40 = 490 s, leaving ~50 s of the 540 s budget for steps 1-2
# (the H200 image's first CUDA call took 33 s; a 350M throughput run needs ~45 s with its imports,
# and 29 s shares timed out, 2026-12-04; the 30-step reference run took 49 s).
step kernels 60 kernels.log "$PY" bench/gpu_check_kernels.py --out "$ROWS"
MATMUL=$("$PY" -c "import json,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '\"matmul_bf16_tflops\"' in l]
print(rows[-1].get('value') or 0 if rows else 0)" "$ROWS" 2>/dev/null || echo 0)

pytest_rows() {  # group log: the pytest summary line of the last run as a row
  local summary
  summary=$(grep -E "passed|failed|error|no tests ran" "$OUT/$2" | tail -n 1)
  printf '{"part": "pytest", "group": "%s", "summary": "%s"}\n' "$1" "${summary//\"/\'}" >> "$ROWS"
}
if [ -z "$NOT_IMPORTING" ]; then
  step pytest_quick 40 pytest.log "${PYTEST[@]}" -k "not flex" $GPU_TESTS
  pytest_rows quick pytest.log
  step train 200 train.log "$PY" bench/gpu_check_train.py throughput --out "$ROWS" \
    --matmul-tflops "$MATMUL"
  step fsdp1_fixture 30 fixture.log "$PY" bench/gpu_check_train.py fsdp1-fixture --out "$ROWS" \
    --fixture-out "$OUT/fsdp1"
  step resume 120 resume.log "$PY" bench/gpu_check_train.py resume --out "$ROWS" --data "$DATA" \
    --work "$WORK/runs"
  step pytest_flex 40 pytest.log "${PYTEST[@]}" -k flex $GPU_TESTS
  pytest_rows flex pytest.log
else
  for part in pytest_quick train fsdp1_fixture resume pytest_flex; do
    record "$part" "skipped: $NOT_IMPORTING" 0
  done
fi

echo "== results ($SECONDS s): $OUT (gpu_check.json, gpu_check.md, rows.jsonl, logs); big outputs: $WORK"
"$PY" bench/gpu_check_report.py "$OUT"
if [ -n "$TAR" ]; then
  tar czf "$TAR" -C "$(dirname "$OUT")" "$(basename "$OUT")" && echo "== packed: $TAR"
fi

#!/bin/bash
# Run an ablation spec on a SLURM cluster: a job array of its N runs (`csmpt ablate SPEC --run I`:
# the run's surgery, then its training, one GPU each), then `csmpt ablate SPEC --table` once every
# task has ended (afterany: the table holds the runs that finished; the others say "k of n").
#   bash ablate_array.slurm.sh yamls/ablate/base_cs.yaml N [extra sbatch options, e.g. -p gpu]
# N is the run count `csmpt ablate SPEC --dry-run` prints. A task that failed or hit its time
# limit, resubmitted (sbatch --array=I ...), resumes from its checkpoint; a finished run is
# skipped. Spec overrides: SPEC_OVERRIDES="output_dir=runs/abl2 seeds=[1,2,3]".
set -euo pipefail
SPEC=${1:?usage: ablate_array.slurm.sh SPEC N [sbatch options]}
RUNS=${2:?usage: ablate_array.slurm.sh SPEC N [sbatch options]}
shift 2
CSMPT=${CSMPT:-csmpt}
LOGS=${LOGS:-logs/ablate}
mkdir -p "$LOGS"
array=$(sbatch --parsable --job-name=csmpt-ablate --array=1-"$RUNS" --nodes=1 --ntasks=1 \
  --gpus-per-task="${GPUS:-1}" --time="${TIME:-24:00:00}" --output="$LOGS/%x-%A_%a.out" "$@" \
  --wrap="$CSMPT ablate $SPEC ${SPEC_OVERRIDES:-} --run \$SLURM_ARRAY_TASK_ID")
table=$(sbatch --parsable --job-name=csmpt-ablate-table --dependency=afterany:"$array" \
  --nodes=1 --ntasks=1 --time="${TABLE_TIME:-00:30:00}" --output="$LOGS/%x-%j.out" "$@" \
  --wrap="$CSMPT ablate $SPEC ${SPEC_OVERRIDES:-} --table")
echo "runs: job array $array (1-$RUNS); table: $table"

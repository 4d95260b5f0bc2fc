#!/bin/bash
# Prepare a data_prep config on N CPU nodes with SLURM: a job array of N `csmpt prep --part`
# tasks, then `csmpt prep --merge` as a job that starts when every task has succeeded.
#   bash prep_array.slurm.sh data_prep/cs.yaml 8 [extra sbatch options, e.g. --partition=cpu]
# A failed or killed task, resubmitted (sbatch --array=I ...), resumes from its finished shards.
set -euo pipefail
CONFIG=${1:?usage: prep_array.slurm.sh CONFIG N [sbatch options]}
PARTS=${2:?usage: prep_array.slurm.sh CONFIG N [sbatch options]}
shift 2
CSMPT=${CSMPT:-csmpt}
LOGS=${LOGS:-logs/prep}
mkdir -p "$LOGS"
array=$(sbatch --parsable --job-name=csmpt-prep --array=1-"$PARTS" --nodes=1 --ntasks=1 \
  --exclusive --time="${TIME:-24:00:00}" --output="$LOGS/%x-%A_%a.out" "$@" \
  --wrap="$CSMPT prep $CONFIG --part \$SLURM_ARRAY_TASK_ID/$PARTS")
merge=$(sbatch --parsable --job-name=csmpt-prep-merge --dependency=afterok:"$array" \
  --nodes=1 --ntasks=1 --time="${MERGE_TIME:-02:00:00}" --output="$LOGS/%x-%j.out" "$@" \
  --wrap="$CSMPT prep $CONFIG --merge")
echo "parts: job array $array (1-$PARTS); merge: job $merge after all of them"

#!/bin/bash
# Prepare a data_prep config on N CPU nodes with SLURM, as four jobs, each starting when the one
# before has succeeded:
#   1. a job array of N `csmpt prep --part I/N --signatures` (duplicate signatures per part;
#      nothing to do for corpora without a dedup filter),
#   2. `csmpt prep --dedup` (duplicates decided across all parts, in one pass),
#   3. a job array of N `csmpt prep --part I/N` (the builds),
#   4. `csmpt prep --merge`.
#   bash prep_array.slurm.sh data_prep/cs.yaml 8 [extra sbatch options, e.g. --partition=cpu]
# A failed or killed build task, resubmitted (sbatch --array=I ...), resumes from its shards;
# the jobs after it are cancelled (--kill-on-invalid-dep), not left pending forever.
set -euo pipefail
CONFIG=${1:?usage: prep_array.slurm.sh CONFIG N [sbatch options]}
PARTS=${2:?usage: prep_array.slurm.sh CONFIG N [sbatch options]}
shift 2
CSMPT=${CSMPT:-csmpt}
LOGS=${LOGS:-logs/prep}
mkdir -p "$LOGS"
one="--nodes=1 --ntasks=1 --exclusive"
sigs=$(sbatch --parsable --job-name=csmpt-prep-sigs --array=1-"$PARTS" $one \
  --time="${TIME:-24:00:00}" --output="$LOGS/%x-%A_%a.out" "$@" \
  --wrap="$CSMPT prep $CONFIG --part \$SLURM_ARRAY_TASK_ID/$PARTS --signatures")
dedup=$(sbatch --parsable --job-name=csmpt-prep-dedup --dependency=afterok:"$sigs" --kill-on-invalid-dep=yes $one \
  --time="${TIME:-24:00:00}" --output="$LOGS/%x-%j.out" "$@" \
  --wrap="$CSMPT prep $CONFIG --dedup")
array=$(sbatch --parsable --job-name=csmpt-prep --array=1-"$PARTS" $one \
  --dependency=afterok:"$dedup" --kill-on-invalid-dep=yes --time="${TIME:-24:00:00}" --output="$LOGS/%x-%A_%a.out" "$@" \
  --wrap="$CSMPT prep $CONFIG --part \$SLURM_ARRAY_TASK_ID/$PARTS")
merge=$(sbatch --parsable --job-name=csmpt-prep-merge --dependency=afterok:"$array" --kill-on-invalid-dep=yes \
  --nodes=1 --ntasks=1 --time="${MERGE_TIME:-02:00:00}" --output="$LOGS/%x-%j.out" "$@" \
  --wrap="$CSMPT prep $CONFIG --merge")
echo "signatures: $sigs; dedup: $dedup; parts: job array $array (1-$PARTS); merge: $merge"

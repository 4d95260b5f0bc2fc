#!/bin/bash
# Run an ablation spec on a PBS Pro cluster: an array job of its N runs (`csmpt ablate SPEC
# --run I`: the run's surgery, then its training, one GPU each), then `csmpt ablate SPEC
# --table` once every subjob has ended (afterany: the table holds the runs that finished).
#   bash ablate_array.pbs.sh yamls/ablate/base_cs.yaml N [extra qsub options, e.g. -q qgpu]
# N is the run count `csmpt ablate SPEC --dry-run` prints. A failed subjob, rerun
# (csmpt ablate SPEC --run I), resumes from its checkpoint; a finished run is skipped.
set -euo pipefail
SPEC=${1:?usage: ablate_array.pbs.sh SPEC N [qsub options]}
RUNS=${2:?usage: ablate_array.pbs.sh SPEC N [qsub options]}
shift 2
CSMPT=${CSMPT:-csmpt}
WORKDIR=$(pwd)
node="select=1:ncpus=${NCPUS:-16}:ngpus=${GPUS:-1}"
array=$(echo "cd $WORKDIR && $CSMPT ablate $SPEC ${SPEC_OVERRIDES:-} --run \$PBS_ARRAY_INDEX" |
  qsub -N csmpt-ablate -J 1-"$RUNS" -l "$node" -l walltime="${TIME:-24:00:00}" -j oe "$@")
table=$(echo "cd $WORKDIR && $CSMPT ablate $SPEC ${SPEC_OVERRIDES:-} --table" |
  qsub -N csmpt-ablate-table -W depend=afterany:"$array" -l select=1:ncpus=4 \
  -l walltime="${TABLE_TIME:-00:30:00}" -j oe "$@")
echo "runs: array job $array (1-$RUNS); table: $table"

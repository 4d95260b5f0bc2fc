#!/bin/bash
# Prepare a data_prep config on N CPU nodes with PBS Pro: an array job of N `csmpt prep --part`
# subjobs, then `csmpt prep --merge` as a job that starts when the whole array has succeeded.
#   bash prep_array.pbs.sh data_prep/cs.yaml 8 [extra qsub options, e.g. -q cpu]
# A failed subjob, resubmitted (csmpt prep CONFIG --part I/N), resumes from its finished shards.
set -euo pipefail
CONFIG=${1:?usage: prep_array.pbs.sh CONFIG N [qsub options]}
PARTS=${2:?usage: prep_array.pbs.sh CONFIG N [qsub options]}
shift 2
CSMPT=${CSMPT:-csmpt}
WORKDIR=$(pwd)
array=$(echo "cd $WORKDIR && $CSMPT prep $CONFIG --part \$PBS_ARRAY_INDEX/$PARTS" | \
  qsub -N csmpt-prep -J 1-"$PARTS" -l select=1:ncpus="${NCPUS:-32}" \
  -l walltime="${TIME:-24:00:00}" -j oe "$@")
merge=$(echo "cd $WORKDIR && $CSMPT prep $CONFIG --merge" | \
  qsub -N csmpt-prep-merge -W depend=afterok:"$array" -l select=1:ncpus=4 \
  -l walltime="${MERGE_TIME:-02:00:00}" -j oe "$@")
echo "parts: array job $array (1-$PARTS); merge: job $merge after all of them"

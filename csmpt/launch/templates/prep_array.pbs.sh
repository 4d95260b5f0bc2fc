#!/bin/bash
# Prepare a data_prep config on N CPU nodes with PBS Pro, as four jobs, each starting when the
# one before has succeeded: an array of N `csmpt prep --part I/N --signatures`, one
# `csmpt prep --dedup`, an array of N `csmpt prep --part I/N` (the builds), `csmpt prep --merge`.
#   bash prep_array.pbs.sh data_prep/cs.yaml 8 [extra qsub options, e.g. -q cpu]
# A failed build subjob, rerun (csmpt prep CONFIG --part I/N), resumes from its finished shards.
set -euo pipefail
CONFIG=${1:?usage: prep_array.pbs.sh CONFIG N [qsub options]}
PARTS=${2:?usage: prep_array.pbs.sh CONFIG N [qsub options]}
shift 2
CSMPT=${CSMPT:-csmpt}
WORKDIR=$(pwd)
node="select=1:ncpus=${NCPUS:-32}"
sigs=$(echo "cd $WORKDIR && $CSMPT prep $CONFIG --part \$PBS_ARRAY_INDEX/$PARTS --signatures" |
  qsub -N csmpt-prep-sigs -J 1-"$PARTS" -l "$node" -l walltime="${TIME:-24:00:00}" -j oe "$@")
dedup=$(echo "cd $WORKDIR && $CSMPT prep $CONFIG --dedup" |
  qsub -N csmpt-prep-dedup -W depend=afterok:"$sigs" -l "$node" \
  -l walltime="${TIME:-24:00:00}" -j oe "$@")
array=$(echo "cd $WORKDIR && $CSMPT prep $CONFIG --part \$PBS_ARRAY_INDEX/$PARTS" |
  qsub -N csmpt-prep -J 1-"$PARTS" -W depend=afterok:"$dedup" -l "$node" \
  -l walltime="${TIME:-24:00:00}" -j oe "$@")
merge=$(echo "cd $WORKDIR && $CSMPT prep $CONFIG --merge" |
  qsub -N csmpt-prep-merge -W depend=afterok:"$array" -l select=1:ncpus=4 \
  -l walltime="${MERGE_TIME:-02:00:00}" -j oe "$@")
echo "signatures: $sigs; dedup: $dedup; parts: array job $array (1-$PARTS); merge: $merge"

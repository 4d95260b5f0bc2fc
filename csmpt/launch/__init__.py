"""Launching training: one node with ``composer``, or SLURM / PBS job scripts for several.

``csmpt launch`` renders a job from ``csmpt/launch/templates/`` (``render``), runs or submits it
(``launcher``); on each node ``csmpt.launch.node`` works out the node's rank and the master's
address (``rendezvous``) and starts ``composer``, whose processes run ``csmpt.launch.worker``.
"""

from csmpt.launch.launcher import launch, recipe_overrides
from csmpt.launch.render import LaunchSpec, render
from csmpt.launch.rendezvous import NodeRendezvous, expand_hostlist, slurm_rendezvous

__all__ = [
    "LaunchSpec",
    "NodeRendezvous",
    "expand_hostlist",
    "launch",
    "recipe_overrides",
    "render",
    "slurm_rendezvous",
]

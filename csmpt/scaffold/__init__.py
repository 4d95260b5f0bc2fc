"""``csmpt init``: a project folder (five configs and a README) for a base model and a language."""

from csmpt.scaffold.bases import BASES, base_model, batch_plan
from csmpt.scaffold.project import Project, write_project

__all__ = ["BASES", "Project", "base_model", "batch_plan", "write_project"]

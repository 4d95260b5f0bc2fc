"""Old name of :mod:`csmpt.atomic`, kept until ``export/hf.py`` and ``surgery/recipe.py`` import it.

Another engineer owns those two files in this change; delete this module once they import
``csmpt.atomic``.
"""

from csmpt.atomic import replace_dir

__all__ = ["replace_dir"]

"""``csmpt demo``: the pipeline in miniature, and its stages.

* :mod:`csmpt.demo.run`: the five stages and the summary (``run_demo``);
* :mod:`csmpt.demo.vocab_swap`: a tiny English MPT swapped to the Czech tokenizer;
* :mod:`csmpt.demo.spike`: the injected loss spike and what was caught;
* :mod:`csmpt.demo.after_training`: eval, validation, HF export and generation, the report.

The stage packages (surgery, eval, forensics, ...) never import the demo.
"""

from csmpt.demo.run import DemoSummary, find_repo_root, run_demo

__all__ = ["DemoSummary", "find_repo_root", "run_demo"]

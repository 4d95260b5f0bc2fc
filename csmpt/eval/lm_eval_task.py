"""An lm-evaluation-harness task that scores a ``multiple_choice`` JSONL file as csmpt does.

``csmpt eval`` prompts a multiple-choice item 0-shot as its ``query``, then scores
``" " + choice`` for every choice (llm-foundry's ``continuation_delimiter: " "``). The task
written here asks lm-eval for the very same requests (``doc_to_text: query``,
``target_delimiter: " "``) with its built-in ``acc`` and ``acc_norm``, so a published
lm-eval number and a csmpt number can be checked against each other on the same export and
items (``bench/eval_vs_lm_eval.py`` and ``tests/eval/test_vs_lm_eval.py`` do; docs/eval.md says
how). The file is read locally (``dataset_path: json``): nothing is fetched.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from csmpt.atomic import write_text

__all__ = ["mc_task_yaml", "write_mc_task"]

log = logging.getLogger(__name__)


def mc_task_yaml(name: str, data_file: str | Path, num_fewshot: int = 0) -> str:
    """lm-eval task YAML for a ``{"query", "choices", "gold"}`` JSONL file.

    Args:
        name: The lm-eval task name.
        data_file: The JSONL file (its absolute path goes into the YAML).
        num_fewshot: lm-eval's few-shot count (its own sampling of examples: only 0-shot
            prompts equal csmpt's; few-shot examples are drawn differently).
    """
    path = json.dumps(str(Path(data_file).resolve()))
    return (
        f"task: {name}\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n"
        f"  data_files: {{test: {path}}}\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        'doc_to_text: "{{query}}"\n'
        'doc_to_choice: "{{choices}}"\n'
        'doc_to_target: "{{gold}}"\n'
        'target_delimiter: " "\n'
        f"num_fewshot: {num_fewshot}\n"
        "metric_list:\n"
        "  - {metric: acc, aggregation: mean, higher_is_better: true}\n"
        "  - {metric: acc_norm, aggregation: mean, higher_is_better: true}\n"
    )


def write_mc_task(folder: str | Path, name: str, data_file: str | Path) -> Path:
    """Write ``FOLDER/NAME.yaml`` (:func:`mc_task_yaml`); pass FOLDER as lm-eval's include path."""
    out = Path(folder) / f"{name}.yaml"
    write_text(out, mc_task_yaml(name, data_file))
    log.info("lm-eval task %s -> %s", name, out)
    return out

"""Model files in and out: Composer checkpoints and HF folders, for eval, export and surgery.

* :mod:`~csmpt.checkpoint.loading`: a run's Composer checkpoints in step order, a training
  recipe's model given a checkpoint's weights (memory-mapped), an HF folder as ``hf_causal_lm``;
* :mod:`~csmpt.checkpoint.hf_config`: a hub ``config.json`` normalised for llm-foundry 0.22;
* :mod:`~csmpt.checkpoint.hf_folder`: the one HF-folder writer (``csmpt surgery``'s ``hf/`` and
  ``csmpt export``);
* :mod:`~csmpt.checkpoint.saved_tokenizer`: the tokenizer a Composer checkpoint was saved with,
  and the refusal of another one (validate, eval, export, merge, surgery);
* :mod:`~csmpt.checkpoint.surgery_shapes`: the ``csmpt_surgery_shapes`` config transform (a
  training config's model shape follows the surgery output it loads).
"""

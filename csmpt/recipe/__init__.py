"""What a training recipe feeds the model.

Its hot-swap schedule (``swap_schedule``) and what each source of a stream mixture gets
(``mixture``); read by the hot swap, preflight, forensics, validate and ``csmpt mixture``.
"""

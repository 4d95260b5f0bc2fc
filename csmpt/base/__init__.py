"""A small base model built from offline text (``csmpt base build``)."""

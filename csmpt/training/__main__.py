"""``python -m csmpt.training YAML [key=value ...]`` (also ``composer -n N -m csmpt.training``)."""

from csmpt.training.run import main

main()

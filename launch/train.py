"""Training entry for launchers: `composer -n 8 launch/train.py YAML [key=value ...]`."""

from csmpt.training.run import main

if __name__ == "__main__":
    main()

"""``python -m vidconv.training`` / ``torchrun --nproc_per_node=N -m vidconv.training``: see :mod:`vidconv.training.example`."""

from vidconv.training.example import main

if __name__ == "__main__":
    main()

"""``python -m vsml.meta`` (and ``torchrun -m vsml.meta``): see :mod:`vsml.meta.cli`."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())

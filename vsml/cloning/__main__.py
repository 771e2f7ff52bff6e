"""``python -m vsml.cloning``: see :mod:`vsml.cloning.cli`."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m vsml.data``: see :mod:`vsml.data.cli`."""
from .cli import main

raise SystemExit(main())

"""Tiny datasets and configs shared by the tests (a helper module, not a test module).

Imported by ``test_meta.py``, ``test_gpu.py``, ``test_runloop.py`` and by the
worker scripts those tests start in subprocesses (``tests/`` on ``sys.path``).
"""
import torch

from vsml import meta
from vsml.data import Dataset


def remember_the_class(num=200, seed=0):
    """2x2 random images whose label is always 0. VSML's outputs are interchangeable
    (one shared sub-LSTM), so V_M cannot store "class 0": it has to learn online, from
    the fed-back errors, which output is right -- a tiny but real meta-learning task."""
    x = torch.rand(num, 1, 2, 2, generator=torch.Generator().manual_seed(seed))
    return Dataset("synthetic", "train", x, torch.zeros(num, dtype=torch.long), 2, "test fixture")


def tiny(**changes):
    """A meta-training config of seconds on the tasks above."""
    values = dict(method="es", dataset="synthetic", episode_length=12, num_pairs=4, meta_batch_size=4,
                  steps=6, checkpoint_every=2, eval_every=3, eval_episodes=2, eval_length=12, device="cpu")
    values.update(changes)
    return meta.MetaConfig(**values)

"""Tiny datasets and configs shared by the tests (a helper module, not a test module).

Imported by the meta-training, cloning, run I/O and run-loop tests, and by the
worker scripts those tests start in subprocesses (``tests/`` on ``sys.path``).
"""
import torch

from vsml import meta
from vsml.cloning import CloningConfig
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


def tiny_cfg(**changes):
    """A cloning config of milliseconds per step."""
    values = dict(state_size=8, batch_size=64, buffer_size=64, shadow_batch=4, shadow_reset=3, steps=4,
                  checkpoint_every=2, log_every=1, eval_size=64)
    values.update(changes)
    return CloningConfig(**values)


def tiny_dataset(num=40, side=3, seed=0):
    """Random images with random labels: shadow-network data for cloning tests."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(num, 1, side, side, generator=g)
    return Dataset("synthetic", "train", x, torch.randint(10, (num,), generator=g), 10, "test fixture")

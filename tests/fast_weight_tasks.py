"""Shared checks of the fast-weight baselines (tests/test_hebbian.py, tests/test_fwmemory.py); not a test module."""
import math

import torch


def one_label_episodes(P, T, D=4, C=3, seed=0):
    """Positive random inputs; each episode's label is one class drawn per episode, the same at every step.

    The label is independent of the inputs, so a learner that ignores the fed-back
    labels stays at the chance loss log(C); only online learning gets below it.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(P, T, D, generator=g)
    y = torch.randint(0, C, (P, 1), generator=g).expand(P, T).contiguous()
    return x, y


def meta_train_by_bptt(episode, params, config, steps=60, lr=0.05, clip=1.0, C=3):
    """Adam on the mean online loss of fresh one-label episodes; returns the held-out loss per step before/after."""
    leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
    opt = torch.optim.Adam(leaves.values(), lr=lr)
    x_test, y_test = one_label_episodes(32, 15, C=C, seed=1)
    with torch.no_grad():
        before = episode(leaves, x_test, y_test, config)["loss"].mean(0)
    for s in range(steps):
        x, y = one_label_episodes(16, 15, C=C, seed=100 + s)
        loss = episode(leaves, x, y, config)["loss"].mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(leaves.values(), clip)  # as meta-training does (grad_clip)
        opt.step()
    with torch.no_grad():
        after = episode(leaves, x_test, y_test, config)["loss"].mean(0)
    return before, after, math.log(C)


def label_changes(episode, params, x, y, config, t, C):
    """Logits with ``y`` and with ``y_t`` replaced by another class: (first, second)."""
    y2 = y.clone()
    y2[:, t] = (y[:, t] + 1) % C
    return episode(params, x, y, config)["logits"], episode(params, x, y2, config)["logits"]

"""Tiny datasets and configs shared by the tests (a helper module, not a test module).

Imported by the meta-training, cloning, run I/O, run-loop and kernel tests, and by the
worker scripts those tests start in subprocesses (``tests/`` on ``sys.path``).
"""
import torch

from vsml import meta
from vsml.cloning import CloningConfig
from vsml.data import Dataset
from vsml.lstm import init_params


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


def assert_segments_equal_one_pass(model, theta, x, y, seeds, segment):
    """Running episodes ``x, y`` in ``segment``-long pieces with the state carried gives the losses of one pass."""
    whole, _ = model.run(theta, x, y, model.initial_state(seeds, "cpu"))
    state, parts = model.initial_state(seeds, "cpu"), []
    for start in range(0, x.shape[1], segment):
        loss, _, state = model.run(theta, x[:, start:start + segment], y[:, start:start + segment], state,
                                   return_state=True)
        parts.append(loss)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=0, atol=0)


def mean_mlp_problem(sizes, seed=1):
    """Random float64 layers ``[(w, b)]`` of a mean MLP with ``sizes``, and a batch ``x [7, sizes[0]]``, ``y``."""
    g = torch.Generator().manual_seed(seed)
    layers = [(torch.randn(a, b, generator=g, dtype=torch.float64),
               torch.randn(a, b, generator=g, dtype=torch.float64)) for a, b in zip(sizes[:-1], sizes[1:])]
    x = torch.randn(7, sizes[0], generator=g, dtype=torch.float64)
    y = torch.randint(sizes[-1], (7,), generator=g)
    return layers, x, y


def tick_inputs(members, cfg, P=2, A=7, B=10, seed=0, device="cpu"):
    """Inputs of one dense tick: ``V_M`` (shared, or per member around a shared one) and ``h, c, fwd, bwd``."""
    g = torch.Generator().manual_seed(seed)
    params = init_params(cfg, g)
    if members:
        params = {k: v.expand(members, *v.shape) + 0.1 * torch.randn(members, *v.shape, generator=g)
                  for k, v in params.items()}
    N = cfg.state_size
    h = torch.randn(P, A, B, N, generator=g).tanh()
    c = 2 * torch.randn(P, A, B, N, generator=g)
    fwd = torch.randn(P, A, cfg.fwd_size, generator=g)
    bwd = torch.randn(P, B, cfg.bwd_size, generator=g)
    to = lambda t: t.to(device)  # noqa: E731
    return {k: to(v) for k, v in params.items()}, [to(t) for t in (h, c, fwd, bwd)]


def torch_lstm_cell(weight, bias, input_size, input_offset=0.0, forget_offset=1.0, dtype=torch.float32):
    """An independent reference: torch's LSTMCell holding our LSTM weights.

    Ours are ``weight [input_size + H, 4H]`` (rows: inputs, then h) and ``bias [4H]`` with the gates in the
    order i, g, f, o and constant offsets on the input and forget gates; torch's order is i, f, g, o.
    """
    i, g, f, o = weight.chunk(4, -1)
    bi, bg, bf, bo = bias.chunk(4, -1)
    w = torch.cat([i, f, g, o], -1)
    cell = torch.nn.LSTMCell(input_size, bias.shape[-1] // 4).to(dtype)
    with torch.no_grad():
        cell.weight_ih.copy_(w[:input_size].T)
        cell.weight_hh.copy_(w[input_size:].T)
        cell.bias_ih.copy_(torch.cat([bi + input_offset, bf + forget_offset, bg, bo]))
        cell.bias_hh.zero_()
    return cell

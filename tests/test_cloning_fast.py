"""The fused cloned-layer kernel equals the PyTorch passes (vsml/cloning/kernel.py; paper Section 4.1, B.1, C.1).

By decision D3 the cloned rule is a memoryless function of ``(x, e, w, b)``
between steps, which the kernel exploits; these tests check it against the
PyTorch passes it replaced (``impl="fast"``, themselves tested against the
plain ``DenseTick`` in test_cloning.py) on random clones and on the shipped
shallow clone. Tolerance: float32 round-off, ``1e-5`` on ``z``, ``w``, ``b``
(``1e-4`` on the logits, which are ``G = 30`` times ``z``).
"""
import pytest
import torch

from tiny_tasks import tiny_dataset
from vsml import cloning
from vsml.cloning import CloningConfig, kernel
from vsml.cloning.network import fast_layer_backward, fast_layer_forward
from vsml.lstm import init_params

pytestmark = pytest.mark.skipif(kernel.library(16) is None, reason="no C++ compiler for the kernel")

TOL = dict(rtol=1e-5, atol=1e-5)


def _random_clone(seed=0, state_size=16):
    """An untrained V_M with gates large enough that every nonlinearity and the clip matter."""
    cfg = CloningConfig(state_size=state_size)
    params = init_params(cfg.sub_lstm, torch.Generator().manual_seed(seed))
    return {k: 3 * v for k, v in params.items()}, cfg


def _problem(sizes, batch, seed=1):
    g = torch.Generator().manual_seed(seed)
    layers = [(w, 0.5 * torch.randn(w.shape, generator=g)) for w, _ in cloning.init_layers(sizes, 3.0, g)]
    x = 2 * torch.randn(batch, sizes[0], generator=g)
    return layers, x, torch.randint(sizes[-1], (batch,), generator=g)


def _assert_same_step(a, b, logit_tol=1e-4):
    (new_a, logits_a), (new_b, logits_b) = a, b
    torch.testing.assert_close(logits_a, logits_b, rtol=logit_tol, atol=logit_tol)
    for (wa, ba), (wb, bb) in zip(new_a, new_b):
        torch.testing.assert_close(wa, wb, **TOL)
        torch.testing.assert_close(ba, bb, **TOL)


@pytest.mark.parametrize("sizes", [(6, 3), (6, 4, 3), (7, 5, 4, 3)])
@pytest.mark.parametrize("batch", [1, 3, 8])
@pytest.mark.parametrize("clip", [None, 4.0, 0.5])
def test_kernel_step_equals_the_pytorch_passes(sizes, batch, clip):
    params, cfg = _random_clone()
    layers, x, y = _problem(sizes, batch)
    fused = cloning.ClonedNetwork(params, cfg, sizes, state_clip=clip, impl="kernel")
    ref = cloning.ClonedNetwork(params, cfg, sizes, state_clip=clip, impl="fast", chunk=2)
    assert fused.impl == "kernel" and ref.impl == "fast"
    with torch.inference_mode():
        _assert_same_step(fused.step(layers, x, y), ref.step(layers, x, y))
        for zf, zr in zip(fused.forward(layers, x), ref.forward(layers, x)):
            torch.testing.assert_close(zf, zr, **TOL)


@pytest.mark.parametrize("need_error", [False, True])
@pytest.mark.parametrize("clip", [None, 0.5])
def test_kernel_layer_passes_equal_the_pytorch_layer_passes(need_error, clip):
    params, cfg = _random_clone(seed=3, state_size=32)
    (w, b), = _problem((9, 5), 4, seed=4)[0]
    g = torch.Generator().manual_seed(5)
    x, e = 2 * torch.randn(4, 9, generator=g), torch.randn(4, 5, generator=g)
    net = cloning.ClonedNetwork(params, cfg, (9, 5), impl="kernel")
    pp, kp = net.prepared, net.kernel_params
    torch.testing.assert_close(kernel.layer_forward(kp, cfg, x, w, b, clip),
                               fast_layer_forward(pp, cfg, x, w, b, clip), **TOL)
    got = kernel.layer_backward(kp, cfg, x, e, w, b, clip, need_error)
    want = fast_layer_backward(pp, cfg, x, e, w, b, clip, need_error)
    for a, r in zip(got, want):
        if r is None:
            assert a is None
        else:
            torch.testing.assert_close(a, r, **TOL)


def test_the_clip_reaches_the_kernel():
    """Clipping at 0.5 changes the kernel's step (so the clip cases above can fail)."""
    params, cfg = _random_clone()
    layers, x, y = _problem((6, 4, 3), 3)
    with torch.inference_mode():
        (new_a, _), (new_b, _) = (cloning.ClonedNetwork(params, cfg, (6, 4, 3), state_clip=c, impl="kernel")
                                  .step(layers, x, y) for c in (None, 0.5))
    assert max((wa - wb).abs().max() for (wa, _), (wb, _) in zip(new_a, new_b)) > 1e-3


def test_one_step_of_the_shipped_shallow_clone_equals_the_pytorch_passes():
    params, cfg, _ = cloning.load_cloned("cloned_shallow")
    layers = cloning.init_layers((784, 10), cloning.W_INIT, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(7)
    x, y = torch.randn(4, 784, generator=g), torch.randint(10, (4,), generator=g)
    fused = cloning.ClonedNetwork(params, cfg, (784, 10))
    assert fused.impl == "kernel"  # the default where it applies
    ref = cloning.ClonedNetwork(params, cfg, (784, 10), impl="fast")
    with torch.inference_mode():
        _assert_same_step(fused.step(layers, x, y), ref.step(layers, x, y))


def test_where_the_kernel_does_not_apply_auto_falls_back_and_kernel_refuses():
    for cfg in (CloningConfig(state_size=16, num_ticks=3), CloningConfig(state_size=8)):
        params = init_params(cfg.sub_lstm, torch.Generator().manual_seed(0))
        assert cloning.ClonedNetwork(params, cfg, (4, 3)).impl == "fast"
        with pytest.raises(RuntimeError, match="impl='kernel'"):
            cloning.ClonedNetwork(params, cfg, (4, 3), impl="kernel")
    params, cfg = _random_clone()
    assert cloning.ClonedNetwork(params, cfg, (4, 3), fast=False).impl == "plain"
    with pytest.raises(ValueError, match="impl must be"):
        cloning.ClonedNetwork(params, cfg, (4, 3), impl="turbo")


def test_metatest_curves_are_the_same_with_the_kernel():
    params, cfg = _random_clone()
    ds = tiny_dataset(num=60)
    runs = {impl: cloning.metatest(params, cfg, ds, ds, hidden=4, steps=3, seeds=range(2), batch_size=5,
                                   eval_every=3, test_size=20, impl=impl) for impl in ("auto", "fast")}
    for key in ("loss", "test_accuracy"):
        torch.testing.assert_close(runs["auto"]["vsml"][key], runs["fast"]["vsml"][key], rtol=1e-4, atol=1e-4)

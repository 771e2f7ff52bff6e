"""Eq. 1-6 and Theorem 1 (vsml/rnn.py)."""
import pytest
import torch

from vsml import rnn


@pytest.mark.parametrize("size,state_size,batch", [(1, 3, ()), (2, 4, ()), (3, 5, (2,)), (5, 2, (2, 3))])
def test_theorem1_equivalence(size, state_size, batch):
    assert rnn.check_theorem1(size, state_size, num_ticks=15, seed=size, batch=batch) < 1e-12


def test_theorem1_detects_a_wrong_matrix():
    # A W~ with one wrong entry must break the equivalence: the check can fail.
    gen = torch.Generator().manual_seed(0)
    W, C = torch.randn(3, 3, generator=gen, dtype=torch.float64), torch.randn(3, 3, generator=gen, dtype=torch.float64)
    W_tilde = rnn.sparse_shared_matrix(W, C, 3)
    W_tilde[0, 1, 0, 2, 2, 0] += 0.5  # c=0,d=1,a=2: structurally zero
    s = torch.randn(3, 3, 3, generator=gen, dtype=torch.float64)
    identity = lambda x: x  # noqa: E731  (no saturation: the error shows in full)
    diff = rnn.message_rnn_step(s, W, C, identity) - rnn.sparse_rnn_step(s, W_tilde, identity)
    assert diff.abs().max() == pytest.approx(0.5 * abs(s[0, 1, 0].item()))


def test_single_rnn_is_the_special_case():
    # A = B = 1: Eq. 4 with C folded into W recovers Eq. 1.
    gen = torch.Generator().manual_seed(1)
    W, C = torch.randn(4, 4, generator=gen), torch.randn(4, 4, generator=gen)
    s = torch.randn(1, 1, 4, generator=gen)
    torch.testing.assert_close(rnn.message_rnn_step(s, W, C)[0, 0], rnn.rnn_step(s[0, 0], W + C))


def test_variable_sharing_is_elementwise_over_grid():
    gen = torch.Generator().manual_seed(2)
    W = torch.randn(3, 3, generator=gen)
    s = torch.randn(2, 4, 5, 3, generator=gen)
    out = rnn.shared_rnn_step(s, W)
    torch.testing.assert_close(out[1, 2, 3], rnn.rnn_step(s[1, 2, 3], W))


def test_sparse_matrix_cases_of_eq6():
    W, C = torch.full((2, 2), 2.0), torch.full((2, 2), 3.0)
    Wt = rnn.sparse_shared_matrix(W, C, 3)
    assert Wt.shape == (3, 3, 2, 3, 3, 2)
    assert Wt[0, 1, 0, 1, 2, 0] == 3.0          # d == a, d != b: C
    assert Wt[1, 2, 0, 1, 2, 0] == 2.0          # d != a, d == b, c == a: W
    assert Wt[1, 1, 0, 1, 1, 0] == 5.0          # d == a == b == c: C + W
    assert Wt[0, 2, 0, 1, 0, 0] == 0.0          # otherwise: 0
    stats = rnn.sharing_stats(3, 2)
    assert stats["structural_zeros"] + stats["shared_nonzero"] == stats["entries"]
    # non-zero count: (d==a): A*A*B*... = per (c,d,a,b): A^3 [d=a] + A^2 [c=a,d=b] - A [all equal]
    assert stats["shared_nonzero"] == (3 ** 3 + 3 ** 2 - 3) * 4
    assert int((Wt != 0).sum()) == stats["shared_nonzero"]


@pytest.mark.parametrize("bad", [lambda: rnn.rnn_step(torch.zeros(3), torch.zeros(3, 4)),
                                 lambda: rnn.message_rnn_step(torch.zeros(2, 3, 4), torch.eye(4), torch.eye(4)),
                                 lambda: rnn.sparse_rnn_step(torch.zeros(2, 2, 3), torch.zeros(2, 2, 4, 2, 2, 4))])
def test_bad_shapes_raise(bad):
    with pytest.raises(ValueError):
        bad()

"""From one RNN to many: Eq. 1-6 and Theorem 1 of the paper (Section 3, Appendix A).

The minimal VSML of Section 3 uses a vanilla RNN with meta variables
V_M = (W, C):

* Eq. 1, a vanilla RNN tick: ``s_j <- sigma(sum_i s_i W_ij)``.
* Eq. 2, variable sharing: the same ``W`` updates an ``A x B`` grid of states.
* Eq. 3-4, message passing: sub-RNN ``(a, b)`` also receives
  ``m_a = sum_{a'} s_{a'a} C`` (requires ``A == B``).
* Eq. 5-6, one big RNN: the same update written with a single sparse, shared
  matrix ``W~[c, d, i, a, b, j] = (d == a) C[i, j] + (d == b)(c == a) W[i, j]``
  (Theorem 1, Eq. 14).

States carry optional leading batch dimensions: ``s`` is ``[..., N]`` for
Eq. 1 and ``[..., A, B, N]`` for Eq. 2-5.
"""
from __future__ import annotations

from typing import Callable

import torch

Activation = Callable[[torch.Tensor], torch.Tensor]


def _check_square(W: torch.Tensor, name: str = "W") -> int:
    if W.dim() != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"{name} must be a square [N, N] matrix, got shape {tuple(W.shape)}")
    return W.shape[0]


def _check_grid(s: torch.Tensor, N: int, square: bool) -> tuple[int, int]:
    if s.dim() < 3 or s.shape[-1] != N:
        raise ValueError(f"state must be [..., A, B, N={N}], got shape {tuple(s.shape)}")
    A, B = s.shape[-3], s.shape[-2]
    if square and A != B:
        raise ValueError(f"Eq. 4 sends messages from column a to row a and needs A == B, got A={A}, B={B}")
    return A, B


def rnn_step(s: torch.Tensor, W: torch.Tensor, act: Activation = torch.tanh) -> torch.Tensor:
    """Eq. 1: one tick of a vanilla RNN, ``s_j <- act(sum_i s_i W_ij)``; ``s`` is ``[..., N]``."""
    N = _check_square(W)
    if s.shape[-1] != N:
        raise ValueError(f"state must be [..., N={N}], got shape {tuple(s.shape)}")
    return act(s @ W)


def shared_rnn_step(s: torch.Tensor, W: torch.Tensor, act: Activation = torch.tanh) -> torch.Tensor:
    """Eq. 2: ``A * B`` independent RNNs sharing ``W``; ``s`` is ``[..., A, B, N]``."""
    _check_grid(s, _check_square(W), square=False)
    return act(s @ W)


def message_rnn_step(s: torch.Tensor, W: torch.Tensor, C: torch.Tensor,
                     act: Activation = torch.tanh) -> torch.Tensor:
    """Eq. 4: minimal VSML with ``V_M = (W, C)``.

    ``s_abj <- act(sum_i s_abi W_ij + sum_{a', i} s_{a'ai} C_ij)``: the message
    into row ``a`` is the sum over column ``a`` of ``f_m(s) = s C``.
    """
    N = _check_square(W)
    _check_square(C, "C")
    if C.shape != W.shape:
        raise ValueError(f"W and C must have the same shape, got {tuple(W.shape)} and {tuple(C.shape)}")
    _check_grid(s, N, square=True)
    # message[..., a, :] = sum_{a'} s[..., a', a, :] @ C  (sum first, then project: C is linear)
    message = s.sum(dim=-3) @ C  # [..., A(=B), N]
    return act(s @ W + message.unsqueeze(-2))


def sparse_shared_matrix(W: torch.Tensor, C: torch.Tensor, size: int) -> torch.Tensor:
    """Eq. 6 / Eq. 14: the 6-axis matrix ``W~[c, d, i, a, b, j]`` for an ``A = B = size`` grid.

    ``W~ = (d == a) C[i, j] + (d == b)(c == a) W[i, j]``. Flatten ``(c, d, i)``
    and ``(a, b, j)`` to get an ordinary ``[A*B*N, A*B*N]`` recurrent matrix.
    """
    _check_square(W)
    _check_square(C, "C")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    eye = torch.eye(size, dtype=W.dtype, device=W.device)
    ones = torch.ones(size, dtype=W.dtype, device=W.device)
    # (d == a) C[i, j], constant in c and b
    c_part = torch.einsum("c,da,b,ij->cdiabj", ones, eye, ones, C)
    # (d == b)(c == a) W[i, j]
    w_part = torch.einsum("ca,db,ij->cdiabj", eye, eye, W)
    return c_part + w_part


def sparse_rnn_step(s: torch.Tensor, W_tilde: torch.Tensor, act: Activation = torch.tanh) -> torch.Tensor:
    """Eq. 5: one tick of the single big RNN, ``s_abj <- act(sum_{c,d,i} s_cdi W~_cdiabj)``."""
    if W_tilde.dim() != 6:
        raise ValueError(f"W~ must have 6 axes [c, d, i, a, b, j], got shape {tuple(W_tilde.shape)}")
    A, B, N = W_tilde.shape[3:]
    if s.shape[-3:] != (A, B, N):
        raise ValueError(f"state must be [..., {A}, {B}, {N}] to match W~, got {tuple(s.shape)}")
    flat = s.reshape(*s.shape[:-3], A * B * N) @ W_tilde.reshape(A * B * N, A * B * N)
    return act(flat.reshape(s.shape))


def sharing_stats(size: int, state_size: int) -> dict[str, int]:
    """Count the entries of ``W~`` for an ``A = B = size`` grid: total, structurally zero, shared.

    Uses the structural pattern of Eq. 14 (independent of the values of ``W``
    and ``C``): a block ``(c, d, a, b)`` is non-zero where ``d == a``, or
    ``d == b`` and ``c == a``. All non-zero entries are copies of the
    ``|V_M| = 2 N^2`` numbers in ``W`` and ``C`` (Figure 1a).
    """
    eye = torch.eye(size, dtype=torch.bool)
    blocks = eye[None, :, :, None] | (eye[:, None, :, None] & eye[None, :, None, :])  # [c, d, a, b]
    nonzero = int(blocks.sum()) * state_size * state_size
    total = size ** 4 * state_size ** 2
    return {"entries": total, "structural_zeros": total - nonzero, "shared_nonzero": nonzero,
            "distinct_parameters": 2 * state_size * state_size}


def check_theorem1(size: int, state_size: int, num_ticks: int = 20, seed: int = 0,
                   batch: tuple[int, ...] = (), act: Activation = torch.tanh) -> float:
    """Run Eq. 4 and Eq. 5 side by side in float64; return the max abs state difference over all ticks."""
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(state_size, state_size, generator=gen, dtype=torch.float64) / state_size ** 0.5
    C = torch.randn(state_size, state_size, generator=gen, dtype=torch.float64) / (size * state_size) ** 0.5
    W_tilde = sparse_shared_matrix(W, C, size)
    s_msg = torch.randn(*batch, size, size, state_size, generator=gen, dtype=torch.float64)
    s_big = s_msg.clone()
    worst = 0.0
    for _ in range(num_ticks):
        s_msg = message_rnn_step(s_msg, W, C, act)
        s_big = sparse_rnn_step(s_big, W_tilde, act)
        worst = max(worst, (s_msg - s_big).abs().max().item())
    return worst

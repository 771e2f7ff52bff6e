"""A convolutional VSML layer: every kernel weight is a sub-LSTM whose state all positions share.

Paper: Appendix B.2 ("Convolutional Neural Networks": "replacing each weight in
the kernel with a multi-dimensional RNN state and replacing the kernel
multiplications with VSML sub-RNNs"; kernel 3, stride 2, 8 channels, then a
dense layer; Figures 20-21) and Section 3, Eq. 7 (the dense layer, where
sub-LSTM ``(a, b)`` reads ``fwd[a]`` and ``bwd[b]``). The sub-LSTM and its
parameters ``V_M`` are those of :mod:`vsml.lstm`.

Layout. The input has ``C_in`` channels of ``H x W`` positions, the output
``C_out`` channels of ``H_o x W_o`` positions (``H_o = (H + 2 pad - K_h) //
stride + 1``). Kernel weight ``(c_in, ky, kx, c_out)`` is one sub-LSTM; its
state ``(h, c)`` is stored as ``[P, C_in, K_h, K_w, C_out, N]``, the dense
layout ``[P, A, B, N]`` with ``A = (c_in, ky, kx)`` and ``B = c_out``.
Messages: ``fwd_in [P, C_in, H, W, N']``, ``bwd_in [P, C_out, H_o, W_o, N'']``;
out come ``fwd_out [P, C_out, H_o, W_o, N']`` and ``bwd_out [P, C_in, H, W, N'']``.

One micro-tick. An *instance* is a kernel weight at an output position ``o``
whose input position ``i = o * stride + k - pad`` lies inside the input (a
kernel weight over the zero padding is no instance: padding carries no
message and takes no part in any average). Every instance ticks the shared
state with ``fwd_in[c_in, i]`` and ``bwd_in[c_out, o]`` (Eq. 7 at that
position); the new shared state of a kernel weight is the mean of its
instances' states, as weight sharing by averaging the per-position updates
(the authors' code reduces the same way).

Messages after the last micro-tick come from the instances' states, averaged
as in the dense layer (Appendix C: averaging stabilises meta-training; a mean
also keeps a message's size independent of how many senders it has):

* forward, to output ``(c_out, o)``: the mean over the ``(c_in, k)`` instances
  of ``o``, i.e. over exactly the inputs that ``o`` sees (at the border with
  padding fewer than ``C_in K_h K_w``);
* backward, to input ``(c_in, i)``: the mean over every ``(c_out, o, k)``
  instance that touched ``i``. The number of touches varies with the position
  (with kernel 3 and stride 2, every other row is seen by two kernel rows, the
  rows between by one); a mean over the actual touches, not a sum or a division
  by a fixed ``K_h K_w``, keeps each message the average of real contributions. An input no instance touches (the last
  column of 28 for kernel 3, stride 2, no padding) receives a zero message.

With one output position (stride 1, kernel = input size, no padding) both
averages are those of the dense layer, so the layer *is* the dense layer on
the flattened input (tested). Backward messages are routed by ``F.fold``,
the exact transpose of the gather, so a message at output ``o`` reaches
exactly the inputs of ``o``'s window (tested for every position). The
authors' JAX layer, as we read it, keeps a gathered message where
``o * stride < width // stride``: an index in input units compared with a
count in output units, so with stride 2 only the first half of the outputs
along each axis send messages back and the lower and right halves of the
input receive none. ``conv_tick_loop`` in ``tests/test_conv.py`` is the
straightforward formulation this one equals (float64, to 1e-12).

Cost: one example ticks every instance, ``P L C_in K_h K_w C_out`` sub-LSTMs
per micro-tick (1x28x28 -> 8x14x14 with padding 1: 14,112 computed, 13,448
over real inputs; the dense 784x10 layer has 7,840). Without autograd
(meta-testing, ES) on the CPU a fused C++ kernel (:mod:`vsml.kernels.cpu_conv`)
runs all micro-ticks and the message sums, computing ``h W_h`` once per kernel
weight and tick; elsewhere (BPTT, CUDA) the ticks run as PyTorch ops,
optionally fused by ``torch.compile`` where autograd does not record (speeds:
``python -m vsml.bench --conv``).
"""
from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F

from .lstm import SubLSTMConfig, _gate_offsets, _layer_norm, _project, lstm_update, num_members


def _pair(v, name: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(p, int) for p in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return pair


class ConvGeometry:
    """Sizes, instance masks and touch counts of a convolution (everything that does not depend on values)."""

    def __init__(self, in_size, kernel_size, stride=1, padding=0):
        self.in_size, self.kernel = _pair(in_size, "in_size"), _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        if min(self.in_size) < 1 or min(self.kernel) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"need input and kernel sizes >= 1, stride >= 1, padding >= 0; got input "
                             f"{self.in_size}, kernel {self.kernel}, stride {self.stride}, padding {self.padding}")
        if any(p >= k for p, k in zip(self.padding, self.kernel)):
            raise ValueError(f"padding {self.padding} must be smaller than the kernel {self.kernel}")
        self.out_size = tuple((n + 2 * p - k) // s + 1
                              for n, p, k, s in zip(self.in_size, self.padding, self.kernel, self.stride))
        if min(self.out_size) < 1:
            raise ValueError(f"kernel {self.kernel} with padding {self.padding} does not fit the input "
                             f"{self.in_size}")
        # valid[d][o, k]: the kernel's k-th element at output o lands on a real input (per axis)
        self._valid = [((torch.arange(o)[:, None] * s + torch.arange(k)[None] - p) >= 0)
                       & ((torch.arange(o)[:, None] * s + torch.arange(k)[None] - p) < n)
                       for n, o, k, s, p in zip(self.in_size, self.out_size, self.kernel, self.stride, self.padding)]

    @property
    def num_out(self) -> int:
        return self.out_size[0] * self.out_size[1]

    def instance_mask(self, like: torch.Tensor) -> torch.Tensor:
        """``[L, K_h, K_w]``: 1 where the kernel element at output position ``l`` is an instance."""
        vy, vx = self._valid
        m = vy[:, None, :, None] & vx[None, :, None, :]  # [H_o, W_o, K_h, K_w]
        return m.reshape(self.num_out, *self.kernel).to(dtype=like.dtype, device=like.device)

    def unfold(self, x: torch.Tensor) -> torch.Tensor:
        """``[P, C, H, W, d]`` -> ``[P, L, C, K_h, K_w, d]``: what each output position sees."""
        P, C, H, W, d = x.shape
        cols = F.unfold(x.permute(0, 1, 4, 2, 3).reshape(P, C * d, H, W), self.kernel,
                        padding=self.padding, stride=self.stride)  # [P, C*d*K_h*K_w, L]
        return cols.reshape(P, C, d, *self.kernel, -1).permute(0, 5, 1, 3, 4, 2)

    def fold(self, cols: torch.Tensor) -> torch.Tensor:
        """``[P, L, C, K_h, K_w, d]`` -> ``[P, C, H, W, d]``: each entry added to the input it was taken from."""
        P, L, C, Kh, Kw, d = cols.shape
        flat = cols.permute(0, 2, 5, 3, 4, 1).reshape(P, C * d * Kh * Kw, L)
        out = F.fold(flat, self.in_size, self.kernel, padding=self.padding, stride=self.stride)
        return out.reshape(P, C, d, *self.in_size).permute(0, 1, 3, 4, 2)


def _conv_ticks(h, c, x_in, x_out, w_h, mask, num_ticks: int, state_clip: float | None, reduce: bool):
    """Micro-ticks: the shared state ticks at every instance, then becomes the mean over its instances.

    ``x_in + x_out`` (broadcast to ``[P, L, C_in, K_h, K_w, C_out, 4N]``): each instance's message part of the gates.
    Returns the new shared ``h, c`` and the last micro-tick's instance states ``h_pos`` or, with ``reduce``,
    their masked sums ``[P, L, C_out, N]`` (forward) and ``[P, L, C_in, K_h, K_w, N]`` (backward).
    """
    members = h.shape[0] if w_h.dim() == 3 else None
    m = mask[None, :, None, :, :, None, None]
    count = mask.sum(0)[None, None, :, :, None, None]  # instances per kernel element
    x_msg = x_in + x_out
    for _ in range(num_ticks):
        pre = x_msg + _project(h, w_h, None, members).unsqueeze(1)
        h_pos, c_pos = lstm_update(pre, c.unsqueeze(1), state_clip)
        h, c = (m * h_pos).sum(1) / count, (m * c_pos).sum(1) / count
    if not reduce:
        return h, c, h_pos
    # sums for the messages (module docstring): over each output's (c_in, k), over each instance's c_out
    return h, c, ((m * h_pos).sum((2, 3, 4)), (m * h_pos).sum(5))


_COMPILED: dict = {}


def _compiled_conv_ticks():
    """``torch.compile`` of :func:`_conv_ticks` (fuses the element-wise passes; eager where it fails)."""
    if "fn" not in _COMPILED:
        compiled = torch.compile(_conv_ticks, dynamic=False)

        def run(*args):
            if _COMPILED.get("failed"):
                return _conv_ticks(*args)
            try:
                return compiled(*args)
            except Exception as exc:  # noqa: BLE001 -- no compiler toolchain: stay eager
                _COMPILED["failed"] = True
                warnings.warn(f"torch.compile of the conv tick failed ({type(exc).__name__}: {exc}); eager ticks")
                return _conv_ticks(*args)
        _COMPILED["fn"] = run
    return _COMPILED["fn"]


class ConvTick:
    """``num_ticks`` micro-ticks of a convolutional VSML layer, then its outgoing messages (module docstring).

    ``backend="auto"`` (default) takes the fused CPU kernel where it applies (no autograd recording,
    float32 CPU tensors, a C++ compiler), else the PyTorch path; ``"torch"`` always the PyTorch path,
    ``"kernel"`` requires the kernel. ``compile=True`` runs the PyTorch path's micro-ticks through
    ``torch.compile`` where autograd does not record; the first call per shape compiles (about 20 s on the CPU).
    """

    def __init__(self, cfg: SubLSTMConfig, in_size, kernel_size, stride=1, padding=0, num_ticks: int = 2,
                 state_clip: float | None = None, compile: bool = False, *, backend: str = "auto"):
        if num_ticks < 1:
            raise ValueError(f"num_ticks must be >= 1, got {num_ticks}")
        if backend not in ("auto", "torch", "kernel"):
            raise ValueError(f"backend must be one of ('auto', 'torch', 'kernel'), got {backend!r}")
        self.cfg, self.num_ticks, self.state_clip, self.compile = cfg, num_ticks, state_clip, compile
        self.backend = backend
        self.geom = ConvGeometry(in_size, kernel_size, stride, padding)

    def state_shape(self, batch_size: int, in_channels: int, out_channels: int) -> tuple[int, ...]:
        return (batch_size, in_channels, *self.geom.kernel, out_channels, self.cfg.state_size)

    def check_shapes(self, h, c, fwd_in, bwd_in) -> None:
        """One-line ``ValueError`` naming the expected shape of the first tensor that does not fit."""
        cfg, g = self.cfg, self.geom
        if h.dim() != 6:
            raise ValueError(f"h must be [P, C_in, K_h, K_w, C_out, N] (6 dims), got {tuple(h.shape)}")
        P, C_in, Kh, Kw, C_out, N = h.shape
        want = {"h": (P, C_in, *g.kernel, C_out, cfg.state_size), "c": (P, C_in, *g.kernel, C_out, cfg.state_size),
                "fwd_in": (P, C_in, *g.in_size, cfg.fwd_size), "bwd_in": (P, C_out, *g.out_size, cfg.bwd_size)}
        for name, t in zip(want, (h, c, fwd_in, bwd_in)):
            if tuple(t.shape) != want[name]:
                raise ValueError(f"{name} must be {want[name]} for a {g.in_size} input, kernel {g.kernel}, "
                                 f"stride {g.stride}, padding {g.padding}; got {tuple(t.shape)}")

    def __call__(self, params, h, c, fwd_in, bwd_in):
        """Returns ``(h, c, fwd_out, bwd_out)``; shapes in the module docstring."""
        self.check_shapes(h, c, fwd_in, bwd_in)
        cfg, g, members = self.cfg, self.geom, num_members(params)
        Fw, Bw = cfg.fwd_size, cfg.bwd_size
        P, C_in, Kh, Kw, C_out, N = h.shape
        if members is not None and members != P:
            raise ValueError(f"per-member parameters for {members} members but the batch has {P}")
        w = params["lstm_w"]
        bias = params["lstm_b"] + _gate_offsets(cfg, params["lstm_b"])
        w_fwd, w_bwd, w_h = w[..., :Fw, :], w[..., Fw:Fw + Bw, :], w[..., Fw + Bw:, :]
        # Message parts of the gates: projected once per input / output position.
        x_in = _project(fwd_in, w_fwd, None, members)                      # [P, C_in, H, W, 4N]
        x_out = _project(bwd_in, w_bwd, bias, members)                     # [P, C_out, H_o, W_o, 4N]
        mask = g.instance_mask(h)                                          # [L, K_h, K_w]
        recording = torch.is_grad_enabled() and any(
            t.requires_grad for t in (h, c, fwd_in, bwd_in, *params.values()))
        fused = None
        if self.backend != "torch" and not recording:
            from .kernels import cpu_conv
            if cpu_conv.supports(cfg, mask, h, c, x_in, x_out, *params.values()):
                fused = cpu_conv.conv_ticks(params, cfg, g, mask, h, c, x_in, x_out, self.num_ticks,
                                            self.state_clip)
        if fused is not None:
            h, c, fwd_sum, bwd_cols = fused
        elif self.backend == "kernel":
            raise RuntimeError("backend='kernel': the conv kernel does not apply here (autograd records, or not "
                               f"float32 on the CPU with a C++ compiler; device {h.device})")
        else:  # gathered per instance, both broadcast to [P, L, C_in, K_h, K_w, C_out, 4N]
            x_in = g.unfold(x_in).unsqueeze(5)                             # [P, L, C_in, K_h, K_w, 1, 4N]
            x_out = x_out.flatten(2, 3).transpose(1, 2)[:, :, None, None, None]  # [P, L, 1, 1, 1, C_out, 4N]
            if members is not None:
                w_h = w_h.contiguous()
            ticks = _compiled_conv_ticks() if self.compile and not recording else _conv_ticks
            # Without LayerNorm the messages are affine in h: sum the instance states, project the means.
            reduce = not self.cfg.layer_norm
            h, c, out = ticks(h, c, x_in, x_out, w_h, mask, self.num_ticks, self.state_clip, reduce)
            if reduce:
                fwd_sum, bwd_cols = out
            else:  # LayerNorm acts on each instance's message: project and normalise, then sum
                m = mask[None, :, None, :, :, None, None]
                fwd_sum, bwd_cols = (m * self._instance_messages(params, out, "fwd")).sum((2, 3, 4)), \
                    (m * self._instance_messages(params, out, "bwd")).sum(5)
        # Forward: mean over the (c_in, k) instances of each output position.
        seen = (C_in * mask.sum((1, 2)))[None, :, None, None]                        # [1, L, 1, 1]
        fwd = self._finish(params, "fwd", fwd_sum / seen)                            # [P, L, C_out, N']
        fwd = fwd.transpose(1, 2).reshape(P, C_out, *g.out_size, Fw)
        # Backward: sum over c_out, scattered back to the touched inputs, divided by the touches.
        touches = C_out * g.fold(mask[None, :, None, :, :, None])                    # [1, 1, H, W, 1]
        bwd = self._finish(params, "bwd", g.fold(bwd_cols) / touches.clamp(min=1))  # [P, C_in, H, W, N'']
        return h, c, fwd, bwd * (touches > 0)                                        # untouched inputs: 0

    def _instance_messages(self, params, h_pos, kind):
        members = num_members(params)
        msg = _project(h_pos, params[f"{kind}_w"], params[f"{kind}_b"], members)
        return _layer_norm(msg, params[f"{kind}_ln_scale"], params[f"{kind}_ln_bias"], members)

    def _finish(self, params, kind, mean):
        """Project a mean state (without LayerNorm); with LayerNorm the mean is already a message."""
        if self.cfg.layer_norm:
            return mean
        return _project(mean, params[f"{kind}_w"], params[f"{kind}_b"], num_members(params))


def init_conv_state(tick: ConvTick, batch_size: int, in_channels: int, out_channels: int,
                    rand_proportion: float = 0.5, generator: torch.Generator | None = None,
                    device=None, dtype: torch.dtype = torch.float32):
    """Fresh ``(h, c)``: ``h = 0``; the first part of ``c`` truncated normal with std ``1 / sqrt(fan_in)``,
    ``fan_in = C_in K_h K_w`` (the inputs an output position averages, as ``A`` for a dense layer)."""
    shape = tick.state_shape(batch_size, in_channels, out_channels)
    N = shape[-1]
    n_rand = int(round(N * rand_proportion))
    c = torch.zeros(shape, dtype=dtype)
    if n_rand:
        std = 1.0 / math.sqrt(in_channels * tick.geom.kernel[0] * tick.geom.kernel[1])
        torch.nn.init.trunc_normal_(c[..., :n_rand], std=std, a=-2 * std, b=2 * std, generator=generator)
    return torch.zeros(shape, dtype=dtype, device=device), c.to(device)


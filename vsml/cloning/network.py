"""The VSML network that a cloned V_M drives, and its fast layer passes (decisions D3, D10).

Paper: Section 4.1 (Figure 5: meta-testing a cloned learning algorithm) and
Appendix C.1 ("Batching", "Stability during meta testing"). A
:class:`ClonedNetwork` of dense sub-LSTM layers learns without autograd: the
forward pass runs layers ``1..K`` with zero error input, the backward pass
``K..1`` with the inputs fed back, and only the two retained cell dimensions
(``w``, ``b``) survive a step, averaged over the batch.
"""
from __future__ import annotations

import torch

from ..dense_tick import DenseTick
from ..lstm import SubLSTMConfig, lstm_update
from . import kernel
from .config import B_DIM, E_SLOT, EPREV_SLOT, W_DIM, X_SLOT, Y_SLOT, CloningConfig
from .rule import Layers, gate_offsets, initial_state, top_error

class ClonedNetwork:
    """A VSML network of dense sub-LSTM layers that learns with a cloned V_M, without autograd.

    ``layers`` hold only the retained ``(w, b)`` of every sub-LSTM (D3); a
    step builds the full states from them, runs layers forward ``1..K``
    (error input zero, states discarded) and backward ``K..1`` (inputs fed
    back, only ``c[0], c[1]`` kept, then averaged over the batch: C.1).
    ``chunk`` splits the batch to bound memory (``[chunk, A, B, 4N]`` floats).

    ``impl`` picks the passes, all equal within float32 round-off:
    ``"kernel"`` the fused C++ passes of :mod:`vsml.cloning.kernel` (whole
    batch per call, no ``[P, A, B, N]`` tensors); ``"fast"`` the PyTorch
    passes below that use the D3 structure (the default before the kernel,
    kept as its reference; ``compile`` fuses their big ticks); ``"plain"``
    the general ``DenseTick``. ``"auto"`` (default) is ``"kernel"`` where it
    applies (two micro-ticks, N a multiple of 16, float32 CPU, a compiler),
    else ``"fast"``. ``fast=False`` is the old spelling of ``impl="plain"``.
    """

    IMPLS = ("auto", "kernel", "fast", "plain")

    def __init__(self, params, cfg: CloningConfig, sizes, state_clip: float | None = 4.0,
                 chunk: int = 8, fast: bool = True, compile: bool = False, impl: str | None = None):
        self.params, self.cfg, self.sizes = params, cfg, tuple(int(s) for s in sizes)
        impl = impl or ("auto" if fast else "plain")
        if impl not in self.IMPLS:
            raise ValueError(f"impl must be one of {self.IMPLS}, got {impl!r}")
        if impl in ("auto", "kernel"):
            usable = kernel.available(cfg, params)
            if impl == "kernel" and not usable:
                raise RuntimeError("impl='kernel': the fused cloned-layer kernel does not apply here "
                                   "(needs num_ticks=2, N a multiple of 16 <= 64, float32 CPU, a C++ compiler)")
            impl = "kernel" if usable else "fast"
        self.impl, self.fast = impl, impl != "plain"
        self.state_clip, self.chunk, self.compile = state_clip, chunk, compile
        self.tick = DenseTick(cfg.sub_lstm, cfg.num_ticks, state_clip)
        self.prepared = _prepare(params, cfg.sub_lstm)
        self.kernel_params = kernel.prepare(self.prepared) if impl == "kernel" else None

    def _messages(self, values: torch.Tensor, size: int) -> torch.Tensor:
        msg = values.new_zeros(*values.shape, size)
        msg[..., 0] = values
        return msg

    def _run(self, w, b, x, e):
        """One layer's sub-LSTMs on inputs ``x [P, A]``, errors ``e [P, B]``: ``(h, c, fwd_out, bwd_out)``."""
        sub = self.cfg.sub_lstm
        P, (A, B) = x.shape[0], w.shape
        h, c = initial_state(w, b, self.cfg)
        h, c = h.expand(P, A, B, sub.state_size).contiguous(), c.expand(P, A, B, sub.state_size).contiguous()
        return self.tick(self.params, h, c, self._messages(x, sub.fwd_size), self._messages(e, sub.bwd_size))

    def forward(self, layers: Layers, x: torch.Tensor) -> list[torch.Tensor]:
        """``[z^0 = x, z^1, ..., z^K]`` computed by the sub-LSTMs (error input zero, states frozen)."""
        zs = [x]
        for w, b in layers:
            if self.impl == "kernel":
                zs.append(kernel.layer_forward(self.kernel_params, self.cfg, zs[-1], w, b, self.state_clip))
                continue
            outs = []
            for xc in zs[-1].split(self.chunk):
                if self.fast:
                    outs.append(fast_layer_forward(self.prepared, self.cfg, xc, w, b, self.state_clip, self.compile))
                    continue
                zero = xc.new_zeros(xc.shape[0], w.shape[1])
                outs.append(self._run(w, b, xc, zero)[2][..., Y_SLOT])
            zs.append(torch.cat(outs))
        return zs

    def predict(self, layers: Layers, x: torch.Tensor) -> torch.Tensor:
        return self.cfg.logit_gain * self.forward(layers, x)[-1]

    def backward(self, layers: Layers, zs: list[torch.Tensor], e_top: torch.Tensor) -> Layers:
        """Layers ``K..1``: feed ``z^{k-1}`` back with the error; keep ``w, b`` averaged over the batch."""
        scale, new, e = self.cfg.state_scale, list(layers), e_top
        for k in reversed(range(len(layers))):
            w, b = layers[k]
            if self.impl == "kernel":
                w_sum, b_sum, e = kernel.layer_backward(self.kernel_params, self.cfg, zs[k], e, w, b,
                                                        self.state_clip, k > 0)
                new[k] = (w_sum / zs[k].shape[0], b_sum / zs[k].shape[0])
                continue
            w_sum, b_sum, e_prev = torch.zeros_like(w), torch.zeros_like(b), []
            for xc, ec in zip(zs[k].split(self.chunk), e.split(self.chunk)):
                if self.fast:
                    dw_sum, db_sum, e_chunk = fast_layer_backward(self.prepared, self.cfg, xc, ec, w, b,
                                                                  self.state_clip, k > 0, self.compile)
                    w_sum += dw_sum
                    b_sum += db_sum
                    if k > 0:
                        e_prev.append(e_chunk)
                    continue
                _, c, _, bwd_out = self._run(w, b, xc, ec)
                w_sum += c[..., W_DIM].sum(0) * scale
                b_sum += c[..., B_DIM].sum(0) * scale
                if k > 0:
                    e_prev.append(bwd_out[..., EPREV_SLOT])
            new[k] = (w_sum / e.shape[0], b_sum / e.shape[0])
            if k > 0:
                e = torch.cat(e_prev)
        return new

    def step(self, layers: Layers, x: torch.Tensor, y: torch.Tensor):
        """One learning step on a batch: ``(new_layers, logits)``; logits are made before the update."""
        zs = self.forward(layers, x)
        logits = self.cfg.logit_gain * zs[-1]
        return self.backward(layers, zs, top_error(zs[-1], y, self.cfg.logit_gain)), logits


# --------------------------------------------------------------------------- fast layer passes (D3 structure)
#
# Between steps every sub-LSTM holds h = 0 and c = (w/4, b/4, 0, ...) (D3), and
# only slot 0 of each message is non-zero (D2). So in the forward pass the
# first tick's gates depend on the input a alone, only two cell dims depend
# on (a, b), and the second tick's gate input is a per-a term plus a rank-2
# term in (a, b): no [P*A*B, N] x [N, 4N] matrix product is needed. In the
# backward pass the last tick of the first layer only has to produce the two
# kept cell dims (6 of the 4N gate columns). ``ClonedNetwork(impl="plain")``
# runs the plain ``DenseTick`` instead; the tests check both agree. The
# fused C++ passes (``impl="kernel"``, :mod:`vsml.cloning.kernel`) do the same
# algebra per sub-LSTM in registers, for the whole batch in one call.

def _prepare(params, sub: SubLSTMConfig) -> dict:
    W = params["lstm_w"]
    N = sub.state_size
    bias = params["lstm_b"] + gate_offsets(sub, params["lstm_b"])
    kept = torch.tensor([W_DIM, B_DIM])
    cols = torch.cat([kept, kept + N, kept + 2 * N])   # i, g, f of the kept dims
    return {"r_x": W[X_SLOT], "r_e": W[sub.fwd_size + E_SLOT], "w_h": W[sub.input_size:].contiguous(),
            "bias": bias, "cols": cols, "v_fwd": params["fwd_w"][:, Y_SLOT], "v0_fwd": params["fwd_b"][Y_SLOT],
            "v_bwd": params["bwd_w"][:, EPREV_SLOT], "v0_bwd": params["bwd_b"][EPREV_SLOT]}


def _clip(c, clip):
    return c if clip is None else c.clamp(-clip, clip)


def _forward_tick2(u, h_wb, w_h0, w_h1, c_wb, c_rest, clip: float | None):
    """Second forward tick: gates = per-a term + rank-2 (a, b) term; returns ``(h, c)`` ``[P, A, B, N]``."""
    pre = u + h_wb[..., 0:1] * w_h0 + h_wb[..., 1:2] * w_h1
    i, g, f, o = pre.chunk(4, dim=-1)
    P, A, B, _ = pre.shape
    c = torch.cat([c_wb, c_rest.expand(P, A, B, c_rest.shape[-1])], dim=-1)
    c = _clip(torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g), clip)
    return torch.sigmoid(o) * torch.tanh(c), c


def _backward_tick1(drive_a, e, r_e, c0_wb, clip: float | None):
    """First backward tick from h = 0: gates = per-a term + e_b r_e; returns ``(h, c)``."""
    pre = drive_a + e[:, None, :, None] * r_e
    i, g, f, o = pre.chunk(4, dim=-1)
    write = torch.sigmoid(i) * torch.tanh(g)
    kept = torch.sigmoid(f[..., :2]) * c0_wb + write[..., :2]
    c = _clip(torch.cat([kept, write[..., 2:]], dim=-1), clip)
    return torch.sigmoid(o) * torch.tanh(c), c


_FAST = {}


def _fast_fns(compile: bool):
    """The two big element-wise ticks, fused by ``torch.compile`` when asked for and available."""
    if not compile:
        return _forward_tick2, _backward_tick1
    if "fns" not in _FAST:
        try:
            _FAST["fns"] = (torch.compile(_forward_tick2, dynamic=False), torch.compile(_backward_tick1, dynamic=False))
        except Exception:  # no compiler toolchain: eager
            _FAST["fns"] = (_forward_tick2, _backward_tick1)
    return _FAST["fns"]


def fast_layer_forward(pp: dict, cfg: CloningConfig, x, w, b, clip=None, compile: bool = False):
    """Forward pass of a whole layer (e = 0, states discarded): ``z [P, B] = mean_a y_ab``."""
    tick2, _ = _fast_fns(compile)
    drive = x[:, :, None, None] * pp["r_x"] + pp["bias"]                  # [P, A, 1, 4N]
    i, g, f, o = drive.chunk(4, dim=-1)
    write = torch.sigmoid(i) * torch.tanh(g)
    c0_wb = torch.stack([w, b], dim=-1) / cfg.state_scale                 # [A, B, 2]
    c_wb = _clip(torch.sigmoid(f[..., :2]) * c0_wb + write[..., :2], clip)  # [P, A, B, 2]
    c_rest = _clip(write[..., 2:], clip)                                  # [P, A, 1, N-2]
    so = torch.sigmoid(o)
    h_wb, h_rest = so[..., :2] * torch.tanh(c_wb), so[..., 2:] * torch.tanh(c_rest)
    if cfg.num_ticks == 1:
        P, A, B = c_wb.shape[:3]
        h = torch.cat([h_wb, h_rest.expand(P, A, B, h_rest.shape[-1])], dim=-1)
    else:
        u = drive + h_rest @ pp["w_h"][2:]
        h, c = tick2(u, h_wb, pp["w_h"][0], pp["w_h"][1], c_wb, c_rest, clip)
        for _ in range(cfg.num_ticks - 2):
            h, c = lstm_update(drive + h @ pp["w_h"], c, clip)
    return h.mean(dim=1) @ pp["v_fwd"] + pp["v0_fwd"]


def fast_layer_backward(pp: dict, cfg: CloningConfig, x, e, w, b, clip=None, need_error: bool = True,
                        compile: bool = False):
    """Backward pass of a whole layer: ``(sum over P of new w, of new b, e_prev [P, A] or None)``."""
    _, tick1 = _fast_fns(compile)
    drive_a = x[:, :, None, None] * pp["r_x"] + pp["bias"]                # [P, A, 1, 4N]
    c0_wb = torch.stack([w, b], dim=-1) / cfg.state_scale
    h, c = tick1(drive_a, e, pp["r_e"], c0_wb, clip)
    T = cfg.num_ticks
    for t in range(1, T):
        if t == T - 1 and not need_error:   # only the kept dims: gates i, g, f of dims 0 and 1
            pre = (drive_a[..., pp["cols"]] + e[:, None, :, None] * pp["r_e"][pp["cols"]]
                   + h @ pp["w_h"][:, pp["cols"]])
            i, g, f = pre.chunk(3, dim=-1)
            kept = _clip(torch.sigmoid(f) * c[..., :2] + torch.sigmoid(i) * torch.tanh(g), clip)
            break
        pre = drive_a + e[:, None, :, None] * pp["r_e"] + h @ pp["w_h"]
        h, c = lstm_update(pre, c, clip)
    else:
        kept = c[..., :2]
    kept = kept.sum(0) * cfg.state_scale
    e_prev = h.mean(dim=2) @ pp["v_bwd"] + pp["v0_bwd"] if need_error else None
    return kept[..., 0], kept[..., 1], e_prev

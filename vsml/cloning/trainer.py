"""The cloning regression: training tuples, the loss, the state buffer and the trainer (decisions D8, D9).

Paper: Section 3.2 ("learning algorithm cloning": regress the sub-LSTM onto
the rule), Appendix B.1 (the shallow-then-deep curriculum, Figure 10) and
C.1 ("General training remarks": a buffer of the sub-LSTM's own states).
Every stage is a regression on single sub-LSTMs (D3), so no backpropagation
through whole networks is needed.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..lstm import init_params
from ..runloop import NonFiniteError
from .config import EPREV_SLOT, TARGETS, CloningConfig
from .network import ClonedNetwork
from .rule import Layers, clone_backward, clone_forward, cloning_errors, init_layers, local_targets, shadow_step

# --------------------------------------------------------------------------- training data (D8, D9)

def random_tuples(n: int, cfg: CloningConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Random ``(x, e, w, b)``: uniform ``x``, ``w``, ``b``; ``e`` half uniform in [-1, 1], half log-uniform small.

    ``w ~ U(-w_range, w_range)``, ``b ~ U(-b_range, b_range)`` (``cfg.bias_range``).
    """
    u = lambda r: (torch.rand(n, generator=generator) * 2 - 1) * r  # noqa: E731
    e = u(1.0)
    small = torch.rand(n, generator=generator) < 0.5
    e = torch.where(small, e * 10 ** (-2 * torch.rand(n, generator=generator)), e)
    return {"x": u(cfg.x_range), "e": e, "w": u(cfg.w_range), "b": u(cfg.bias_range)}


def tuples_from_network(zs, errors, layers: Layers, n: int, generator: torch.Generator, layer_ids=None):
    """``n`` tuples ``(x, e, w, b)`` read off a network's activations, errors and weights (uniform over layers)."""
    layer_ids = list(range(len(layers))) if layer_ids is None else list(layer_ids)
    parts = {k: [] for k in ("x", "e", "w", "b")}
    counts = torch.bincount(torch.randint(len(layer_ids), (n,), generator=generator), minlength=len(layer_ids))
    for k, m in zip(layer_ids, counts.tolist()):
        if m == 0:
            continue
        w, b = layers[k]
        P, (A, B) = zs[k].shape[0], w.shape
        p, a, j = (torch.randint(s, (m,), generator=generator) for s in (P, A, B))
        for name, value in (("x", zs[k][p, a]), ("e", errors[k][p, j]), ("w", w[a, j]), ("b", b[a, j])):
            parts[name].append(value)
    return {k: torch.cat(v) for k, v in parts.items()}


def target_scales(cfg: CloningConfig) -> dict[str, float]:
    """Standard deviation of every target under the random distribution (fixed loss normalisers, D8)."""
    t = random_tuples(200_000, cfg, torch.Generator().manual_seed(12345))
    targets = local_targets(t["x"], t["e"], t["w"], t["b"], cfg.lr, cfg.bias_scale)
    return {k: float(v.std()) for k, v in targets.items()}


class ShadowStream:
    """Shadow networks trained by exact SGD on a dataset, re-initialised every ``shadow_reset`` steps (D8).

    They start at ``U(-w_init, w_init)`` and learn with the config's ``logit_gain``,
    ``lr`` and ``bias_scale``: the rule that ``local_targets`` asks the sub-LSTM for.
    """

    def __init__(self, sizes, cfg: CloningConfig, dataset, seed: int):
        self.sizes, self.cfg, self.seed = tuple(sizes), cfg, seed
        self.x = dataset.x.flatten(1)
        self.y = dataset.y
        self.count = 0
        self.generator = torch.Generator().manual_seed(seed)
        self.layers = None

    def next(self):
        """One SGD step on a fresh batch: ``(zs, errors, layers_before_the_step)``."""
        if self.count % self.cfg.shadow_reset == 0:
            self.layers = init_layers(self.sizes, self.cfg.w_init, self.generator)
        self.count += 1
        idx = torch.randint(len(self.y), (self.cfg.shadow_batch,), generator=self.generator)
        before = self.layers
        new, zs, errors = shadow_step(before, self.x[idx], self.y[idx], self.cfg.logit_gain, self.cfg.lr,
                                      self.cfg.bias_scale)
        self.layers = [(w.clamp(-4 * self.cfg.state_scale, 4 * self.cfg.state_scale),
                        b.clamp(-4 * self.cfg.state_scale, 4 * self.cfg.state_scale)) for w, b in new]
        return zs, errors, before

    def state_dict(self):
        return {"count": self.count, "generator": self.generator.get_state(), "layers": self.layers}

    def load_state_dict(self, state):
        self.count, self.layers = state["count"], state["layers"]
        self.generator.set_state(state["generator"])


# --------------------------------------------------------------------------- the regression (Section 3.2)

def cloning_loss(params, cfg: CloningConfig, fwd: dict, bwd: dict, scales: dict):
    """Normalised MSE of the forward output (on ``fwd`` tuples, ``e`` ignored) and the backward outputs.

    Returns ``(loss, per_target_mse, learned_backward)``.
    """
    y = clone_forward(params, cfg, fwd["x"], fwd["w"], fwd["b"])
    y_target = torch.tanh(fwd["x"]) * fwd["w"] + fwd["b"]
    got = clone_backward(params, cfg, bwd["x"], bwd["e"], bwd["w"], bwd["b"])
    want = local_targets(bwd["x"], bwd["e"], bwd["w"], bwd["b"], cfg.lr, cfg.bias_scale)
    mse = {"y": F.mse_loss(y, y_target)}
    for k in ("dw", "db", "e_prev"):
        mse[k] = F.mse_loss(got[k], want[k])
    loss = sum(mse[k] / scales[k] ** 2 for k in TARGETS) / len(TARGETS)
    return loss, mse, got


class StateBuffer:
    """Retained ``(w, b)`` states that the sub-LSTM produced itself (C.1: diversity of VSML states)."""

    def __init__(self, size: int, cfg: CloningConfig, generator: torch.Generator):
        t = random_tuples(size, cfg, generator)
        self.w, self.b, self.pos = t["w"], t["b"], 0
        self.limit = 4 * cfg.state_scale  # the meta-test clip of c, in units of w

    def sample(self, n: int, generator: torch.Generator):
        idx = torch.randint(len(self.w), (n,), generator=generator)
        return self.w[idx], self.b[idx]

    def append(self, w: torch.Tensor, b: torch.Tensor) -> None:
        self.w[self.pos] = float(w.clamp(-self.limit, self.limit))
        self.b[self.pos] = float(b.clamp(-self.limit, self.limit))
        self.pos = (self.pos + 1) % len(self.w)

    def state_dict(self):
        return {"w": self.w, "b": self.b, "pos": self.pos}

    def load_state_dict(self, state):
        self.w, self.b, self.pos = state["w"], state["b"], int(state["pos"])


class CloningTrainer:
    """Regress the shared sub-LSTM onto the rule (``local_targets``), with the data mix of D8/D9."""

    def __init__(self, cfg: CloningConfig, dataset=None, params=None):
        self.cfg = cfg
        if dataset is None:
            from ..data import load
            dataset = load(cfg.dataset, "train").standardized()
        self.dataset = dataset
        self.generator = torch.Generator().manual_seed(cfg.seed)
        if params is None:
            params = init_params(cfg.sub_lstm, torch.Generator().manual_seed(cfg.seed))
        self.params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self.opt = torch.optim.Adam(self.params.values(), lr=cfg.adam_lr)
        self.scales = target_scales(cfg)
        self.buffer = StateBuffer(cfg.buffer_size, cfg, self.generator)
        self.streams = {"shallow": ShadowStream((dataset.num_features, 10), cfg, dataset, cfg.seed + 1)}
        if cfg.stage == "deep":
            self.streams["deep"] = ShadowStream((dataset.num_features, 32, 10), cfg, dataset, cfg.seed + 2)
        self.step = 0
        self.eval_set = self._eval_set()

    def _eval_set(self):
        """Fixed held-out tuples: random ones and ones from a separate MNIST shadow network."""
        g = torch.Generator().manual_seed(self.cfg.seed + 999)
        rand = random_tuples(self.cfg.eval_size, self.cfg, g)
        stream = ShadowStream((self.dataset.num_features, 10), self.cfg, self.dataset, self.cfg.seed + 998)
        parts = []
        for _ in range(8):
            zs, errors, layers = stream.next()
            parts.append(tuples_from_network(zs, errors, layers, self.cfg.eval_size // 8, g))
        shadow = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
        return {"random": rand, "shadow": shadow}

    def _batch(self):
        cfg, g = self.cfg, self.generator
        n_rand = int(round(cfg.batch_size * cfg.random_fraction))
        rand = random_tuples(n_rand, cfg, g)
        n_buf = int(round(n_rand * cfg.buffer_fraction))
        rand["w"][:n_buf], rand["b"][:n_buf] = self.buffer.sample(n_buf, g)
        parts = [rand]
        n_shadow = cfg.batch_size - n_rand
        names = list(self.streams)
        for i, name in enumerate(names):
            m = n_shadow // len(names) + (i < n_shadow % len(names))
            zs, errors, layers = self.streams[name].next()
            if name == "deep" and cfg.deep_own_fraction > 0:
                m_own = int(round(m * cfg.deep_own_fraction))
                parts.append(self._own_deep_tuples(layers, zs, errors, m_own))
                m -= m_own
            parts.append(tuples_from_network(zs, errors, layers, m, g))
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}, n_buf

    def _own_deep_tuples(self, layers, zs, errors, m):
        """Deep stage (B.1): hidden inputs and errors computed by the VSML network itself, exact targets."""
        if m == 0:
            return {k: torch.zeros(0) for k in ("x", "e", "w", "b")}
        few = 2  # examples: 784 x 32 sub-LSTMs each
        params = {k: v.detach() for k, v in self.params.items()}
        net = ClonedNetwork(params, self.cfg, [w.shape[0] for w, _ in layers] + [layers[-1][0].shape[1]],
                            state_clip=4.0)
        with torch.no_grad():
            own_zs = net.forward(layers, zs[0][:few])
            top = errors[-1][:few]  # the shadow network's top error (B.1: ground truth at the output)
            # The hidden layer's error is the VSML's own backward message from the top layer.
            _, _, _, bwd_out = net._run(*layers[-1], own_zs[-2], top)
            own_errors = [bwd_out[..., EPREV_SLOT], top]
        return tuples_from_network(own_zs, own_errors, layers, m, self.generator, layer_ids=range(len(layers)))

    def train_step(self) -> dict:
        cfg = self.cfg
        frac = min(self.step / max(cfg.steps, 1), 1.0)
        lr = cfg.final_adam_lr + 0.5 * (cfg.adam_lr - cfg.final_adam_lr) * (1 + math.cos(math.pi * frac))
        for group in self.opt.param_groups:
            group["lr"] = lr
        batch, n_buf = self._batch()
        # The same tuples serve the forward regression (e ignored) and the backward one.
        loss, mse, got = cloning_loss(self.params, cfg, batch, batch, self.scales)
        if not torch.isfinite(loss):
            raise NonFiniteError(f"the cloning loss is {float(loss.detach())}")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params.values(), cfg.grad_clip)
        self.opt.step()
        # C.1: append one of the new states (one that came from the buffer) to the buffer.
        j = int(torch.randint(max(n_buf, 1), (1,), generator=self.generator))
        self.buffer.append(batch["w"][j] + got["dw"][j].detach(), batch["b"][j] + got["db"][j].detach())
        self.step += 1
        return {"step": self.step, "loss": float(loss.detach()), "adam_lr": lr, "grad_norm": float(grad_norm),
                **{f"mse_{k}": float(v.detach()) for k, v in mse.items()}}

    def evaluate(self) -> dict:
        params = {k: v.detach() for k, v in self.params.items()}
        out = {}
        for name, t in self.eval_set.items():
            errs = cloning_errors(params, self.cfg, t["x"], t["e"], t["w"], t["b"])
            out.update({f"{name}_{k}": round(v, 6) for k, v in errs.items()})
        return out

    def state_dict(self) -> dict:
        return {"step": self.step, "params": {k: v.detach().clone() for k, v in self.params.items()},
                "opt": self.opt.state_dict(), "generator": self.generator.get_state(),
                "buffer": self.buffer.state_dict(),
                "streams": {k: s.state_dict() for k, s in self.streams.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        with torch.no_grad():
            for k, v in state["params"].items():
                self.params[k].copy_(v)
        self.opt.load_state_dict(state["opt"])
        self.generator.set_state(state["generator"])
        self.buffer.load_state_dict(state["buffer"])
        for k, s in state["streams"].items():
            if k in self.streams:
                self.streams[k].load_state_dict(s)

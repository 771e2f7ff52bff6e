"""The VSML RNN: stacked dense layers of shared sub-LSTMs, run online (Algorithm 2).

Paper: Section 3 ("Stacking VSML RNNs and feeding inputs", Eq. 7, Figures 2-3),
Algorithms 1-2 and Appendix C. Layer ``k`` has ``A_k x B_k`` sub-LSTMs with
``A_{k+1} = B_k``; all layers share the same ``V_M`` but have their own states
``V_L = {s^(k)_ab}``.

Each example (one call of ``online_step``):

1. ``x_t`` goes into slot 0 of layer 1's forward message;
2. layers run in order ``1..K``, each for ``num_micro_ticks`` ticks on the same
   incoming messages; layer ``k``'s forward message feeds layer ``k+1`` now, its
   backward message feeds layer ``k-1`` at the next example;
3. the prediction is slot 1 of the last forward message, bounded as
   ``100 tanh(y / 100)``;
4. the error ``softmax(y_hat) - onehot(y_t)`` goes into slot 0 of the last
   layer's backward message (the one-hot label into slot 1 with ``feed_label``)
   and reaches the sub-LSTMs together with ``x_{t+1}``: the prediction for
   ``x_t`` never sees ``y_t``.

States have a leading batch axis ``P``: many episodes with shared parameters,
or an ES population with per-member parameters (see ``vsml.lstm``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .config import ConfigMixin, coerce_fields
from .dense_tick import STATE_DTYPES, DenseTick
from .lstm import SubLSTMConfig, check_params, init_params, param_count


def check_step_input(x_t: torch.Tensor, batch_size: int, size: int, shape: str, what: str) -> None:
    """One-line ``ValueError`` unless one example's input ``x_t`` is ``[batch_size, size]`` (shapes only: no
    device sync in the per-example loop); ``shape`` and ``what`` describe it for the message."""
    if x_t.dim() != 2 or tuple(x_t.shape) != (batch_size, size):
        raise ValueError(f"x_t must be {shape} = ({batch_size}, {size}) for this state and {what}, "
                         f"got {tuple(x_t.shape)}")


@dataclass(frozen=True)
class VSMLConfig(ConfigMixin):
    """A VSML RNN: layer sizes and run-time options, with the authors' defaults (Appendix C.2).

    ``from_dict`` (plain values, e.g. YAML) rejects unknown options and converts
    values to the fields' types (:mod:`vsml.config`).
    """

    layer_sizes: tuple[int, ...] = (784, 10)   # A_1, B_1 = A_2, ..., B_K
    sub_lstm: SubLSTMConfig = field(default_factory=SubLSTMConfig)
    num_micro_ticks: int = 2       # ticks per layer per example, on the same incoming messages
    output_bound: float = 100.0    # prediction = bound * tanh(y / bound)
    output_slot: int = 1           # slot of the last forward message read as the prediction
    feed_label: bool = False       # also feed the one-hot label into the backward message
    state_clip: float | None = None  # clip the cell state to [-v, v] (paper: 4 at meta-test, cloning)
    init_rand_proportion: float = 0.5  # fraction of c initialised randomly (the rest is 0)
    batch_average: bool = False    # average the first half of h, c over the batch each step (Appendix C)
    compile: bool = False          # fuse the tick with torch.compile (inference only)
    state_dtype: str = "float32"   # "bfloat16": V_L rounded to bfloat16 between examples (GPU memory traffic)

    def __post_init__(self):
        coerce_fields(self)  # lists -> tuples, a dict -> SubLSTMConfig, "1e2" -> 100.0
        sizes = self.layer_sizes
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer_sizes needs at least an input and an output size >= 1, got {sizes}")
        if self.num_micro_ticks < 1:
            raise ValueError(f"num_micro_ticks must be >= 1, got {self.num_micro_ticks}")
        if not 0 <= self.output_slot < self.sub_lstm.fwd_size or self.output_slot == 0:
            raise ValueError(f"output_slot must be in 1..{self.sub_lstm.fwd_size - 1} (slot 0 carries x)")
        if self.feed_label and self.sub_lstm.bwd_size < 2:
            raise ValueError("feed_label needs bwd_size >= 2")
        if self.state_dtype not in STATE_DTYPES:
            raise ValueError(f"state_dtype must be one of {tuple(STATE_DTYPES)}, got {self.state_dtype!r}")
        if not 0.0 <= self.init_rand_proportion <= 1.0:
            raise ValueError(f"init_rand_proportion must be in [0, 1], got {self.init_rand_proportion}")

    @property
    def num_layers(self) -> int:
        return len(self.layer_sizes) - 1

    @property
    def num_classes(self) -> int:
        return self.layer_sizes[-1]

    def layer_shapes(self) -> list[tuple[int, int]]:
        return list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))

    def num_learned(self) -> int:
        """|V_L|: state entries (h and c) of all sub-LSTMs."""
        return sum(a * b for a, b in self.layer_shapes()) * 2 * self.sub_lstm.state_size


@dataclass
class NetworkState:
    """V_L plus the messages in flight: per layer ``h, c`` ``[P, A, B, N]`` and the incoming
    backward message ``[P, B, N'']`` (for the last layer it carries the error)."""

    h: list[torch.Tensor]
    c: list[torch.Tensor]
    bwd_in: list[torch.Tensor]

    @property
    def batch_size(self) -> int:
        return self.h[0].shape[0]

    def clone(self) -> "NetworkState":
        return NetworkState([t.clone() for t in self.h], [t.clone() for t in self.c],
                            [t.clone() for t in self.bwd_in])

    def repeat_interleave(self, repeats: int) -> "NetworkState":
        """Each member repeated ``repeats`` times (antithetic ES pairs share their initial state)."""
        rep = lambda ts: [t.repeat_interleave(repeats, dim=0) for t in ts]  # noqa: E731
        return NetworkState(rep(self.h), rep(self.c), rep(self.bwd_in))


@dataclass
class EpisodeResult:
    """Online predictions of an episode: ``logits [P, T, C]``, ``loss`` and ``correct`` ``[P, T]``."""

    logits: torch.Tensor
    loss: torch.Tensor
    correct: torch.Tensor
    state: NetworkState

    def cumulative_accuracy(self) -> torch.Tensor:
        """Mean correctness of every prediction so far (Section 4.2), ``[P, T]``."""
        steps = torch.arange(1, self.correct.shape[1] + 1, device=self.correct.device)
        return self.correct.float().cumsum(dim=1) / steps


class VSMLNetwork:
    """A VSML RNN of dense layers that all share one sub-LSTM (Figures 2-3).

    >>> net = VSMLNetwork(VSMLConfig(layer_sizes=(784, 10)))
    >>> params = net.init_params(seed=0)            # V_M, 2,384 numbers
    >>> res = net.run_episode(params, x, y)          # x [P, T, 784], y [P, T]
    """

    def __init__(self, config: VSMLConfig | None = None, **options):
        if config is None:
            config = VSMLConfig.from_dict(options)
        elif options:
            raise ValueError("pass either a VSMLConfig or keyword options, not both")
        self.config = config
        self.tick = DenseTick(config.sub_lstm, config.num_micro_ticks, config.state_clip, config.compile,
                              state_dtype=config.state_dtype)

    def __repr__(self) -> str:
        c = self.config
        return (f"VSMLNetwork(layers={'x'.join(map(str, c.layer_sizes))}, N={c.sub_lstm.state_size}, "
                f"|V_M|={param_count(c.sub_lstm):,}, |V_L|={c.num_learned():,})")

    # ---------------------------------------------------------------- V_M, V_L
    def init_params(self, seed: int | None = None, generator: torch.Generator | None = None,
                    device=None) -> dict[str, torch.Tensor]:
        """A fresh V_M (:func:`vsml.lstm.init_params`) from ``generator``, else from ``seed`` (default 0)."""
        if generator is None:
            generator = torch.Generator().manual_seed(0 if seed is None else seed)
        params = init_params(self.config.sub_lstm, generator)
        return {k: v.to(device) for k, v in params.items()} if device is not None else params

    def init_state(self, batch_size: int, generator: torch.Generator | None = None,
                   device=None, dtype: torch.dtype = torch.float32) -> NetworkState:
        """Fresh V_L: ``h = 0``; the first part of ``c`` truncated normal with std ``1/sqrt(A)``, the rest 0."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1 (runs at once), got {batch_size!r}")
        cfg = self.config
        N, Bw = cfg.sub_lstm.state_size, cfg.sub_lstm.bwd_size
        n_rand = int(round(N * cfg.init_rand_proportion))
        hs, cs, bwds = [], [], []
        for A, B in cfg.layer_shapes():
            c = torch.zeros(batch_size, A, B, N, dtype=dtype)
            if n_rand:
                std = 1.0 / math.sqrt(A)
                torch.nn.init.trunc_normal_(c[..., :n_rand], std=std, a=-2 * std, b=2 * std, generator=generator)
            hs.append(torch.zeros(batch_size, A, B, N, dtype=dtype, device=device))
            cs.append(c.to(device))
            bwds.append(torch.zeros(batch_size, B, Bw, dtype=dtype, device=device))
        return NetworkState(hs, cs, bwds)

    # ------------------------------------------------------------ Algorithm 2
    def forward(self, params, state: NetworkState, x_t: torch.Tensor,
                in_place: bool = False) -> tuple[torch.Tensor, NetworkState]:
        """Feed one input ``x_t`` ``[P, A_1]`` through all layers; return the bounded prediction ``[P, C]``.

        ``in_place``: the new states may overwrite ``state``'s tensors (CPU kernel only; see ``DenseTick``).
        Only for a loop that drops the old state, as ``run_episode`` does.
        """
        cfg = self.config
        P = state.batch_size
        check_step_input(x_t, P, cfg.layer_sizes[0], f"[P, {cfg.layer_sizes[0]}]", f"layer sizes {cfg.layer_sizes}")
        fwd = x_t.new_zeros(P, cfg.layer_sizes[0], cfg.sub_lstm.fwd_size)
        fwd[..., 0] = x_t
        h, c, bwd_in = list(state.h), list(state.c), list(state.bwd_in)
        for k in range(cfg.num_layers):
            h[k], c[k], fwd, bwd_out = self.tick(params, h[k], c[k], fwd, bwd_in[k], in_place=in_place)
            if k > 0:
                bwd_in[k - 1] = bwd_out  # reaches layer k-1 with the next example
        if cfg.batch_average:
            h, c = [_average_half(t) for t in h], [_average_half(t) for t in c]
        y = fwd[..., cfg.output_slot]
        logits = cfg.output_bound * torch.tanh(y / cfg.output_bound)
        return logits, NetworkState(h, c, bwd_in)

    def feed_error(self, state: NetworkState, logits: torch.Tensor, y_t: torch.Tensor) -> NetworkState:
        """Put ``softmax(logits) - onehot(y_t)`` (and the label) into the last backward message."""
        cfg = self.config
        P, C = state.batch_size, cfg.num_classes  # shapes only: no device sync per step
        if tuple(y_t.shape) != (P,) or y_t.dtype != torch.int64:
            raise ValueError(f"y_t must be int64 labels [P] = ({P},), got {tuple(y_t.shape)} of {y_t.dtype}")
        if tuple(logits.shape) != (P, C):
            raise ValueError(f"need logits [P, C] = ({P}, {C}), got {tuple(logits.shape)}")
        onehot = F.one_hot(y_t, cfg.num_classes).to(logits.dtype)
        error = torch.softmax(logits, dim=-1) - onehot
        msg = logits.new_zeros(state.batch_size, cfg.num_classes, cfg.sub_lstm.bwd_size)
        msg[..., 0] = error
        if cfg.feed_label:
            msg[..., 1] = onehot
        return NetworkState(state.h, state.c, [*state.bwd_in[:-1], msg])

    def online_step(self, params, state: NetworkState, x_t: torch.Tensor, y_t: torch.Tensor,
                    in_place: bool = False):
        """One example of Algorithm 2: predict ``x_t`` (before ``y_t`` is seen), then feed the error.

        Returns ``(logits [P, C], loss [P], new_state)``. ``in_place`` as in ``forward``.
        """
        logits, state = self.forward(params, state, x_t, in_place=in_place)
        state = self.feed_error(state, logits, y_t)  # checks y_t (once) before the loss reads it
        return logits, F.cross_entropy(logits, y_t, reduction="none"), state

    def run_episode(self, params, x: torch.Tensor, y: torch.Tensor, state: NetworkState | None = None,
                    generator: torch.Generator | None = None, progress: bool = False) -> EpisodeResult:
        """Meta-test (Algorithm 2) or the inner loop of meta-training (Algorithm 1) over ``x [P, T, A_1]``."""
        self.check_inputs(x, y, dtype=params["lstm_w"].dtype if "lstm_w" in params else None)
        y = y.long()
        P, T = y.shape
        check_params(params, self.config.sub_lstm, P)
        owned = state is None  # a state of our own may be updated in place from the first example on
        if state is None:
            state = self.init_state(P, generator, device=x.device, dtype=x.dtype)
        elif state.batch_size != P:
            raise ValueError(f"state has batch size {state.batch_size} but the episode has {P}")
        logits, losses = [], []
        steps = range(T)
        if progress:
            from tqdm.auto import tqdm
            steps = tqdm(steps, desc="examples", leave=False)
        for t in steps:
            lg, loss, state = self.online_step(params, state, x[:, t], y[:, t], in_place=owned or t > 0)
            logits.append(lg)
            losses.append(loss)
        logits = torch.stack(logits, dim=1)
        return EpisodeResult(logits, torch.stack(losses, dim=1), logits.argmax(-1) == y, state)

    def check_inputs(self, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype | None = None) -> None:
        """One-line ``ValueError`` for episodes the network cannot run (``dtype``: the parameters' dtype)."""
        cfg = self.config
        if not torch.is_tensor(x) or not torch.is_tensor(y):
            raise ValueError(f"x and y must be tensors, got {type(x).__name__} and {type(y).__name__}")
        if x.dim() != 3 or x.shape[-1] != cfg.layer_sizes[0]:
            raise ValueError(f"x must be [P, T, {cfg.layer_sizes[0]}] (batch, time, input size), "
                             f"got {tuple(x.shape)}")
        if not torch.is_floating_point(x):
            raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype} (convert with x.float())")
        if dtype is not None and x.dtype != dtype:
            raise ValueError(f"x has dtype {x.dtype} but the parameters have {dtype}; "
                             f"convert one of them (e.g. x.to({dtype}))")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"the episode is empty: x has shape {tuple(x.shape)}, need P >= 1 runs "
                             f"of T >= 1 examples")
        if y.shape != x.shape[:2]:
            raise ValueError(f"y must be [P, T] = {tuple(x.shape[:2])} to match x, got {tuple(y.shape)}")
        if y.dtype != torch.int64:  # the rule of vsml.online.check_episode, which every other learner applies
            raise ValueError(f"y must be int64 class labels, got dtype {y.dtype} (convert with y.long())")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= cfg.num_classes):
            raise ValueError(f"labels must be in [0, {cfg.num_classes}), got range "
                             f"[{int(y.min())}, {int(y.max())}]")
        if not torch.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values")


def _average_half(t: torch.Tensor) -> torch.Tensor:
    """Batched LAs (Appendix C): share the first half of each state across the batch."""
    half = t.shape[-1] // 2
    shared = t[..., :half].mean(dim=0, keepdim=True).expand_as(t[..., :half])
    return torch.cat([shared, t[..., half:]], dim=-1)

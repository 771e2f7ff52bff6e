"""Meta-training (Algorithm 1): learn V_M by ES or by backpropagation through time.

Paper: Section 3.1 and Algorithm 1 ("VSML: Meta Training"), Section 4.2 and
Appendix C.2. The meta-loss of a parameter vector is the mean cross-entropy
over all online predictions of an episode (500 examples, batch size 1, the
prediction for ``x_t`` made before ``y_t`` is seen), starting from fresh
random LSTM states. Two sources of the meta-gradient:

* ``method: es`` -- OpenAI-ES (:mod:`vsml.es`) as in the paper: 1,024
  antithetic pairs, sigma 0.05, Adam 0.025, 10k generations. The whole
  population runs as one batched forward pass with per-member parameters
  ``[2 * num_pairs, D]`` under ``torch.inference_mode``; both members of a
  pair see the same episode and the same initial state; every generation
  draws fresh episodes and states.
* ``method: bptt`` -- the gradient through the whole episode, a meta-batch of
  episodes with shared parameters, Adam and global-norm clipping (Appendix C.2
  mentions "distributed gradient descent ... with gradient clipping").

``model: vsml`` meta-trains the VSML RNN (:mod:`vsml.network`); ``model:
metarnn`` the Meta RNN baseline (:mod:`vsml.baselines`), with either method.

Determinism: every random draw of step ``s`` (noise, episodes, initial states)
comes from generators seeded by ``(seed, s, ...)``, and each episode's data
and state from its own ``(seed, s, index)``. So a resumed run is bit-identical
on CPU to an uninterrupted one, and an ES run gives the same parameters with
1 or 2 processes (eager CPU; ``torch.compile`` may change the last bits
between population sizes).

Scale-out with ``torchrun`` (``torch.distributed``: NCCL on GPU, gloo on CPU):
ES -- every rank draws the same full noise, evaluates its slice of pairs,
all-gathers the losses and applies the same ``tell``. BPTT -- the meta-batch
is split and gradients are averaged with an all-reduce; this is NOT
bit-identical across process counts (the reduction order changes).

Command line (configs in ``vsml/configs/``: paper, cpu_bptt, cpu_es, smoke)::

    python -m vsml.meta train --config cpu_bptt --out runs/bptt [--steps N] [--resume] [--set lr=3e-4]
    torchrun --nproc_per_node 8 -m vsml.meta train --config paper --out runs/paper
    python -m vsml.meta export --run runs/bptt --name mnist_bptt   # -> vsml/pretrained/
    python -m vsml.meta list
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from . import es
from .device import resolve_device
from .lstm import flatten_params, param_shapes, unflatten_params
from .network import NetworkState, VSMLConfig, VSMLNetwork

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
METHODS = ("es", "bptt")
MODELS = ("vsml", "metarnn")
METARNN_OPTIONS = ("hidden_size", "num_micro_ticks", "output_bound", "feed_label")
# Settings that may change when a run is resumed: none of them touches the parameters.
RESUMABLE_CHANGES = ("steps", "log_every", "checkpoint_every", "eval_every", "num_threads", "device")


class NonFiniteError(RuntimeError):
    """The meta-loss or meta-gradient became NaN/inf; the run stopped before applying it."""


# --------------------------------------------------------------------------- config

@dataclass
class MetaConfig:
    """One meta-training run (loaded from ``vsml/configs/NAME.yaml``; unknown keys are an error)."""

    method: str = "es"                 # es | bptt
    model: str = "vsml"                # vsml | metarnn
    model_options: dict = field(default_factory=dict)  # VSMLConfig fields, or METARNN_OPTIONS
    dataset: str = "mnist"             # a vsml.data name
    split: str = "train"               # meta-training split
    eval_split: str = "test"           # meta-test split for the periodic evaluation
    resize: int | None = None          # input side length (7 -> 7x7 = 49 inputs); None keeps the size
    random_projection: bool = False    # per-episode Glorot-uniform D x D projection (Section 4.3)
    episode_length: int = 500          # T, examples per episode (the shortest, with episode_length_max)
    segment_length: int | None = None  # BPTT window: episodes cut into segments, state carried (None: T)
    episode_length_max: int | None = None  # pool mode: each episode's length log-uniform in [T, this]
    init_from: str | None = None       # start V_M from a pretrained name, run folder or .pt (None: fresh init)
    num_pairs: int = 1024              # ES antithetic pairs (population 2 * num_pairs)
    meta_batch_size: int = 128         # BPTT episodes per step
    lr: float = 0.025                  # Adam learning rate
    b1: float = 0.9
    b2: float = 0.999
    adam_eps: float = 1e-8
    sigma: float = 0.05                # ES noise std
    centered_rank: bool = False        # ES fitness shaping
    grad_clip: float | None = 25.0     # BPTT global-norm clipping
    steps: int = 10_000                # generations (ES) or updates (BPTT), in total
    seed: int = 0
    log_every: int = 1                 # metrics line every n steps
    checkpoint_every: int = 50
    eval_every: int = 100              # meta-test the current V_M every n steps (0: never)
    eval_episodes: int = 16
    eval_length: int = 500
    device: str = "auto"               # auto | cpu | cuda
    num_threads: int | None = None     # torch CPU threads (None: torch's default)

    def __post_init__(self):
        self._coerce_numbers()
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if not isinstance(self.model_options, dict):
            raise ValueError(f"model_options must be a mapping, got {self.model_options!r}")
        known = METARNN_OPTIONS if self.model == "metarnn" else [f.name for f in dataclasses.fields(VSMLConfig)]
        unknown = set(self.model_options) - set(known)
        if unknown:
            raise ValueError(f"unknown model_options {sorted(unknown)} for model {self.model!r}; "
                             f"known: {sorted(known)}")
        for name in ("episode_length", "num_pairs", "meta_batch_size", "log_every", "checkpoint_every",
                     "eval_episodes", "eval_length"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.segment_length is not None and int(self.segment_length) < 1:
            raise ValueError(f"segment_length must be >= 1 or null, got {self.segment_length}")
        if self.episode_length_max is not None and int(self.episode_length_max) < self.episode_length:
            raise ValueError(f"episode_length_max ({self.episode_length_max}) must be >= episode_length "
                             f"({self.episode_length})")
        if self.long_horizon and self.method != "bptt":
            raise ValueError("segment_length / episode_length_max (long-horizon training) need method: bptt")
        if self.long_horizon and self.model != "vsml":
            raise ValueError("long-horizon training carries VSML states; it is not implemented for the Meta RNN")
        if self.steps < 0 or self.eval_every < 0:
            raise ValueError(f"steps and eval_every must be >= 0, got {self.steps}, {self.eval_every}")
        if self.sigma <= 0 or self.lr < 0:
            raise ValueError(f"need sigma > 0 and lr >= 0, got sigma={self.sigma}, lr={self.lr}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 or null, got {self.grad_clip}")

    def _coerce_numbers(self) -> None:
        """YAML reads ``1e-3`` as a string (YAML 1.1 wants ``1.0e-3``): convert by the field's type."""
        for f in dataclasses.fields(self):
            value, kind = getattr(self, f.name), str(f.type)
            if value is None or isinstance(value, bool) or not kind.startswith(("int", "float")):
                continue
            try:
                number = float(value) if kind.startswith("float") else int(value)
            except (TypeError, ValueError):
                raise ValueError(f"{f.name} must be a number ({kind}), got {value!r}") from None
            if kind.startswith("int") and number != float(value):
                raise ValueError(f"{f.name} must be an integer, got {value!r}")
            setattr(self, f.name, number)

    @property
    def long_horizon(self) -> bool:
        """Segments with carried state or a pool of variable-length episodes (:mod:`vsml.episode_pool`)."""
        return ((self.segment_length is not None and self.segment_length != self.episode_length)
                or self.episode_length_max is not None)

    @classmethod
    def from_dict(cls, values: dict) -> "MetaConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown config key(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def es_hyperparams(self, num_pairs: int | None = None) -> es.ESHyperParams:
        return es.ESHyperParams(num_pairs=num_pairs or self.num_pairs, sigma=self.sigma, lr=self.lr,
                                b1=self.b1, b2=self.b2, eps=self.adam_eps, centered_rank=self.centered_rank)


def config_names() -> list[str]:
    """Names of the shipped configs (``vsml/configs/*.yaml``)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _set_dotted(values: dict, key: str, value) -> None:
    *path, last = key.split(".")
    node = values
    for part in path:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {key}: {part!r} is not a mapping")
    node[last] = value


def load_config(name_or_path, overrides=None) -> MetaConfig:
    """A shipped config by name (``paper``, ``cpu_bptt``, ...) or a YAML file path.

    ``overrides`` is a dict or a list of ``"key=value"`` strings (values parsed as
    YAML; dotted keys reach into ``model_options``, e.g. ``model_options.sub_lstm.layer_norm=true``).
    """
    path = Path(name_or_path)
    if not path.is_file():
        path = CONFIG_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"no config file {name_or_path!r} and no shipped config of that name; "
                                    f"shipped: {', '.join(config_names())}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a config must be a YAML mapping, got {type(values).__name__}")
    items = overrides.items() if isinstance(overrides, dict) else [_parse_override(s) for s in overrides or []]
    for key, value in items:
        _set_dotted(values, key, value)
    try:
        return MetaConfig.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def _parse_override(text: str):
    if "=" not in text:
        raise ValueError(f"--set expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def derive_seed(*keys) -> int:
    """A 63-bit seed from ``(seed, step, purpose, index, ...)``: independent streams, no shared state."""
    digest = hashlib.sha256(repr(keys).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2 ** 63 - 1)


# --------------------------------------------------------------------------- models

class VSMLModel:
    """The VSML RNN as a function of a flat parameter vector ``[D]`` (shared) or ``[P, D]`` (population)."""

    name = "vsml"

    def __init__(self, options: dict, input_size: int, num_classes: int):
        options = dict(options)
        sizes = tuple(options.pop("layer_sizes", (input_size, num_classes)))
        if sizes[0] != input_size or sizes[-1] != num_classes:
            raise ValueError(f"model_options.layer_sizes {sizes} must start with the data's {input_size} "
                             f"inputs and end with its {num_classes} classes")
        self.config = VSMLConfig.from_dict({**options, "layer_sizes": sizes})
        self.net = VSMLNetwork(self.config)
        self.shapes = param_shapes(self.config.sub_lstm)

    def init_flat(self, seed: int) -> torch.Tensor:
        return flatten_params(self.net.init_params(seed), self.config.sub_lstm)

    def unflatten(self, flat: torch.Tensor) -> dict:
        return unflatten_params(flat, self.config.sub_lstm)

    def initial_state(self, seeds: list[int], device) -> NetworkState:
        """Fresh random V_L per episode, each from its own seed."""
        states = [self.net.init_state(1, torch.Generator().manual_seed(derive_seed(s, "state"))) for s in seeds]
        cat = lambda ts: [torch.cat(t).to(device) for t in zip(*ts)]  # noqa: E731
        return NetworkState(cat([s.h for s in states]), cat([s.c for s in states]),
                            cat([s.bwd_in for s in states]))

    def run(self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, state, repeats: int = 1,
            return_state: bool = False):
        """Online predictions (Algorithm 2); each episode (and state) serves ``repeats`` consecutive members.

        Returns per-step ``loss`` and ``correct`` ``[P * repeats, T]`` (and the final state with ``return_state``).
        """
        params = self.unflatten(flat)
        self.net.check_inputs(x, y)
        if repeats > 1:
            state = state.repeat_interleave(repeats)
        losses, correct = [], []
        for t in range(x.shape[1]):
            x_t, y_t = x[:, t], y[:, t]
            if repeats > 1:  # per step, so the population never holds repeated copies of the episode
                x_t, y_t = x_t.repeat_interleave(repeats, 0), y_t.repeat_interleave(repeats, 0)
            logits, loss, state = self.net.online_step(params, state, x_t, y_t)
            losses.append(loss)
            correct.append(logits.argmax(-1) == y_t)
        if return_state:
            return torch.stack(losses, 1), torch.stack(correct, 1), state
        return torch.stack(losses, 1), torch.stack(correct, 1)

    def model_config(self) -> dict:
        return self.config.to_dict()


class MetaRNNModel:
    """The Meta RNN baseline (:mod:`vsml.baselines`, Appendix C.2) as a function of a flat vector."""

    name = "metarnn"

    def __init__(self, options: dict, input_size: int, num_classes: int):
        from . import baselines
        self.baselines = baselines
        self.hidden_size = int(options.get("hidden_size", baselines.METARNN_HIDDEN_SIZE))
        self.feed_label = bool(options.get("feed_label", False))
        self.num_micro_ticks = int(options.get("num_micro_ticks", 2))
        self.output_bound = options.get("output_bound", 100.0)
        self.input_size, self.num_classes = input_size, num_classes
        self.shapes = baselines.metarnn_param_shapes(input_size, num_classes, self.hidden_size, self.feed_label)

    def init_flat(self, seed: int) -> torch.Tensor:
        params = self.baselines.metarnn_init(self.input_size, self.num_classes, self.hidden_size,
                                             torch.Generator().manual_seed(seed), self.feed_label)
        return self.baselines.flatten(params, self.shapes)

    def unflatten(self, flat: torch.Tensor) -> dict:
        return self.baselines.unflatten(flat, self.shapes)

    def initial_state(self, seeds, device):
        return None  # the Meta RNN starts from zeros

    def run(self, flat, x, y, state, repeats: int = 1):
        if repeats > 1:
            x, y = x.repeat_interleave(repeats, 0), y.repeat_interleave(repeats, 0)
        out = self.baselines.metarnn_episode(self.unflatten(flat), x, y, num_micro_ticks=self.num_micro_ticks,
                                             output_bound=self.output_bound)
        return out["loss"], out["correct"]

    def model_config(self) -> dict:
        return {"input_size": self.input_size, "num_classes": self.num_classes, "hidden_size": self.hidden_size,
                "feed_label": self.feed_label, "num_micro_ticks": self.num_micro_ticks,
                "output_bound": self.output_bound}


def build_model(config: MetaConfig, input_size: int, num_classes: int):
    cls = VSMLModel if config.model == "vsml" else MetaRNNModel
    return cls(config.model_options, input_size, num_classes)


# --------------------------------------------------------------------------- data

def load_dataset(config: MetaConfig, split: str):
    from . import data
    return data.load(config.dataset, split)


def dataset_info(dataset) -> dict:
    """What a run actually used (never relabel one dataset as another)."""
    return {"name": getattr(dataset, "name", "?"), "split": getattr(dataset, "split", "?"),
            "source": getattr(dataset, "source", "?"), "partial": bool(getattr(dataset, "partial", False)),
            "note": getattr(dataset, "note", ""), "num_examples": int(len(dataset.y))}


def make_episodes(config: MetaConfig, dataset, seeds: list[int], length: int, device=None):
    """One online episode per seed (Section 4.2), standardised, resized and optionally projected.

    Each episode depends only on its seed, so any split of the episodes over
    processes sees the same data. Returns ``x [n, T, D]``, ``y [n, T]``.
    """
    from . import tasks
    xs, ys = [], []
    for s in seeds:
        x, y = tasks.online_episodes(dataset, 1, length, seed=derive_seed(s, "data"), image_size=config.resize)
        if config.random_projection:
            x = tasks.random_projection(x, seed=derive_seed(s, "projection"))
        xs.append(x)
        ys.append(y)
    return torch.cat(xs).to(device), torch.cat(ys).to(device)


def make_episode_segment(config: MetaConfig, dataset, seed: int, length: int, start: int, stop: int, device=None):
    """Examples ``start:stop`` of ``make_episodes(config, dataset, [seed], length)`` (same data, same projection)."""
    from . import tasks
    x, y = tasks.online_episode_segment(dataset, length, start, stop, seed=derive_seed(seed, "data"),
                                        image_size=config.resize)
    if config.random_projection:
        x = tasks.random_projection(x, seed=derive_seed(seed, "projection"))
    return x.to(device), y.to(device)


# --------------------------------------------------------------------------- distributed

@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    owns_group: bool = False  # True when train() created the process group (and destroys it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device_kind: str) -> Distributed:
    import torch.distributed as dist
    if not dist.is_available():
        return Distributed()
    if dist.is_initialized():
        return Distributed(dist.get_rank(), dist.get_world_size())
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
        return Distributed(dist.get_rank(), dist.get_world_size(), owns_group=True)
    return Distributed()


def _resolve_device(name: str, dist_info: Distributed) -> torch.device:
    dev = resolve_device(name)
    if dev.type == "cuda" and dev.index is None and dist_info.world_size > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", dist_info.rank)) % torch.cuda.device_count())
    return dev


def _all_gather(t: torch.Tensor, dist_info: Distributed) -> torch.Tensor:
    if dist_info.world_size == 1:
        return t
    import torch.distributed as dist
    parts = [torch.empty_like(t) for _ in range(dist_info.world_size)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def _all_reduce_mean(t: torch.Tensor, dist_info: Distributed) -> torch.Tensor:
    if dist_info.world_size > 1:
        import torch.distributed as dist
        dist.all_reduce(t)
        t /= dist_info.world_size
    return t


# --------------------------------------------------------------------------- trainer

class MetaTrainer:
    """Algorithm 1's outer loop, one ``step(s)`` at a time; ``train`` adds checkpoints and logs.

    ``dataset`` / ``eval_dataset`` (objects like :class:`vsml.data.Dataset`)
    replace loading ``config.dataset`` by name, e.g. for tests.
    """

    def __init__(self, config: MetaConfig, dataset=None, eval_dataset=None, device=None,
                 dist_info: Distributed | None = None):
        self.config = config
        self.dist = dist_info or Distributed()
        self.device = resolve_device(device) if device is not None else _resolve_device(config.device, self.dist)
        self.data = dataset if dataset is not None else load_dataset(config, config.split)
        if eval_dataset is None:
            eval_dataset = dataset if dataset is not None else load_dataset(config, config.eval_split)
        self.eval_data = eval_dataset
        x, _ = make_episodes(config, self.data, [0], 1)
        self.input_size, self.num_classes = x.shape[-1], int(self.data.num_classes)
        self.model = build_model(config, self.input_size, self.num_classes)
        if config.method == "es":
            if config.num_pairs % self.dist.world_size:
                raise ValueError(f"num_pairs={config.num_pairs} must be divisible by the "
                                 f"{self.dist.world_size} processes")
            self.hp = config.es_hyperparams()
        elif config.meta_batch_size % self.dist.world_size:
            raise ValueError(f"meta_batch_size={config.meta_batch_size} must be divisible by the "
                             f"{self.dist.world_size} processes")
        self.reset()

    # ---- state
    def reset(self) -> None:
        """Fresh V_M from ``config.seed`` (truncated normal weights, zero biases), or ``config.init_from``."""
        theta = (self.model.init_flat(self.config.seed) if self.config.init_from is None
                 else initial_params(self.config, self.model)).to(self.device)
        self.pool = None
        if self.config.long_horizon:
            from .episode_pool import EpisodePool
            n_local = self.config.meta_batch_size // self.dist.world_size
            lo = self.dist.rank * n_local
            self.pool = EpisodePool(self.config, self.model, self.data, range(lo, lo + n_local), self.device,
                                    derive_seed=derive_seed, make_segment=make_episode_segment)
        if self.config.method == "es":
            self.es_state = es.init(theta)
        else:
            self.theta = theta.clone().requires_grad_(True)
            c = self.config
            self.optimizer = torch.optim.Adam([self.theta], lr=c.lr, betas=(c.b1, c.b2), eps=c.adam_eps)

    @property
    def params_flat(self) -> torch.Tensor:
        """The current V_M as a flat vector ``[D]`` (the ES mean, or the BPTT parameters)."""
        return (self.es_state.mean if self.config.method == "es" else self.theta).detach().clone()

    def state_dict(self) -> dict:
        if self.config.method == "es":
            return {"es": {k: (v.cpu() if torch.is_tensor(v) else v) for k, v in self.es_state.to_dict().items()}}
        out = {"theta": self.theta.detach().cpu(), "adam": self.optimizer.state_dict()}
        if self.pool is not None:
            out["pool"] = self.pool.state_dict()  # per process: the run loop saves rank 0's (one process)
        return out

    def load_state_dict(self, state: dict) -> None:
        if self.config.method == "es":
            self.es_state = es.ESState.from_dict(state["es"]).to(self.device)
        else:
            with torch.no_grad():
                self.theta.copy_(state["theta"].to(self.device))
            self.optimizer.load_state_dict(state["adam"])
            if self.pool is not None:
                if "pool" not in state:
                    raise ValueError("the checkpoint has no episode pool, but the config asks for long-horizon "
                                     "training; start a new run (use init_from to continue from its V_M)")
                self.pool.load_state_dict(state["pool"])

    # ---- one step of Algorithm 1
    def _episodes(self, step: int, start: int, stop: int):
        seeds = [derive_seed(self.config.seed, step, "episode", i) for i in range(start, stop)]
        x, y = make_episodes(self.config, self.data, seeds, self.config.episode_length, self.device)
        return x, y, self.model.initial_state(seeds, self.device)

    def step(self, step: int) -> dict:
        """One meta-update with the randomness of ``(seed, step)``; returns loss/accuracy/grad_norm."""
        return self._es_step(step) if self.config.method == "es" else self._bptt_step(step)

    def _es_step(self, step: int) -> dict:
        hp, n_local = self.hp, self.hp.num_pairs // self.dist.world_size
        noise_gen = torch.Generator().manual_seed(derive_seed(self.config.seed, step, "noise"))
        population, noise = es.ask(self.es_state, hp, noise_gen)  # every rank draws the full noise
        lo, hi = self.dist.rank * n_local, (self.dist.rank + 1) * n_local
        x, y, state = self._episodes(step, lo, hi)
        with torch.inference_mode():
            loss, correct = self.model.run(population[2 * lo:2 * hi], x, y, state, repeats=2)
            member = torch.stack([loss.mean(1), correct.float().mean(1)], 1)  # [2 n_local, 2]
        member = _all_gather(member, self.dist)
        losses = member[:, 0]
        if not torch.isfinite(losses).all():
            bad = int((~torch.isfinite(losses)).sum())
            raise NonFiniteError(f"{bad} of {losses.numel()} population members have a non-finite meta-loss")
        grad = es.gradient(hp, noise, losses)
        grad_norm = float(grad.norm())
        if not math.isfinite(grad_norm):
            raise NonFiniteError("the ES gradient is non-finite")
        self.es_state = es.tell(self.es_state, hp, noise, losses)
        return {"loss": float(losses.mean()), "accuracy": float(member[:, 1].mean()), "grad_norm": grad_norm}

    def _bptt_step(self, step: int) -> dict:
        c, n_local = self.config, self.config.meta_batch_size // self.dist.world_size
        lo = self.dist.rank * n_local
        if self.pool is not None:  # the next segment of each slot's episode in progress
            x, y, state = self.pool.next_segment()
        else:
            x, y, state = self._episodes(step, lo, lo + n_local)
        self.optimizer.zero_grad(set_to_none=False)
        if self.pool is not None:
            loss, correct, final = self.model.run(self.theta, x, y, state, return_state=True)
            pool_stats = self.pool.stats()
            self.pool.advance(final)
        else:
            loss, correct = self.model.run(self.theta, x, y, state)
        meta_loss = loss.mean()
        meta_loss.backward()
        stats = torch.stack([meta_loss.detach(), correct.float().mean()])
        _all_reduce_mean(stats, self.dist)
        _all_reduce_mean(self.theta.grad, self.dist)
        if not torch.isfinite(stats[0]):
            raise NonFiniteError("the meta-loss is non-finite")
        grad_norm = float(self.theta.grad.norm())
        if not math.isfinite(grad_norm):
            raise NonFiniteError("the meta-gradient is non-finite")
        if c.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_([self.theta], c.grad_clip)
        self.optimizer.step()
        out = {"loss": float(stats[0]), "accuracy": float(stats[1]), "grad_norm": grad_norm}
        if self.pool is not None:
            out.update(pool_stats)
        return out

    @torch.inference_mode()
    def evaluate(self, params_flat: torch.Tensor | None = None) -> dict:
        """Meta-test V_M (Algorithm 2) on fixed episodes of the eval split: mean loss and accuracy."""
        c = self.config
        flat = (self.params_flat if params_flat is None else params_flat).to(self.device)
        seeds = [derive_seed(c.seed, "eval", i) for i in range(c.eval_episodes)]
        x, y = make_episodes(c, self.eval_data, seeds, c.eval_length, self.device)
        loss, correct = self.model.run(flat, x, y, self.model.initial_state(seeds, self.device))
        return {"eval_loss": float(loss.mean()), "eval_accuracy": float(correct.float().mean())}


def initial_params(config: MetaConfig, model) -> torch.Tensor:
    """V_M from ``config.init_from``: a pretrained name, a run folder or an exported ``.pt`` file."""
    src = config.init_from
    path = Path(src)
    if path.is_dir() or (path.is_file() and path.name == CHECKPOINT):
        ckpt = load_checkpoint(path)
        state = ckpt["state"]
        flat = state["theta"] if "theta" in state else state["es"]["mean"]
    else:
        params, _ = load_pretrained(src)  # a shipped name or an exported .pt path
        try:
            flat = flatten_params(params, model.config.sub_lstm) if model.name == "vsml" else \
                model.baselines.flatten(params, model.shapes)
        except ValueError as exc:
            raise ValueError(f"init_from {src!r} does not fit this model's parameters "
                             f"(different sub-LSTM options?): {exc}") from None
    flat = flat.detach().to(torch.float32).cpu()
    if flat.shape != model.init_flat(0).shape:
        raise ValueError(f"init_from {src!r} holds {flat.numel()} parameters, this model needs "
                         f"{model.init_flat(0).numel()} (different sub-LSTM options?)")
    if not torch.isfinite(flat).all():
        raise ValueError(f"init_from {src!r} holds NaN or infinite parameters")
    return flat.clone()


# --------------------------------------------------------------------------- checkpoints

def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _atomic_write_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_checkpoint(run_dir) -> dict:
    """The last checkpoint of a run folder (or a checkpoint file)."""
    path = Path(run_dir)
    path = path / CHECKPOINT if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, garbage, or not written by vsml.meta
        raise RuntimeError(f"checkpoint {path} is unreadable ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def _check_resumable(saved: dict, config: MetaConfig) -> None:
    now = config.to_dict()
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if changed:
        diff = ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in changed)
        raise ValueError(f"cannot resume: the config differs from the checkpoint's in {diff}")


@dataclass
class TrainResult:
    params: dict            # V_M as a dict of tensors (unflattened)
    params_flat: torch.Tensor
    step: int
    metrics: list
    out_dir: Path


def train(config: MetaConfig | str | None, out_dir, *, steps: int | None = None, resume: bool = False,
          dataset=None, eval_dataset=None, progress: bool = True, device=None) -> TrainResult:
    """Run Algorithm 1 with checkpoints (``out_dir/checkpoint.pt``) and metrics (``out_dir/metrics.jsonl``).

    ``config`` is a :class:`MetaConfig`, a config name/path, or ``None`` to
    take the checkpoint's when resuming. ``steps`` overrides ``config.steps``
    (the total, not additional steps).
    ``resume=True`` continues from ``out_dir``'s checkpoint (bit-identical on
    CPU to a run that was never interrupted); without it an existing
    checkpoint is an error. A non-finite loss or gradient raises
    :class:`NonFiniteError` and leaves the last good checkpoint untouched.
    """
    out = Path(out_dir)
    ckpt_path, metrics_path = out / CHECKPOINT, out / METRICS
    saved = None
    if ckpt_path.exists():
        if not resume:
            raise FileExistsError(f"{out} already holds a run ({ckpt_path}); pass resume=True (--resume) "
                                  f"to continue it or choose another output folder")
        saved = load_checkpoint(ckpt_path)
        if config is None:
            config = MetaConfig.from_dict(saved["config"])
    if config is None:
        raise ValueError(f"no config given and no checkpoint to resume in {out}")
    if isinstance(config, str):
        config = load_config(config)
    if steps is not None:
        config = dataclasses.replace(config, steps=int(steps))
    if saved is not None:
        _check_resumable(saved["config"], config)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)

    kind = resolve_device(device if device is not None else config.device).type
    dist_info = _setup_distributed(kind)
    try:
        return _train(config, out, ckpt_path, metrics_path, saved, dataset, eval_dataset, progress, device, dist_info)
    finally:
        if dist_info.owns_group:
            import torch.distributed as dist
            dist.destroy_process_group()


def _train(config, out, ckpt_path, metrics_path, saved, dataset, eval_dataset, progress, device, dist_info):
    trainer = MetaTrainer(config, dataset, eval_dataset, device, dist_info)
    start, records, wall_before = 0, [], 0.0
    if saved is not None:
        trainer.load_state_dict(saved["state"])
        start, records, wall_before = int(saved["step"]), list(saved["metrics"]), float(saved["wall_time"])
    is_main = dist_info.is_main
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), out / "config.yaml")
        # The log restarts from the checkpoint: lines of steps after it are redone.
        _atomic_write_text("".join(json.dumps(r) + "\n" for r in records), metrics_path)
        print(f"vsml.meta: {config.method} / {config.model} on {dataset_info(trainer.data)['name']} "
              f"({trainer.input_size} inputs, {trainer.num_classes} classes), {dist_info.world_size} process(es) "
              f"on {trainer.device}; {'resuming at' if saved is not None else 'starting at'} step {start}, "
              f"until step {config.steps}\n"
              f"  checkpoints: {ckpt_path}\n  metrics:     {metrics_path}", flush=True)

    def checkpoint(step, wall):
        if is_main:
            _atomic_save({"format": "vsml.meta/1", "step": step, "config": config.to_dict(),
                          "state": trainer.state_dict(), "metrics": records, "wall_time": wall,
                          "dataset": dataset_info(trainer.data), "eval_dataset": dataset_info(trainer.eval_data),
                          "model": trainer.model.name,
                          "model_config": trainer.model.model_config(), "device": str(trainer.device),
                          "world_size": dist_info.world_size, "torch": str(torch.__version__)}, ckpt_path)

    bar = None
    if is_main and progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=config.steps, initial=start, desc=f"meta-train ({config.method})", dynamic_ncols=True,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0)
    t_start = time.perf_counter()
    last_good = start if saved is not None else None
    log = open(metrics_path, "a") if is_main else None
    try:
        for s in range(start, config.steps):
            t0 = time.perf_counter()
            try:
                rec = trainer.step(s)
            except NonFiniteError as exc:
                where = (f"the last good checkpoint {ckpt_path} (step {last_good}) was left untouched"
                         if last_good is not None else "no checkpoint had been written yet")
                raise NonFiniteError(f"step {s + 1}: {exc}; meta-training stopped, {where}") from None
            done = s + 1
            rec = {"step": done, **rec, "sec_per_step": time.perf_counter() - t0}
            if config.eval_every and (done % config.eval_every == 0 or done == config.steps) and is_main:
                rec.update(trainer.evaluate())
            rec["wall_time"] = wall_before + time.perf_counter() - t_start
            if done % config.log_every == 0 or done == config.steps or "eval_loss" in rec:
                records.append(rec)
                if log:
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
            if done % config.checkpoint_every == 0 or done == config.steps:
                checkpoint(done, rec["wall_time"])
                last_good = done
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec['accuracy']:.3f}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
        if log:
            log.close()
    if start >= config.steps and is_main:
        print(f"vsml.meta: nothing to do, the run is at step {start} of {config.steps} "
              f"(pass --steps N for more)", flush=True)
    flat = trainer.params_flat.cpu()
    return TrainResult(trainer.model.unflatten(flat), flat, max(start, config.steps), records, out)


# --------------------------------------------------------------------------- metrics

def read_metrics(path_or_records) -> list[dict]:
    """Records from a run folder, a ``metrics.jsonl`` file, or a list of dicts."""
    if isinstance(path_or_records, (list, tuple)):
        return list(path_or_records)
    path = Path(path_or_records)
    if path.is_dir():
        path = path / METRICS
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_metrics(path_or_records, ax=None, *, smooth: int = 1):
    """Meta-loss (left axis) and accuracy (right axis, percent) against the step; returns ``ax``.

    ``smooth`` > 1 applies a trailing moving average to the training curves.
    Evaluation points (``eval_accuracy``) are drawn as markers.
    """
    import matplotlib.pyplot as plt
    records = read_metrics(path_or_records)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))

    def series(key):
        pts = [(r["step"], r[key]) for r in records if key in r]
        return [p[0] for p in pts], [p[1] for p in pts]

    def moving(v):
        if smooth <= 1:
            return v
        return [sum(v[max(0, i - smooth + 1):i + 1]) / len(v[max(0, i - smooth + 1):i + 1]) for i in range(len(v))]

    steps, loss = series("loss")
    ax.plot(steps, moving(loss), color="C0", label="meta-loss")
    ax.set_xlabel("meta-training step")
    ax.set_ylabel("meta-loss (cross-entropy)", color="C0")
    acc_ax = ax.twinx()
    steps, acc = series("accuracy")
    acc_ax.plot(steps, [100 * a for a in moving(acc)], color="C1", alpha=0.8, label="accuracy (train episodes)")
    steps, eval_acc = series("eval_accuracy")
    if steps:
        acc_ax.plot(steps, [100 * a for a in eval_acc], "o", color="C2", markersize=3, label="accuracy (eval)")
    acc_ax.set_ylabel("online accuracy (%)", color="C1")
    lines = ax.get_lines() + acc_ax.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right", fontsize="small")
    return ax


# --------------------------------------------------------------------------- export / pretrained

def _git_commit() -> str:
    """The package's git commit, with ``+dirty`` when its working tree has changes."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def export(run_dir, name: str, dest=None) -> tuple[Path, Path]:
    """Write a run's final V_M as ``dest/NAME.pt`` (a dict of plain tensors) and ``NAME.json`` (provenance).

    ``dest`` defaults to the package's ``vsml/pretrained/``. Returns both paths.
    """
    check_export_name(name)
    ckpt = load_checkpoint(run_dir)
    config = MetaConfig.from_dict(ckpt["config"])
    state = ckpt["state"]
    flat = state["es"]["mean"] if "es" in state else state["theta"]
    mc = ckpt["model_config"]
    if ckpt["model"] == "vsml":
        params = unflatten_params(flat, VSMLConfig.from_dict(mc).sub_lstm)
    else:
        from .baselines import metarnn_param_shapes, unflatten
        params = unflatten(flat, metarnn_param_shapes(mc["input_size"], mc["num_classes"],
                                                      mc["hidden_size"], mc["feed_label"]))
    params = {k: v.detach().clone().contiguous() for k, v in params.items()}
    records = ckpt["metrics"]
    evals = [r for r in records if "eval_accuracy" in r]
    provenance = {
        "name": name, "model": ckpt["model"], "method": config.method, "model_config": mc,
        "config": ckpt["config"], "dataset": ckpt["dataset"], "eval_dataset": ckpt.get("eval_dataset"),
        "steps": int(ckpt["step"]),
        "device": ckpt["device"], "world_size": ckpt["world_size"], "wall_time_s": round(ckpt["wall_time"], 1),
        "git_commit": _git_commit(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch": ckpt.get("torch", "?"), "num_params": int(flat.numel()),
        "final_metrics": records[-1] if records else None, "final_eval": evals[-1] if evals else None,
        # the meta-training curve, thinned to <= 300 points (plus every evaluation), for the book's plots
        "curve": [{k: r[k] for k in ("step", "loss", "accuracy") if k in r}
                  for r in records[::max(1, len(records) // 300)] if "loss" in r],
        "eval_curve": [{k: v for k, v in r.items() if k == "step" or k.startswith("eval_")} for r in evals],
    }
    return write_export(params, provenance, name, dest)


def check_export_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(f"name must be letters, digits, '_', '-', '.', got {name!r}")


def write_export(params: dict, provenance: dict, name: str, dest=None) -> tuple[Path, Path]:
    """Atomically write ``dest/NAME.pt`` (a dict of tensors) and ``dest/NAME.json`` (its provenance)."""
    check_export_name(name)
    dest = Path(dest) if dest is not None else PRETRAINED_DIR
    dest.mkdir(parents=True, exist_ok=True)
    pt, js = dest / f"{name}.pt", dest / f"{name}.json"
    _atomic_save(params, pt)
    _atomic_write_text(json.dumps(provenance, indent=2) + "\n", js)
    return pt, js


def pretrained_names(directory=None) -> list[str]:
    directory = Path(directory) if directory is not None else PRETRAINED_DIR
    return sorted(p.stem for p in directory.glob("*.pt"))


def load_pretrained(name: str, directory=None) -> tuple[dict, dict]:
    """``(params, provenance)`` of an exported V_M: a name in ``vsml/pretrained/`` or a ``.pt`` path.

    Raises ``FileNotFoundError`` (listing what exists) when missing and
    ``RuntimeError`` when the file is corrupted or not a vsml export.
    """
    directory = Path(directory) if directory is not None else PRETRAINED_DIR
    pt = Path(name) if str(name).endswith(".pt") else directory / f"{name}.pt"
    js = pt.with_suffix(".json")
    if not pt.is_file():
        raise FileNotFoundError(f"no pretrained parameters {pt}; available in {directory}: "
                                f"{', '.join(pretrained_names(directory)) or 'none'} "
                                f"(make one with `python -m vsml.meta export --run DIR --name NAME`)")
    hint = "re-export it with `python -m vsml.meta export --run DIR --name NAME`"
    try:
        params = torch.load(pt, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, garbage, pickled objects: all mean "do not trust it"
        raise RuntimeError(f"pretrained file {pt} is corrupted or not a vsml export ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}); {hint}") from None
    if not isinstance(params, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in params.items()):
        raise RuntimeError(f"pretrained file {pt} does not hold a dict of tensors; {hint}")
    try:
        provenance = json.loads(js.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{pt} has no provenance file {js}; {hint}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RuntimeError(f"provenance file {js} is corrupted ({exc}); {hint}") from None
    if provenance.get("model") == "vsml":
        want = param_shapes(VSMLConfig.from_dict(provenance["model_config"]).sub_lstm)
        got = {k: tuple(v.shape) for k, v in params.items()}
        if got != want:
            raise RuntimeError(f"pretrained file {pt} has parameters {got}, but its provenance describes "
                               f"{want}; {hint}")
    return params, provenance


def pretrained_network(name: str, layer_sizes=None, directory=None, **options):
    """``(VSMLNetwork, params, provenance)`` for an exported VSML V_M.

    The same V_M runs on any layer sizes (Section 4.3): ``layer_sizes`` (e.g.
    ``(784, 10)`` for a V_M meta-trained on 7x7 inputs) and ``options`` (other
    :class:`VSMLConfig` fields, e.g. ``state_clip=4``) replace the exported ones.
    """
    params, provenance = load_pretrained(name, directory)
    if provenance.get("model") != "vsml":
        raise ValueError(f"{name} holds a {provenance.get('model')!r} model, not a VSML RNN")
    values = dict(provenance["model_config"])
    if layer_sizes is not None:
        values["layer_sizes"] = tuple(layer_sizes)
    values.update(options)
    return VSMLNetwork(VSMLConfig.from_dict(values)), params, provenance


# --------------------------------------------------------------------------- CLI

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsml.meta", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_train = sub.add_parser("train", help="meta-train (Algorithm 1)")
    p_train.add_argument("--config", help=f"a shipped config ({', '.join(config_names())}) or a YAML path; "
                                           "optional with --resume")
    p_train.add_argument("--out", required=True, help="run folder for checkpoint.pt, metrics.jsonl, config.yaml")
    p_train.add_argument("--steps", type=int, default=None, help="total steps (overrides the config)")
    p_train.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    p_train.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config values")
    p_train.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_export = sub.add_parser("export", help="write a run's final V_M to vsml/pretrained/NAME.pt + .json")
    p_export.add_argument("--run", required=True)
    p_export.add_argument("--name", required=True)
    p_export.add_argument("--dest", default=None, help=f"folder (default {PRETRAINED_DIR})")
    sub.add_parser("list", help="shipped configs")
    args = parser.parse_args(argv)

    if args.cmd == "list":
        for name in config_names():
            first = (CONFIG_DIR / f"{name}.yaml").read_text().splitlines()[0].lstrip("# ")
            print(f"{name:10s} {first}")
        return 0
    if args.cmd == "export":
        try:
            pt, js = export(args.run, args.name, args.dest)
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {pt}\nwrote {js}")
        return 0

    try:
        if args.config is None and not args.resume:
            raise ValueError("--config is required (unless --resume continues an existing run)")
        config = load_config(args.config, args.set) if args.config is not None else None
        if config is None and args.set:
            raise ValueError("--set needs --config")
        result = train(config, args.out, steps=args.steps, resume=args.resume, progress=not args.no_progress)
    except NonFiniteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: python -m vsml.meta train --out {args.out} --resume", file=sys.stderr)
        return 130
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    last = result.metrics[-1] if result.metrics else {}
    print(f"vsml.meta: done at step {result.step}; last metrics {json.dumps(last)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

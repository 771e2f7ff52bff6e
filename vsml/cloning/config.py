"""The cloning run's configuration and the fixed layout of a cloned sub-LSTM (decisions D1, D2, D6-D9).

Paper: Section 3.2, Appendix B.1 and C.1; the decisions are listed in the
docstring of :mod:`vsml.cloning`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import config as configs
from ..config import ConfigMixin, coerce_fields, shipped_config_names, shipped_config_path
from ..lstm import SubLSTMConfig

FORMAT = "vsml.cloning/1"
CONFIG_DIR = Path(__file__).resolve().parent / "configs"   # named cloning configs (NAME.yaml)

W_DIM, B_DIM = 0, 1          # cell-state dimensions holding w/scale and b/scale (D1)
X_SLOT = E_SLOT = 0          # input slots of the forward / backward message (D2)
Y_SLOT = EPREV_SLOT = 0      # output slots of the forward / backward message (D2)
TARGETS = ("y", "dw", "db", "e_prev")
W_INIT = 3.0  # default initial |w| bound of shadow and VSML networks: U(-3, 3) (a shadow sweep: deep nets start faster)


@dataclass(frozen=True)
class CloningConfig(ConfigMixin):
    """Everything that defines a cloning run (and the network a cloned V_M drives).

    ``from_dict`` rejects unknown keys and converts values to the fields' types (:mod:`vsml.config`).
    """

    stage: str = "shallow"       # curriculum stage (D9): shallow | deep
    state_size: int = 64         # N for cloning (Appendix C)
    num_ticks: int = 2           # micro-ticks per forward and per backward pass
    state_scale: float = 4.0     # w, b stored as c / 4 (Appendix C, "Bounded states")
    lr: float = 1.0              # inner learning rate of the cloned SGD (D7), one for all layers (a shared V_M)
    logit_gain: float = 30.0     # prediction = G * last forward message (D6)
    bias_scale: float = 1.0      # db = -bias_scale lr e (1: Figure 4's rule; shadow_sweep: 0.01 learns better)
    w_init: float = W_INIT       # shadow and VSML networks start at w ~ U(-w_init, w_init), b = 0
    w_range: float = 4.0         # random w ~ U(-w_range, w_range)
    b_range: float | None = None  # random b ~ U(-b_range, b_range); None: w_range (as before this field)
    x_range: float = 3.0         # random x ~ U(-x_range, x_range) (pixels lie in [-0.42, 2.82])
    batch_size: int = 2048       # sub-LSTMs per regression step (forward and backward each)
    random_fraction: float = 0.5  # of the batch; the rest comes from shadow networks
    buffer_fraction: float = 0.5  # of the random part, (w, b) drawn from the state buffer
    buffer_size: int = 20_000
    shadow_reset: int = 400      # fresh shadow networks every this many steps
    shadow_batch: int = 64
    deep_own_fraction: float = 0.5  # deep stage: share of hidden-layer tuples from the VSML's own outputs
    steps: int = 20_000
    adam_lr: float = 3e-3
    final_adam_lr: float = 1e-4  # cosine decay of Adam's learning rate to this value
    grad_clip: float = 1.0
    seed: int = 0
    dataset: str = "mnist"       # shadow networks' data (Section 4.1: MNIST)
    checkpoint_every: int = 500
    log_every: int = 100
    eval_size: int = 8192        # fixed random tuples for the logged cloning errors

    def __post_init__(self):
        coerce_fields(self)
        if self.stage not in ("shallow", "deep"):
            raise ValueError(f"stage must be 'shallow' or 'deep', got {self.stage!r}")
        for name in ("state_size", "num_ticks", "batch_size", "steps", "shadow_reset", "shadow_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("random_fraction", "buffer_fraction", "deep_own_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.state_scale <= 0 or self.logit_gain <= 0 or self.lr < 0:
            raise ValueError("state_scale and logit_gain must be > 0 and lr >= 0")
        if self.bias_scale < 0 or self.w_init <= 0 or self.w_range <= 0:
            raise ValueError(f"bias_scale must be >= 0, w_init and w_range > 0; got {self.bias_scale}, "
                             f"{self.w_init}, {self.w_range}")
        if self.b_range is not None and self.b_range < 0:
            raise ValueError(f"b_range must be >= 0 or null, got {self.b_range}")

    @property
    def bias_range(self) -> float:
        """The range of random biases: ``b_range``, or ``w_range`` where it is not set."""
        return self.w_range if self.b_range is None else self.b_range

    @property
    def sub_lstm(self) -> SubLSTMConfig:
        return SubLSTMConfig(state_size=self.state_size)



# --------------------------------------------------------------------------- named configs (YAML)

def config_names() -> list[str]:
    """Names of the shipped cloning configs (``vsml/cloning/configs/*.yaml``)."""
    return shipped_config_names(CONFIG_DIR)


def config_path(name_or_path) -> Path:
    """A YAML file path, or the shipped cloning config of that name."""
    return shipped_config_path(CONFIG_DIR, name_or_path, "cloning config")


def load_config(name_or_path, overrides=None) -> CloningConfig:
    """The defaults with a YAML file's values (a shipped name or a path) and then ``overrides`` applied.

    A YAML file lists only what differs from the defaults; ``overrides`` is a dict
    or a list of ``"key=value"`` strings. Malformed YAML, unknown keys and bad
    values are one-line ``ValueError`` s (:mod:`vsml.config`).
    """
    path = config_path(name_or_path)
    values = CloningConfig().to_dict() | configs.load_yaml(path)
    try:
        return CloningConfig.from_dict(configs.apply_overrides(values, overrides))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None

"""vsml: Variable Shared Meta Learning (Kirsch & Schmidhuber, NeurIPS 2021) in PyTorch.

Modules, in the order the book introduces them:
``rnn`` (Eq. 1-6, Theorem 1), ``lstm`` (the shared sub-LSTM, Eq. 7/16),
``network`` (stacked layers, Algorithm 2), ``conv``/``conv_network`` (the
convolutional VSML layer and network, Appendix B.2), ``data``/``tasks`` (Section 4),
``online``/``evaluate`` (the meta-test protocol and its registry of learners),
``baselines``/``metarnn`` (online SGD/Adam, the Meta RNN), ``es``/``meta``
(Algorithm 1; ``meta.episode_pool``: Appendix B.2), ``cloning`` (Section 3.2),
``plots``, ``book`` / ``book_runner`` (chapter setup; the chapter runner), ``bench`` (speed). Shared machinery:
``config`` (one config mechanism), ``runloop`` (the run loop of meta-training
and cloning), ``runio`` (checkpoints, exports, provenance, shipped manifest),
``device``, ``memory``. The book's appendix "Design notes" has the full map.
"""
from .memory import apply_allocator_settings

apply_allocator_settings()  # peak memory independent of the episode length (see vsml.memory)

from .lstm import SubLSTMConfig, flatten_params, init_params, param_count, unflatten_params  # noqa: E402
from .network import EpisodeResult, NetworkState, VSMLConfig, VSMLNetwork  # noqa: E402
from .conv_network import ConvVSMLConfig, ConvVSMLNetwork  # noqa: E402

__all__ = ["SubLSTMConfig", "VSMLConfig", "VSMLNetwork", "NetworkState", "EpisodeResult",
           "ConvVSMLConfig", "ConvVSMLNetwork",
           "init_params", "param_count", "flatten_params", "unflatten_params"]
__version__ = "0.1.0"

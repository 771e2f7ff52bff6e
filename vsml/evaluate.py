"""The meta-test protocol and the registry of learners it compares (paper Sections 4.2, 4.4).

A learner sees one example at a time and predicts it before its label
arrives (scored by :mod:`vsml.online`: ``c_t`` = 1 where the prediction was
right). The paper plots the cumulative accuracy after ``T'`` examples,

    acc(T') = (1 / T') * sum_{t <= T'} c_t,

averaged over many meta-test runs (seeds) with a standard-deviation band
(Figures 6-8; Figure 8 reads it off at 2,000 examples, Figure 13 at 100).

:func:`meta_test` runs any registered learner on the same episodes: VSML
(Algorithm 2, :mod:`vsml.network`), the meta-learned baselines of Appendix C.2
(the Meta RNN, :mod:`vsml.metarnn`; Hebbian fast weights, :mod:`vsml.hebbian`;
FWMemory, :mod:`vsml.fwmemory`) and the gradient-descent baselines of :data:`BASELINES` (:mod:`vsml.baselines`).
Every summary takes curves shaped ``[P, T]``: ``P`` independent runs, ``T``
online steps. Plots of these curves are :mod:`vsml.plots`.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Sequence

import torch

from .baselines import online_sgd
from .conv_network import ConvVSMLConfig, ConvVSMLNetwork
from .fwmemory import FWMemoryConfig, fwmemory_episode
from .hebbian import HebbianConfig, hebbian_episode
from .metarnn import metarnn_episode
from .network import VSMLConfig, VSMLNetwork
from .online import cumulative_accuracy, online_metrics

__all__ = ["PAPER_HORIZONS", "BASELINES", "cumulative_accuracy", "online_metrics", "summarize", "accuracy_at",
           "meta_test", "plot_curves"]

PAPER_HORIZONS = (100, 2000)  # Figure 13 and Figure 8
FAST_WEIGHT_MODELS = {"hebbian": (HebbianConfig, hebbian_episode), "fwmemory": (FWMemoryConfig, fwmemory_episode)}


def _check_curves(curves: torch.Tensor) -> torch.Tensor:
    curves = torch.as_tensor(curves)
    if curves.dim() != 2 or curves.shape[0] == 0 or curves.shape[1] == 0:
        raise ValueError(f"curves must be [P, T] with P, T >= 1, got shape {tuple(curves.shape)}")
    return curves.float()


def summarize(curves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over runs: ``[P, T]`` -> (``[T]``, ``[T]``).

    The std is the sample std (``P - 1`` in the denominator); a single run gets 0.
    """
    curves = _check_curves(curves)
    std = curves.std(0) if curves.shape[0] > 1 else torch.zeros_like(curves[0])
    return curves.mean(0), std


def accuracy_at(curves: torch.Tensor,
                horizons: Sequence[int] = PAPER_HORIZONS) -> dict[int, tuple[float, float]]:
    """``{h: (mean, std)}`` of the curves after ``h`` examples (1-based, like the paper's x axis)."""
    mean, std = summarize(curves)
    T = mean.shape[0]
    out = {}
    for h in horizons:
        if not 1 <= h <= T:
            raise ValueError(f"horizon {h} is outside the curves' 1..{T} steps; "
                             f"run at least {h} examples or pass smaller horizons")
        out[int(h)] = (float(mean[h - 1]), float(std[h - 1]))
    return out


# ------------------------------------------------------------- meta-testing

BASELINES = {  # name -> online_sgd options (Appendix C.2: tuned lr 1e-2 SGD, 1e-3 Adam; 160 tanh hidden units)
    "SGD": dict(optimizer="sgd"),
    "Adam": dict(optimizer="adam"),
    "SGD, 160 hidden": dict(optimizer="sgd", hidden_size=160),
    "Adam, 160 hidden": dict(optimizer="adam", hidden_size=160),
}


def _shared_fields(config_class, values) -> dict:
    """The entries of ``values`` (a dict, ``None``, or another architecture's config dict) that
    ``config_class`` has: one V_M's export runs in the dense or the conv architecture."""
    if values is not None and not isinstance(values, dict):
        values = values.to_dict()
    names = {f.name for f in dataclasses.fields(config_class)}
    return {k: v for k, v in (values or {}).items() if k in names}


def conv_config_for(config, input_size: int, num_classes: int) -> ConvVSMLConfig:
    """``config`` (a ``ConvVSMLConfig``, a dict of its fields, ``None``: defaults) resized to episodes of
    ``input_size`` values and ``num_classes`` outputs. The input is read as square images with the config's
    channels, else one channel (MNIST-like), else three (CIFAR-like): one V_M runs on any of them."""
    if not isinstance(config, ConvVSMLConfig):
        config = ConvVSMLConfig.from_dict(_shared_fields(ConvVSMLConfig, config))
    for channels in dict.fromkeys((config.input_shape[0], 1, 3)):
        side = math.isqrt(input_size // channels)
        if channels * side * side == input_size:
            return dataclasses.replace(config, input_shape=(channels, side, side),
                                       dense_sizes=(*config.dense_sizes[:-1], num_classes))
    raise ValueError(f"{input_size} inputs are no square image of {config.input_shape[0]}, 1 or 3 channels "
                     f"for the conv VSML")


def meta_test(method: str, x: torch.Tensor, y: torch.Tensor, num_classes: int, *, params=None,
              vsml_config=None, model_config=None, seed: int = 0, progress: bool = False,
              lr: float | None = None) -> dict[str, torch.Tensor]:
    """Algorithm 2 / the baselines on episodes ``x [P, T, D]``, ``y [P, T]``: one run per episode.

    ``method`` is ``"vsml"`` (``params``: V_M dict, ``vsml_config``: a ``VSMLConfig`` or a dict of its
    fields such as an export's ``model_config``, whose layer sizes are set to ``D`` and ``num_classes`` here), ``"vsml_conv"``
    (the same V_M in the conv architecture of Appendix B.2, ``vsml_config``: a
    ``ConvVSMLConfig`` or dict whose input is set to ``[C, H, W]`` with ``C`` its
    channels and a square ``H = W`` giving ``D``, and whose last dense size is
    set to ``num_classes``), ``"metarnn"``
    (``params``: Meta RNN dict), ``"hebbian"`` or ``"fwmemory"`` (``params``: their
    dict; ``model_config``: their config, or a dict of its fields such as an
    export's ``model_config``; default: the config class's defaults), or a name in
    ``BASELINES``. VSML starts every run from fresh random states (seeded), the
    learned baselines from zero states, the SGD baselines from fresh random
    parameters; ``lr`` sets a baseline's learning rate (default: its Appendix C.2 rate). Returns
    ``correct``, ``loss``, ``cum_acc`` (``[P, T]``) and ``seconds``.
    """
    if lr is not None and method not in BASELINES:
        raise ValueError(f"lr is a gradient-descent baseline's learning rate; {method!r} learns without one")
    t0 = time.perf_counter()
    with torch.inference_mode():
        if method == "vsml":
            if params is None:
                raise ValueError("meta_test('vsml', ...) needs params (V_M)")
            cfg = vsml_config if isinstance(vsml_config, VSMLConfig) else VSMLConfig.from_dict(
                _shared_fields(VSMLConfig, vsml_config))
            cfg = dataclasses.replace(cfg, layer_sizes=(x.shape[-1], num_classes))
            res = VSMLNetwork(cfg).run_episode(params, x, y, generator=torch.Generator().manual_seed(seed),
                                               progress=progress)
            logits = res.logits
        elif method == "vsml_conv":
            if params is None:
                raise ValueError("meta_test('vsml_conv', ...) needs params (V_M)")
            net = ConvVSMLNetwork(conv_config_for(vsml_config, x.shape[-1], num_classes))
            logits = net.run_episode(params, x, y, generator=torch.Generator().manual_seed(seed),
                                     progress=progress).logits
        elif method == "metarnn":
            if params is None:
                raise ValueError("meta_test('metarnn', ...) needs the Meta RNN's params")
            logits = metarnn_episode(params, x, y)["logits"]
        elif method in FAST_WEIGHT_MODELS:
            if params is None:
                raise ValueError(f"meta_test({method!r}, ...) needs the baseline's params")
            config_class, episode = FAST_WEIGHT_MODELS[method]
            if not isinstance(model_config, config_class):
                model_config = config_class.from_dict({k: v for k, v in (model_config or {}).items()
                                                       if k not in ("input_size", "num_classes")})
            logits = episode(params, x, y, model_config)["logits"]
        elif method in BASELINES:
            logits = None
        else:
            raise ValueError(f"unknown method {method!r}; known: vsml, vsml_conv, metarnn, "
                             f"{', '.join([*FAST_WEIGHT_MODELS, *BASELINES])}")
    if logits is None:  # gradient-based baselines need autograd-free but not inference-mode tensors
        logits = online_sgd(x, y, num_classes, seed=seed, lr=lr, **BASELINES[method])["logits"]
    out = online_metrics(logits, y)
    out["seconds"] = torch.tensor(time.perf_counter() - t0)
    return out


def __getattr__(name):
    # The plotting helper moved to vsml.plots (which imports this module); the old import path still works.
    if name == "plot_curves":
        from .plots import plot_curves
        return plot_curves
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The models meta-training can learn, as functions of one flat parameter vector (Algorithm 1).

Paper: Section 3 (the VSML RNN, run online as in Algorithm 2), Appendix
C.2 (the Meta RNN and Hebbian baselines) and Section 4.4 (FWMemory). The
adapters take ``[D]`` (shared parameters, BPTT) or ``[P, D]`` (one row per ES population member) and return per-step
loss and correctness of the online predictions, so the estimators of
:mod:`vsml.meta.estimators` never look inside a model.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ..conv_network import ConvVSMLConfig, ConvVSMLNetwork
from ..flat_params import flatten, unflatten
from ..fwmemory import FWMemoryConfig, fwmemory_episode, fwmemory_init, fwmemory_param_shapes
from ..hebbian import HebbianConfig, hebbian_episode, hebbian_init, hebbian_param_shapes
from ..lstm import flatten_params, param_shapes, unflatten_params
from ..metarnn import MetaRNNConfig, metarnn_episode, metarnn_init, metarnn_param_shapes
from ..network import NetworkState, VSMLConfig, VSMLNetwork
from .episodes import derive_seed

if TYPE_CHECKING:
    from .config import MetaConfig


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

    def flatten(self, params: dict) -> torch.Tensor:
        return flatten_params(params, self.config.sub_lstm)

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
        owned = repeats > 1  # repeat_interleave copies; a state passed in is the caller's until the first step
        if owned:
            state = state.repeat_interleave(repeats)
        losses, correct = [], []
        for t in range(x.shape[1]):
            x_t, y_t = x[:, t], y[:, t]
            if repeats > 1:  # per step, so the population never holds repeated copies of the episode
                x_t, y_t = x_t.repeat_interleave(repeats, 0), y_t.repeat_interleave(repeats, 0)
            logits, loss, state = self.net.online_step(params, state, x_t, y_t, in_place=owned or t > 0)
            losses.append(loss)
            correct.append(logits.argmax(-1) == y_t)
        if return_state:
            return torch.stack(losses, 1), torch.stack(correct, 1), state
        return torch.stack(losses, 1), torch.stack(correct, 1)

    def model_config(self) -> dict:
        return self.config.to_dict()


class ConvVSMLModel(VSMLModel):
    """The conv VSML RNN (:mod:`vsml.conv_network`, Appendix B.2) as a function of a flat vector; same V_M as ``vsml``.

    Without ``input_shape`` in the options the data's inputs are read as one square channel
    (``784 -> [1, 28, 28]``); without ``dense_sizes`` one dense layer maps to the data's classes.
    """

    name = "vsml_conv"

    def __init__(self, options: dict, input_size: int, num_classes: int):
        options = dict(options)
        if "input_shape" not in options:
            side = math.isqrt(input_size)
            if side * side != input_size:
                raise ValueError(f"the data's {input_size} inputs are no square image: give "
                                 f"model_options.input_shape [C, H, W]")
            options["input_shape"] = (1, side, side)
        options.setdefault("dense_sizes", (num_classes,))
        self.config = ConvVSMLConfig.from_dict(options)
        if self.config.input_size != input_size or self.config.num_classes != num_classes:
            raise ValueError(f"model_options.input_shape {self.config.input_shape} and dense_sizes "
                             f"{self.config.dense_sizes} must give the data's {input_size} inputs and end with "
                             f"its {num_classes} classes")
        self.net = ConvVSMLNetwork(self.config)
        self.shapes = param_shapes(self.config.sub_lstm)


class FastWeightModel:
    """A learned baseline of Figure 8 (Meta RNN, HebbianFW, FWMemory) as a function of a flat vector.

    Its state (LSTM, fast weights, memory) starts at zero in every episode;
    subclasses name the module's config class and functions.
    """

    name = config_class = None
    param_shapes = init = episode = None  # staticmethods of the module's functions

    def __init__(self, options: dict, input_size: int, num_classes: int):
        self.config = self.config_class.from_dict(options)
        self.input_size, self.num_classes = input_size, num_classes
        self.shapes = self.param_shapes(input_size, num_classes, self.config)

    def init_flat(self, seed: int) -> torch.Tensor:
        params = self.init(self.input_size, self.num_classes, self.config, torch.Generator().manual_seed(seed))
        return flatten(params, self.shapes)

    def unflatten(self, flat: torch.Tensor) -> dict:
        return unflatten(flat, self.shapes)

    def flatten(self, params: dict) -> torch.Tensor:
        return flatten(params, self.shapes)

    def initial_state(self, seeds, device):
        return None

    def run(self, flat, x, y, state, repeats: int = 1):
        if repeats > 1:
            x, y = x.repeat_interleave(repeats, 0), y.repeat_interleave(repeats, 0)
        out = self.episode(self.unflatten(flat), x, y, self.config)
        return out["loss"], out["correct"]

    def model_config(self) -> dict:
        return {"input_size": self.input_size, "num_classes": self.num_classes, **self.config.to_dict()}


class MetaRNNModel(FastWeightModel):
    """The Meta RNN baseline (:mod:`vsml.metarnn`, Appendix C.2)."""

    name, config_class = "metarnn", MetaRNNConfig
    param_shapes = staticmethod(lambda D, C, cfg: metarnn_param_shapes(D, C, cfg.hidden_size, cfg.feed_label))
    init = staticmethod(lambda D, C, cfg, generator: metarnn_init(D, C, cfg.hidden_size, generator, cfg.feed_label))
    episode = staticmethod(lambda params, x, y, cfg: metarnn_episode(
        params, x, y, num_micro_ticks=cfg.num_micro_ticks, output_bound=cfg.output_bound))


class HebbianModel(FastWeightModel):
    """Hebbian fast weights (:mod:`vsml.hebbian`)."""

    name, config_class = "hebbian", HebbianConfig
    param_shapes, init = staticmethod(hebbian_param_shapes), staticmethod(hebbian_init)
    episode = staticmethod(hebbian_episode)


class FWMemoryModel(FastWeightModel):
    """The LSTM with a fast-weight memory (:mod:`vsml.fwmemory`)."""

    name, config_class = "fwmemory", FWMemoryConfig
    param_shapes, init = staticmethod(fwmemory_param_shapes), staticmethod(fwmemory_init)
    episode = staticmethod(fwmemory_episode)


MODEL_CLASSES = {"vsml": VSMLModel, "vsml_conv": ConvVSMLModel, "metarnn": MetaRNNModel, "hebbian": HebbianModel,
                 "fwmemory": FWMemoryModel}


def build_model(config: MetaConfig, input_size: int, num_classes: int):
    """The adapter of ``config.model`` (:data:`MODEL_CLASSES`) for data of this input size and class count."""
    return MODEL_CLASSES[config.model](config.model_options, input_size, num_classes)


def model_shapes(model_name: str, model_config: dict) -> dict:
    """Parameter shapes of an exported model from its ``model_config`` (as :meth:`model_config` wrote it)."""
    if model_name in ("vsml", "vsml_conv"):
        config_class = VSMLConfig if model_name == "vsml" else ConvVSMLConfig
        return param_shapes(config_class.from_dict(model_config).sub_lstm)
    options = {k: v for k, v in model_config.items() if k not in ("input_size", "num_classes")}
    return MODEL_CLASSES[model_name](options, model_config["input_size"], model_config["num_classes"]).shapes

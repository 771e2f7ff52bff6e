"""A convolutional VSML RNN: one convolutional VSML layer, then dense VSML layers (Appendix B.2, Figures 20-21).

Paper: Appendix B.2 ("a convolutional layer with kernel size 3, stride 2, and 8
channels, followed by a dense layer") and Algorithm 2 for the online run. The
convolutional layer is :class:`vsml.conv.ConvTick`; the dense layers, the
prediction, the error feedback and the episode loop are those of
:class:`vsml.network.VSMLNetwork`, which this class extends. All layers share
one ``V_M`` (the same 2,384 numbers as the dense network, so one V_M runs in
either architecture).

Per example: the flattened image ``x_t`` (``C x H x W`` values, channel-major
as the data loaders give them) goes into slot 0 of the conv layer's forward
messages, one per input channel and position; the conv layer's forward
messages ``[C_out, H_o, W_o]`` are flattened in that order into the first
dense layer's inputs; that layer's backward message, reshaped back, reaches
the conv layer with the next example. The conv layer's own backward message
has no receiver (it is the first layer).

Padding defaults to 1, which gives the authors' output size (``28 x 28 ->
14 x 14`` for kernel 3, stride 2); positions over the padding are no
sub-LSTM instances (:mod:`vsml.conv`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .config import ConfigMixin, coerce_fields
from .conv import ConvGeometry, ConvTick, init_conv_state
from .dense_tick import DenseTick
from .lstm import SubLSTMConfig, param_count
from .network import NetworkState, VSMLConfig, VSMLNetwork, check_step_input


@dataclass(frozen=True)
class ConvVSMLConfig(ConfigMixin):
    """A conv VSML RNN: the conv layer's geometry, the dense sizes after it, and :class:`VSMLConfig`'s run options."""

    input_shape: tuple[int, ...] = (1, 28, 28)  # C_in, H, W of one example
    out_channels: int = 8          # C_out of the conv layer
    kernel_size: int = 3
    stride: int = 2
    padding: int = 1
    dense_sizes: tuple[int, ...] = (10,)  # outputs of the dense layers after the conv (the last: classes)
    sub_lstm: SubLSTMConfig = field(default_factory=SubLSTMConfig)
    num_micro_ticks: int = 2
    output_bound: float = 100.0
    output_slot: int = 1
    feed_label: bool = False
    state_clip: float | None = None
    init_rand_proportion: float = 0.5
    compile: bool = False          # torch.compile for the conv and dense ticks (inference only)

    def __post_init__(self):
        coerce_fields(self)
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise ValueError(f"input_shape must be [C, H, W] with sizes >= 1, got {self.input_shape}")
        if self.out_channels < 1:
            raise ValueError(f"out_channels must be >= 1, got {self.out_channels}")
        if len(self.dense_sizes) < 1:
            raise ValueError("dense_sizes needs at least the number of classes")
        self.geometry()
        self.dense_config()  # validates the run options and the dense sizes

    def geometry(self) -> ConvGeometry:
        return ConvGeometry(self.input_shape[1:], self.kernel_size, self.stride, self.padding)

    def dense_config(self) -> VSMLConfig:
        """The dense layers after the conv layer, as a :class:`VSMLConfig`."""
        conv_out = self.out_channels * math.prod(self.geometry().out_size)
        return VSMLConfig(layer_sizes=(conv_out, *self.dense_sizes), sub_lstm=self.sub_lstm,
                          num_micro_ticks=self.num_micro_ticks, output_bound=self.output_bound,
                          output_slot=self.output_slot, feed_label=self.feed_label, state_clip=self.state_clip,
                          init_rand_proportion=self.init_rand_proportion, compile=self.compile)

    @property
    def input_size(self) -> int:
        return math.prod(self.input_shape)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Network input size and dense sizes, the two ends :class:`VSMLNetwork`'s checks read."""
        return (self.input_size, *self.dense_sizes)

    @property
    def num_classes(self) -> int:
        return self.dense_sizes[-1]

    def num_learned(self) -> int:
        """|V_L|: state entries (h and c) of the conv kernel's and the dense layers' sub-LSTMs."""
        conv = self.input_shape[0] * self.kernel_size ** 2 * self.out_channels * 2 * self.sub_lstm.state_size
        return conv + self.dense_config().num_learned()


class ConvVSMLNetwork(VSMLNetwork):
    """A conv VSML layer followed by dense VSML layers, all sharing one sub-LSTM.

    >>> net = ConvVSMLNetwork(ConvVSMLConfig())     # 1x28x28 -> 8x14x14 -> 10
    >>> res = net.run_episode(net.init_params(0), x, y)  # x [P, T, 784], y [P, T]
    """

    def __init__(self, config: ConvVSMLConfig | None = None, **options):
        if config is None:
            config = ConvVSMLConfig.from_dict(options)
        elif options:
            raise ValueError("pass either a ConvVSMLConfig or keyword options, not both")
        self.config = config
        self.dense = VSMLNetwork(config.dense_config())
        self.tick = DenseTick(config.sub_lstm, config.num_micro_ticks, config.state_clip, config.compile)
        self.conv = ConvTick(config.sub_lstm, config.input_shape[1:], config.kernel_size, config.stride,
                             config.padding, config.num_micro_ticks, config.state_clip, config.compile)

    def __repr__(self) -> str:
        c = self.config
        out = "x".join(map(str, (c.out_channels, *self.conv.geom.out_size)))
        return (f"ConvVSMLNetwork({'x'.join(map(str, c.input_shape))} -conv{c.kernel_size}/s{c.stride}-> {out} "
                f"-> {'x'.join(map(str, c.dense_sizes))}, N={c.sub_lstm.state_size}, "
                f"|V_M|={param_count(c.sub_lstm):,}, |V_L|={c.num_learned():,})")

    def init_state(self, batch_size: int, generator: torch.Generator | None = None,
                   device=None, dtype: torch.dtype = torch.float32) -> NetworkState:
        """Fresh V_L: the conv kernel's states (:func:`vsml.conv.init_conv_state`), then the dense layers'."""
        cfg = self.config
        h, c = init_conv_state(self.conv, batch_size, cfg.input_shape[0], cfg.out_channels,
                               cfg.init_rand_proportion, generator, device, dtype)
        bwd = torch.zeros(batch_size, cfg.out_channels, *self.conv.geom.out_size, cfg.sub_lstm.bwd_size,
                          dtype=dtype, device=device)
        dense = self.dense.init_state(batch_size, generator, device, dtype)
        return NetworkState([h, *dense.h], [c, *dense.c], [bwd, *dense.bwd_in])

    def forward(self, params, state: NetworkState, x_t: torch.Tensor,
                in_place: bool = False) -> tuple[torch.Tensor, NetworkState]:
        """Feed one flattened image ``x_t [P, C*H*W]`` through the conv and the dense layers.

        ``in_place``: as in ``VSMLNetwork.forward`` (the dense layers; the conv layer allocates).
        """
        cfg = self.config
        P = state.batch_size
        check_step_input(x_t, P, cfg.input_size, "[P, C*H*W]", f"input shape {tuple(cfg.input_shape)}")
        fwd = x_t.new_zeros(P, *cfg.input_shape, cfg.sub_lstm.fwd_size)
        fwd[..., 0] = x_t.reshape(P, *cfg.input_shape)
        h, c, bwd_in = list(state.h), list(state.c), list(state.bwd_in)
        h[0], c[0], fwd, _ = self.conv(params, h[0], c[0], fwd, bwd_in[0])  # the first layer's bwd_out: no receiver
        fwd = fwd.reshape(P, -1, cfg.sub_lstm.fwd_size)
        for k in range(1, len(h)):
            h[k], c[k], fwd, bwd_out = self.tick(params, h[k], c[k], fwd, bwd_in[k], in_place=in_place)
            bwd_in[k - 1] = bwd_out.reshape(bwd_in[k - 1].shape)  # reaches layer k-1 with the next example
        y = fwd[..., cfg.output_slot]
        logits = cfg.output_bound * torch.tanh(y / cfg.output_bound)
        return logits, NetworkState(h, c, bwd_in)

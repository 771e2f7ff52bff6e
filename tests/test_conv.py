"""The convolutional VSML layer and network (vsml/conv.py, vsml/conv_network.py; Appendix B.2)."""
import itertools

import pytest
import torch

from vsml import meta
from vsml.conv import ConvGeometry, ConvTick
from vsml.conv_network import ConvVSMLConfig, ConvVSMLNetwork
from vsml.dense_tick import DenseTick
from vsml.lstm import SubLSTMConfig, dense_tick_reference, param_count, unflatten_params

from tiny_tasks import assert_segments_equal_one_pass, remember_the_class, tiny

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def random_inputs(cfg, P, C_in, C_out, in_size, kernel, out_size, members=None, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    rand = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    flat = 0.5 * rand(*(() if members is None else (members,)), param_count(cfg))
    params = unflatten_params(flat, cfg)
    h = rand(P, C_in, *kernel, C_out, cfg.state_size).tanh()
    c = rand(P, C_in, *kernel, C_out, cfg.state_size)
    fwd = rand(P, C_in, *in_size, cfg.fwd_size)
    bwd = rand(P, C_out, *out_size, cfg.bwd_size)
    return params, h, c, fwd, bwd


def conv_tick_loop(params, cfg, h, c, fwd_in, bwd_in, kernel, stride, padding, num_ticks, state_clip=None):
    """The straightforward formulation: loops over batch, output positions and kernel elements; every
    instance applies one affine map to its concatenated ``[fwd, bwd, h]`` and projects its own messages."""
    P, C_in, Kh, Kw, C_out, N = h.shape
    H, W = fwd_in.shape[2:4]
    Ho, Wo = (H + 2 * padding - Kh) // stride + 1, (W + 2 * padding - Kw) // stride + 1
    offsets = torch.zeros(4 * N, dtype=h.dtype)
    offsets[:N], offsets[2 * N:3 * N] = cfg.input_bias, cfg.forget_bias
    h_out, c_out = torch.empty_like(h), torch.empty_like(c)
    fwd_out = torch.zeros(P, C_out, Ho, Wo, cfg.fwd_size, dtype=h.dtype)
    bwd_out = torch.zeros(P, C_in, H, W, cfg.bwd_size, dtype=h.dtype)
    for p in range(P):
        prm = {k: (v[p] if v.dim() > 1 and params["lstm_b"].dim() == 2 else v) for k, v in params.items()}

        def message(kind, state):
            m = state @ prm[f"{kind}_w"] + prm[f"{kind}_b"]
            if cfg.layer_norm:
                m = torch.nn.functional.layer_norm(m, m.shape[-1:]) * prm[f"{kind}_ln_scale"] + prm[f"{kind}_ln_bias"]
            return m

        hp, cp = h[p], c[p]
        for _ in range(num_ticks):
            sums_h, sums_c, counts = torch.zeros_like(hp), torch.zeros_like(cp), torch.zeros(Kh, Kw, dtype=h.dtype)
            instances = []  # (oy, ox, ky, kx, iy, ix, h of the instance [C_in, C_out, N])
            for oy, ox, ky, kx in itertools.product(range(Ho), range(Wo), range(Kh), range(Kw)):
                iy, ix = oy * stride + ky - padding, ox * stride + kx - padding
                if not (0 <= iy < H and 0 <= ix < W):
                    continue  # over the padding: no instance
                for ci, co in itertools.product(range(C_in), range(C_out)):
                    x = torch.cat([fwd_in[p, ci, iy, ix], bwd_in[p, co, oy, ox], hp[ci, ky, kx, co]])
                    i, gg, f, o = (x @ prm["lstm_w"] + prm["lstm_b"] + offsets).chunk(4)
                    cell = torch.sigmoid(f) * cp[ci, ky, kx, co] + torch.sigmoid(i) * torch.tanh(gg)
                    if state_clip is not None:
                        cell = cell.clamp(-state_clip, state_clip)
                    hid = torch.sigmoid(o) * torch.tanh(cell)
                    sums_h[ci, ky, kx, co] += hid
                    sums_c[ci, ky, kx, co] += cell
                    instances.append((oy, ox, iy, ix, ci, co, hid))
                counts[ky, kx] += 1
            hp = sums_h / counts[None, :, :, None, None]
            cp = sums_c / counts[None, :, :, None, None]
        h_out[p], c_out[p] = hp, cp
        fwd_lists, bwd_lists = {}, {}
        for oy, ox, iy, ix, ci, co, hid in instances:  # the last micro-tick's instances
            fwd_lists.setdefault((co, oy, ox), []).append(message("fwd", hid))
            bwd_lists.setdefault((ci, iy, ix), []).append(message("bwd", hid))
        for (co, oy, ox), ms in fwd_lists.items():
            fwd_out[p, co, oy, ox] = torch.stack(ms).mean(0)
        for (ci, iy, ix), ms in bwd_lists.items():
            bwd_out[p, ci, iy, ix] = torch.stack(ms).mean(0)
    return h_out, c_out, fwd_out, bwd_out


# ------------------------------------------------------------------- exactness

@pytest.mark.parametrize("layer_norm,members,clip", [(False, None, None), (True, 2, None), (False, 2, 0.5)])
@pytest.mark.parametrize("in_size,kernel,stride,padding", [((5, 5), (3, 3), 2, 1), ((4, 6), (2, 3), 1, 0),
                                                           ((6, 5), (3, 3), 2, 0), ((5, 4), (3, 2), 3, 1)])
def test_conv_tick_equals_the_loop_formulation(layer_norm, members, clip, in_size, kernel, stride, padding):
    cfg = SubLSTMConfig(layer_norm=layer_norm)
    tick = ConvTick(cfg, in_size, kernel, stride, padding, num_ticks=2, state_clip=clip)
    P, C_in, C_out = 2, 2, 3
    inputs = random_inputs(cfg, P, C_in, C_out, in_size, kernel, tick.geom.out_size, members)
    fast = tick(*inputs)
    ref = conv_tick_loop(*inputs[:1], cfg, *inputs[1:], kernel, stride, padding, 2, clip)
    for name, a, b in zip(("h", "c", "fwd_out", "bwd_out"), fast, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=name)


def _conv_kernel_or_skip():
    import warnings

    from vsml.kernels import cpu_conv
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if cpu_conv.library(16) is None:
            pytest.skip("no C++ compiler could build the CPU conv kernel")


@pytest.mark.parametrize("layer_norm,members,clip", [(False, None, None), (True, 2, None), (False, 2, 0.5),
                                                     (True, None, 0.5)])
@pytest.mark.parametrize("in_size,kernel,stride,padding", [((5, 5), (3, 3), 2, 1), ((4, 6), (2, 3), 1, 0),
                                                           ((6, 5), (3, 3), 2, 0), ((5, 4), (3, 2), 3, 1)])
def test_cpu_conv_kernel_equals_the_loop_formulation(layer_norm, members, clip, in_size, kernel, stride, padding):
    """The fused C++ kernel (float32, the default for inference on the CPU) against the float64 loops."""
    _conv_kernel_or_skip()
    cfg = SubLSTMConfig(layer_norm=layer_norm)
    tick = ConvTick(cfg, in_size, kernel, stride, padding, num_ticks=2, state_clip=clip, backend="kernel")
    inputs = random_inputs(cfg, 2, 2, 3, in_size, kernel, tick.geom.out_size, members)
    ref = conv_tick_loop(*inputs[:1], cfg, *inputs[1:], kernel, stride, padding, 2, clip)
    params, *states = inputs
    with torch.no_grad():
        fast = tick({k: v.float() for k, v in params.items()}, *[t.float() for t in states])
    for name, a, b in zip(("h", "c", "fwd_out", "bwd_out"), fast, ref):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=2e-6, msg=name)


def test_cpu_conv_kernel_is_the_inference_default_and_does_not_depend_on_threads():
    from vsml.kernels import cpu_conv
    _conv_kernel_or_skip()
    cfg = SubLSTMConfig()
    tick = ConvTick(cfg, (7, 7), 3, 2, 1)
    params, h, c, fwd, bwd = random_inputs(cfg, 3, 1, 4, (7, 7), (3, 3), tick.geom.out_size, dtype=torch.float32)
    calls = []
    real = cpu_conv.conv_ticks

    def counted(*args, **kwargs):
        calls.append(kwargs.get("threads"))
        return real(*args, **kwargs)

    with torch.no_grad():
        one = real(params, cfg, tick.geom, tick.geom.instance_mask(h), h, c,
                   *_projections(params, cfg, fwd, bwd), 2, None, threads=1)
        two = real(params, cfg, tick.geom, tick.geom.instance_mask(h), h, c,
                   *_projections(params, cfg, fwd, bwd), 2, None, threads=2)
        for a, b in zip(one, two):
            assert torch.equal(a, b)
        cpu_conv.conv_ticks = counted
        try:
            tick(params, h, c, fwd, bwd)
        finally:
            cpu_conv.conv_ticks = real
    assert len(calls) == 1


def _projections(params, cfg, fwd, bwd):
    from vsml.lstm import _gate_offsets, _project
    w = params["lstm_w"]
    bias = params["lstm_b"] + _gate_offsets(cfg, params["lstm_b"])
    return (_project(fwd, w[..., :cfg.fwd_size, :], None, None),
            _project(bwd, w[..., cfg.fwd_size:cfg.fwd_size + cfg.bwd_size, :], bias, None))


def test_conv_kernel_backend_needs_inference():
    _conv_kernel_or_skip()
    cfg = SubLSTMConfig()
    tick = ConvTick(cfg, (5, 5), 3, 2, 1, backend="kernel")
    params, h, c, fwd, bwd = random_inputs(cfg, 1, 1, 2, (5, 5), (3, 3), tick.geom.out_size, dtype=torch.float32)
    h.requires_grad_(True)
    with pytest.raises(RuntimeError, match="conv kernel does not apply"):
        tick(params, h, c, fwd, bwd)
    with pytest.raises(ValueError, match="backend must be one of"):
        ConvTick(cfg, (5, 5), 3, backend="fast")
    out = ConvTick(cfg, (5, 5), 3, 2, 1)(params, h, c, fwd, bwd)  # auto: autograd records -> PyTorch
    out[0].sum().backward()
    assert h.grad is not None


def test_conv_network_episode_with_the_kernel_equals_the_pytorch_path():
    _conv_kernel_or_skip()
    net = ConvVSMLNetwork(ConvVSMLConfig(input_shape=(1, 7, 7), out_channels=4, dense_sizes=(10,)))
    params = net.init_params(0)
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 12, 49, generator=g), torch.randint(0, 10, (2, 12), generator=g)
    with torch.no_grad():
        fast = net.run_episode(params, x, y, generator=torch.Generator().manual_seed(2))
        net.conv.backend = "torch"
        slow = net.run_episode(params, x, y, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(fast.logits, slow.logits, rtol=1e-4, atol=1e-5)


def test_some_inputs_are_untouched_and_get_zero_backward_messages():
    # 6 wide, kernel 3, stride 2, no padding: outputs see columns 0-2 and 2-4; column 5 is never touched.
    cfg = SubLSTMConfig()
    tick = ConvTick(cfg, (3, 6), 3, 2, 0, num_ticks=1)
    _, _, _, bwd = tick(*random_inputs(cfg, 1, 1, 2, (3, 6), (3, 3), tick.geom.out_size))
    assert bwd[:, :, :, 5].abs().max() == 0 and bwd[:, :, :, :5].abs().min() > 0


@pytest.mark.parametrize("layer_norm,members", [(False, None), (True, 3)])
def test_kernel_over_the_whole_input_is_the_dense_layer(layer_norm, members):
    # stride 1, kernel = input size, no padding: one output position; A = (c_in, y, x), B = c_out.
    cfg = SubLSTMConfig(layer_norm=layer_norm)
    P, C_in, C_out, H, W = 3, 2, 5, 3, 4
    tick = ConvTick(cfg, (H, W), (H, W), 1, 0, num_ticks=3)
    params, h, c, fwd, bwd = random_inputs(cfg, P, C_in, C_out, (H, W), (H, W), (1, 1), members)
    conv_out = tick(params, h, c, fwd, bwd)
    A = C_in * H * W
    dense_in = (params, h.reshape(P, A, C_out, -1), c.reshape(P, A, C_out, -1), fwd.reshape(P, A, -1),
                bwd.reshape(P, C_out, -1))
    for dense_out in (dense_tick_reference(*dense_in[:1], cfg, *dense_in[1:], num_ticks=3),
                      DenseTick(cfg, num_ticks=3, backend="torch")(*dense_in)):
        for a, b in zip(conv_out, dense_out):
            torch.testing.assert_close(a.reshape(b.shape), b, rtol=0, atol=1e-12)


def test_permuting_input_or_output_channels_with_their_states_permutes_the_results():
    cfg = SubLSTMConfig()
    tick = ConvTick(cfg, (5, 5), 3, 2, 1)
    params, h, c, fwd, bwd = random_inputs(cfg, 2, 4, 3, (5, 5), (3, 3), tick.geom.out_size)
    h1, c1, fwd1, bwd1 = tick(params, h, c, fwd, bwd)
    pi = torch.tensor([2, 0, 3, 1])  # input channels, with their states and incoming messages
    h2, c2, fwd2, bwd2 = tick(params, h[:, pi], c[:, pi], fwd[:, pi], bwd)
    for a, b in ((h2, h1[:, pi]), (c2, c1[:, pi]), (fwd2, fwd1), (bwd2, bwd1[:, pi])):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    po = torch.tensor([1, 2, 0])  # output channels
    h3, c3, fwd3, bwd3 = tick(params, h[:, :, :, :, po], c[:, :, :, :, po], fwd, bwd[:, po])
    for a, b in ((h3, h1[:, :, :, :, po]), (c3, c1[:, :, :, :, po]), (fwd3, fwd1[:, po]), (bwd3, bwd1)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


# ------------------------------------------------------------------- routing

def window(geom: ConvGeometry, oy: int, ox: int) -> torch.Tensor:
    """Boolean ``[H, W]``: the inputs output ``(oy, ox)`` sees."""
    inside = torch.zeros(geom.in_size, dtype=torch.bool)
    (sy, sx), (py, px), (ky, kx) = geom.stride, geom.padding, geom.kernel
    inside[max(oy * sy - py, 0):oy * sy - py + ky, max(ox * sx - px, 0):ox * sx - px + kx] = True
    return inside


@pytest.mark.parametrize("in_size,kernel,stride,padding", [((9, 9), 3, 2, 1), ((8, 7), 3, 2, 0), ((6, 6), 2, 1, 0)])
def test_messages_reach_exactly_the_positions_of_the_window(in_size, kernel, stride, padding):
    # One micro-tick, so no state sharing across positions can carry a message further. The authors' layer
    # masks backward messages with `index < width // stride` on stride multiples: with stride 2 the lower and
    # right halves would get none. Every output position is checked here, the last ones included.
    cfg = SubLSTMConfig()
    tick = ConvTick(cfg, in_size, kernel, stride, padding, num_ticks=1)
    geom = tick.geom
    params, h, c, fwd, bwd = random_inputs(cfg, 1, 2, 3, in_size, geom.kernel, geom.out_size)
    _, _, fwd0, bwd0 = tick(params, h, c, fwd, bwd)
    for oy, ox in itertools.product(*map(range, geom.out_size)):
        bumped = bwd.clone()
        bumped[:, 1, oy, ox] += 1.0  # one output channel at one position
        changed = (tick(params, h, c, fwd, bumped)[3] - bwd0).abs().amax(dim=(0, 1, 4)) > 0
        assert torch.equal(changed, window(geom, oy, ox)), (oy, ox)
    for iy, ix in itertools.product(*map(range, geom.in_size)):
        bumped = fwd.clone()
        bumped[:, 0, iy, ix] += 1.0
        changed = (tick(params, h, c, bumped, bwd)[2] - fwd0).abs().amax(dim=(0, 1, 4)) > 0
        seen_by = torch.tensor([[bool(window(geom, oy, ox)[iy, ix]) for ox in range(geom.out_size[1])]
                                for oy in range(geom.out_size[0])])
        assert torch.equal(changed, seen_by), (iy, ix)


def test_the_shared_state_spreads_messages_over_micro_ticks():
    # With 2 micro-ticks the second tick starts from the state averaged over all positions.
    cfg = SubLSTMConfig()
    tick = ConvTick(cfg, (9, 9), 3, 2, 1, num_ticks=2)
    params, h, c, fwd, bwd = random_inputs(cfg, 1, 1, 2, (9, 9), (3, 3), tick.geom.out_size)
    bumped = bwd.clone()
    bumped[:, 0, 0, 0] += 1.0
    assert ((tick(params, h, c, fwd, bumped)[3] - tick(params, h, c, fwd, bwd)[3]).abs() > 0).all()


# ------------------------------------------------------------------- network, shapes, errors

@pytest.mark.parametrize("members", [None, 3])
def test_network_episode_shapes_with_batch_and_population(members):
    cfg = ConvVSMLConfig(input_shape=(2, 7, 6), out_channels=3, dense_sizes=(5, 4))
    net = ConvVSMLNetwork(cfg)
    g = torch.Generator().manual_seed(0)
    params = net.init_params(0)
    if members is not None:
        params = {k: v.expand(members, *v.shape).clone() for k, v in params.items()}
    x, y = torch.rand(3, 4, 84, generator=g), torch.randint(0, 4, (3, 4), generator=g)
    res = net.run_episode(params, x, y, generator=g)
    assert res.logits.shape == (3, 4, 4) and torch.isfinite(res.loss).all()
    Ho, Wo = net.conv.geom.out_size
    assert (Ho, Wo) == (4, 3)
    assert [tuple(t.shape) for t in res.state.h] == [(3, 2, 3, 3, 3, 16), (3, 3 * Ho * Wo, 5, 16), (3, 5, 4, 16)]
    assert [tuple(t.shape) for t in res.state.bwd_in] == [(3, 3, Ho, Wo, 8), (3, 5, 8), (3, 4, 8)]
    assert res.state.bwd_in[0].abs().max() > 0  # the dense layer's backward message reaches the conv layer


def test_network_with_a_whole_input_kernel_is_the_dense_network():
    # Episode level: conv 1x4x4 -> 3x1x1 (kernel 4, stride 1) then dense 3 -> 2 equals the dense 16 -> 3 -> 2
    # network; same initial states (same draws), so this also checks the conv <-> dense message reshapes.
    from vsml import VSMLConfig, VSMLNetwork
    conv_net = ConvVSMLNetwork(input_shape=(1, 4, 4), out_channels=3, kernel_size=4, stride=1, padding=0,
                               dense_sizes=(2,), feed_label=True)
    dense_net = VSMLNetwork(VSMLConfig(layer_sizes=(16, 3, 2), feed_label=True))
    params = {k: v.double() for k, v in conv_net.init_params(0).items()}
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 6, 16, generator=g, dtype=F64), torch.randint(0, 2, (2, 6), generator=g)
    a = conv_net.run_episode(params, x, y, generator=torch.Generator().manual_seed(1))
    b = dense_net.run_episode(params, x, y, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=1e-12)
    for s_conv, s_dense in zip(a.state.c, b.state.c):
        torch.testing.assert_close(s_conv.reshape(s_dense.shape), s_dense, rtol=0, atol=1e-12)
    assert a.logits.std() > 0


def test_paper_geometry():
    net = ConvVSMLNetwork()  # Appendix B.2: kernel 3, stride 2, 8 channels, then a dense layer
    assert net.conv.geom.out_size == (14, 14) and net.dense.config.layer_sizes == (8 * 14 * 14, 10)
    assert "1x28x28" in repr(net)


def test_bad_shapes_give_clear_errors():
    cfg = SubLSTMConfig()
    with pytest.raises(ValueError, match="does not fit the input"):
        ConvTick(cfg, (2, 2), 3)
    with pytest.raises(ValueError, match="padding"):
        ConvTick(cfg, (5, 5), 3, 1, 3)
    with pytest.raises(ValueError, match="stride"):
        ConvTick(cfg, (5, 5), 3, 0)
    with pytest.raises(ValueError, match="pair of ints"):
        ConvTick(cfg, (5, 5, 5), 3)
    tick = ConvTick(cfg, (5, 5), 3, 2, 1)
    params, h, c, fwd, bwd = random_inputs(cfg, 2, 1, 2, (5, 5), (3, 3), tick.geom.out_size)
    with pytest.raises(ValueError, match=r"fwd_in must be \(2, 1, 5, 5, 8\)"):
        tick(params, h, c, fwd[:, :, :4], bwd)
    with pytest.raises(ValueError, match=r"bwd_in must be \(2, 2, 3, 3, 8\)"):
        tick(params, h, c, fwd, bwd[:, :, :2])
    with pytest.raises(ValueError, match="6 dims"):
        tick(params, h[0], c, fwd, bwd)
    with pytest.raises(ValueError, match="members"):
        tick({k: v.expand(3, *v.shape) for k, v in params.items()}, h, c, fwd, bwd)
    with pytest.raises(ValueError, match="input_shape"):
        ConvVSMLConfig(input_shape=(28, 28))
    with pytest.raises(ValueError, match="unknown"):
        ConvVSMLConfig.from_dict({"layer_sizes": [784, 10]})
    net = ConvVSMLNetwork(input_shape=(1, 5, 5), dense_sizes=(3,))
    with pytest.raises(ValueError, match=r"\[P, T, 25\]"):
        net.run_episode(net.init_params(0), torch.rand(1, 2, 24), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="no square image"):
        meta.build_model(tiny(model="vsml_conv"), 12, 2)
    with pytest.raises(ValueError, match="data's 16 inputs"):
        meta.build_model(tiny(model="vsml_conv", model_options={"input_shape": [1, 3, 3]}), 16, 2)


# ------------------------------------------------------------------- meta-training

@pytest.mark.parametrize("method", ["es", "bptt"])
def test_conv_model_meta_trains_with_either_method(method):
    options = {"kernel_size": 2, "stride": 1, "padding": 0, "out_channels": 2}
    cfg = tiny(method=method, model="vsml_conv", model_options=options, lr=0.01)
    trainer = meta.MetaTrainer(cfg, remember_the_class())
    assert trainer.model.config.input_shape == (1, 2, 2) and trainer.model.config.dense_sizes == (2,)
    start = trainer.params_flat.clone()
    records = [trainer.step(s) for s in range(2)]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
    assert not torch.equal(start, trainer.params_flat)
    assert 0.0 <= trainer.evaluate()["eval_accuracy"] <= 1.0
    shapes = meta.models.model_shapes("vsml_conv", trainer.model.model_config())
    assert shapes == trainer.model.shapes


def test_compiled_ticks_equal_eager():
    # torch.compile (inference only) fuses the micro-ticks; one small shape (the compile takes seconds)
    cfg = SubLSTMConfig()
    eager = ConvTick(cfg, (4, 4), 3, 2, 1, backend="torch")
    compiled = ConvTick(cfg, (4, 4), 3, 2, 1, compile=True, backend="torch")
    inputs = random_inputs(cfg, 1, 1, 2, (4, 4), (3, 3), eager.geom.out_size, dtype=torch.float32)
    with torch.no_grad():
        for a, b in zip(eager(*inputs), compiled(*inputs)):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_conv_model_carries_its_state_over_segments():
    # Long-horizon BPTT (vsml.meta.episode_pool) carries V_L between segments: the conv states too.
    data = remember_the_class()
    options = {"kernel_size": 2, "stride": 1, "padding": 0, "out_channels": 2}
    cfg = tiny(method="bptt", model="vsml_conv", model_options=options, episode_length=8, segment_length=4,
               meta_batch_size=2, eval_every=0)
    trainer = meta.MetaTrainer(cfg, data)
    model, theta = trainer.model, trainer.theta.detach()
    x, y = meta.make_episodes(cfg, data, [1, 2], 12)
    assert_segments_equal_one_pass(model, theta, x, y, [1, 2], 4)
    assert all(torch.isfinite(torch.tensor(trainer.step(s)["loss"])) for s in range(2))


def test_cli_trains_exports_and_loads_a_conv_model(tmp_path):
    run = tmp_path / "run"
    assert meta.main(["train", "--config", "smoke", "--out", str(run), "--no-progress",
                      "--set", "steps=1", "model=vsml_conv", "eval_every=1"]) == 0
    assert meta.main(["export", "--run", str(run), "--name", "conv_test", "--dest", str(tmp_path / "pre")]) == 0
    params, provenance = meta.load_pretrained("conv_test", directory=tmp_path / "pre")
    assert provenance["model"] == "vsml_conv" and provenance["model_config"]["input_shape"] == [1, 4, 4]
    net = ConvVSMLNetwork(ConvVSMLConfig.from_dict(provenance["model_config"]))
    x, y = torch.rand(2, 3, 16), torch.randint(0, 10, (2, 3))
    assert torch.isfinite(net.run_episode(params, x, y).loss).all()


def test_meta_test_runs_a_conv_v_m_at_any_square_size_through_evaluate_and_transfer(tmp_path):
    from vsml import evaluate, transfer
    cfg = ConvVSMLConfig(input_shape=(1, 4, 4), dense_sizes=(3,), sub_lstm=SubLSTMConfig(layer_norm=True))
    params = ConvVSMLNetwork(cfg).init_params(0)
    provenance = {"model": "vsml_conv", "model_config": cfg.to_dict()}
    for side, classes in ((4, 3), (6, 5)):  # the trained size, and a larger image with more classes
        g = torch.Generator().manual_seed(side)
        x, y = torch.randn(2, 5, side * side, generator=g), torch.randint(0, classes, (2, 5), generator=g)
        direct_cfg = ConvVSMLConfig(input_shape=(1, side, side), dense_sizes=(classes,),
                                    sub_lstm=SubLSTMConfig(layer_norm=True))
        direct = ConvVSMLNetwork(direct_cfg).run_episode(params, x, y, generator=torch.Generator().manual_seed(7))
        via = evaluate.meta_test("vsml_conv", x, y, classes, params=params, vsml_config=cfg.to_dict(), seed=7)
        assert torch.equal(via["correct"], direct.correct)
        learner = transfer.Learner("VSML, conv", "vsml_conv", "conv_test")
        out = transfer.meta_test_learner(learner, x, y, classes, params=params, provenance=provenance, seed=7)
        assert torch.equal(out["cum_acc"], via["cum_acc"]) and out["cum_acc"].shape == (2, 5)
    with pytest.raises(ValueError, match="no square image of 1, 1 or 3 channels"):
        evaluate.conv_config_for(cfg, 15, 3)
    colour = evaluate.conv_config_for(cfg, 3 * 5 * 5, 4)  # a CIFAR-like input: three channels
    assert colour.input_shape == (3, 5, 5) and colour.dense_sizes == (4,)
    assert evaluate.conv_config_for(colour, 49, 10).input_shape == (1, 7, 7)  # and back to one channel
    with pytest.raises(ValueError, match="needs params"):
        evaluate.meta_test("vsml_conv", x, y, classes)
    # One V_M, either architecture: a dense export's model_config runs as a conv network and back.
    from vsml import VSMLConfig
    dense_cfg = VSMLConfig(layer_sizes=(16, 3), sub_lstm=SubLSTMConfig(layer_norm=True), batch_average=True)
    as_conv = evaluate.conv_config_for(dense_cfg.to_dict(), 16, 3)
    assert as_conv.sub_lstm.layer_norm and as_conv.input_shape == (1, 4, 4)
    back = evaluate.meta_test("vsml", x, y, classes, params=params, vsml_config=cfg.to_dict(), seed=7)
    assert back["cum_acc"].shape == (2, 5)


def test_conv_forward_checks_the_input_shape():
    net = ConvVSMLNetwork()
    p, state = net.init_params(0), net.init_state(2)
    with pytest.raises(ValueError, match=r"x_t must be \[P, C\*H\*W\] = \(2, 784\)"):
        net.forward(p, state, torch.randn(2, 783))
    logits, _ = net.forward(p, state, torch.randn(2, 784))
    assert logits.shape == (2, 10)

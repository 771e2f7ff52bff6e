"""States stored in bfloat16 between examples (``VSMLConfig.state_dtype``, ``DenseTick(state_dtype=...)``).

Issue 15 allows bf16 "only where the ES gradient estimate stays equal to float32 within a stated
tolerance". The tolerance stated here: rounding ``V_L`` to bfloat16 after every example may move the ES
meta-gradient estimate (Algorithm 1, antithetic OpenAI-ES) by at most a quarter of the distance between
two float32 estimates from independent noise and episodes, i.e. it must stay well inside ES's own
sampling noise. Measured at 7x7 / 64 pairs / 100 examples and 28x28 / 32 pairs / 100 examples
(2026-11-28, CPU): the bf16 estimate is 5-10 % of the gradient's norm away from float32 (cosine
0.995-0.999), while two float32 draws are nearly orthogonal (cosine -0.05 to +0.03). This bounds the
rounding against ES's sampling noise only; whether bf16 states change what meta-training reaches needs a
meta-training run with them (chapter "Speed").
"""
import pytest
import torch

from vsml import VSMLConfig, VSMLNetwork, meta
from vsml.data import Dataset
from vsml.dense_tick import DenseTick
from vsml.lstm import SubLSTMConfig, dense_tick_reference
from vsml.meta.precision import gradient_agreement

from tiny_tasks import tick_inputs

pytestmark = pytest.mark.usefixtures("one_thread")
HAS_CUDA = torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA"))]

ULP = 2.0 ** -7  # two bfloat16 steps, relative: a float32 difference of 1e-7 may flip one rounding


def _bf16(t):
    return t.to(torch.bfloat16).float()


def _close_to_rounded(got, want_fp32):
    """``got`` is the bfloat16 rounding of ``want_fp32`` up to a flipped rounding."""
    assert torch.equal(got.float(), _bf16(got.float()))  # representable in bfloat16
    assert ((got.float() - want_fp32).abs() <= ULP * want_fp32.abs() + 1e-6).all()


def test_unknown_state_dtype_is_a_clear_error():
    with pytest.raises(ValueError, match="state_dtype must be one of"):
        VSMLConfig(state_dtype="float16")
    with pytest.raises(ValueError, match="state_dtype must be one of"):
        DenseTick(SubLSTMConfig(), state_dtype="bf16")


@pytest.mark.parametrize("backend", ["kernel", "torch"])
def test_tick_rounds_states_once_and_sends_messages_of_the_rounded_h(backend):
    """Every micro-tick in float32, then h, c rounded; the messages are those of the stored h."""
    cfg = SubLSTMConfig()
    params, (h, c, fwd, bwd) = tick_inputs(2, cfg, P=2, A=9)
    want_h, want_c, _, _ = dense_tick_reference(params, cfg, h, c, fwd, bwd, 2)
    with torch.no_grad():
        got_h, got_c, got_fwd, got_bwd = DenseTick(cfg, 2, backend=backend, state_dtype="bfloat16")(
            params, h, c, fwd, bwd)
    _close_to_rounded(got_h, want_h)
    _close_to_rounded(got_c, want_c)
    _, _, ref_fwd, ref_bwd = dense_tick_reference(params, cfg, got_h, got_c, fwd, bwd, 0)  # messages of got_h
    torch.testing.assert_close(got_fwd, ref_fwd, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_bwd, ref_bwd, atol=1e-5, rtol=1e-5)


def test_bfloat16_states_change_an_episode_a_little():
    """Same V_M, episode and initial state: predictions stay close, and every stored state is bfloat16."""
    sizes = (12, 5, 4)
    fp32, bf16 = VSMLNetwork(VSMLConfig(layer_sizes=sizes)), VSMLNetwork(VSMLConfig(layer_sizes=sizes,
                                                                                     state_dtype="bfloat16"))
    params = fp32.init_params(0)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(3, 30, 12, generator=g), torch.randint(0, 4, (3, 30), generator=g)
    with torch.no_grad():
        a = fp32.run_episode(params, x, y, generator=torch.Generator().manual_seed(2))
        b = bf16.run_episode(params, x, y, generator=torch.Generator().manual_seed(2))
    assert all(torch.equal(t, _bf16(t)) for t in b.state.h + b.state.c)
    assert not all(torch.equal(t, _bf16(t)) for t in a.state.h + a.state.c)
    assert 0 < (a.logits - b.logits).abs().max() < 0.05


def _random_images(num=400, side=7, classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Dataset("random", "train", torch.rand(num, 1, side, side, generator=g),
                   torch.randint(0, classes, (num,), generator=g), classes, "test fixture: random images")


@pytest.mark.parametrize("device", DEVICES)
def test_es_gradient_with_bfloat16_states_stays_inside_es_sampling_noise(device):
    """The stated tolerance (module docstring): |g_bf16 - g_fp32| <= 1/4 |g_fp32 - g_fp32'|."""
    config = meta.MetaConfig(method="es", dataset="random", episode_length=40, num_pairs=16, device=device,
                             model_options={"num_micro_ticks": 2})
    r = gradient_agreement(config, "bfloat16", dataset=_random_images())
    assert r["rel_distance"] > 0  # the rounding does reach the estimate
    assert r["rel_distance"] <= 0.25 * r["rel_distance_two_draws"]
    assert r["antithetic_diff_rms"] > 0 and r["max_loss_change"] > 0
    assert r["dim"] == 2384 and r["cosine_linear"] == pytest.approx(16 / (16 + 2384 + 1))


def test_gradient_agreement_needs_an_es_config_of_vsml():
    with pytest.raises(ValueError, match="ES config of the VSML model"):
        gradient_agreement(meta.MetaConfig(method="bptt", dataset="random"), dataset=_random_images())


@pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")
def test_cuda_stores_bfloat16_tensors_with_the_cpu_numbers():
    """On CUDA the Triton kernel keeps V_L as bfloat16 tensors; the CPU emulation gives the same episode."""
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 6, 4), state_dtype="bfloat16"))
    params = net.init_params(seed=1)
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(3, 20, 12, generator=g), torch.randint(0, 4, (3, 20), generator=g)
    with torch.inference_mode():
        cpu = net.run_episode(params, x, y, generator=torch.Generator().manual_seed(3))
        gpu = net.run_episode({k: v.cuda() for k, v in params.items()}, x.cuda(), y.cuda(),
                              generator=torch.Generator().manual_seed(3))
    assert all(t.dtype == torch.bfloat16 for t in gpu.state.h + gpu.state.c)
    torch.testing.assert_close(gpu.logits.cpu(), cpu.logits, atol=1e-2, rtol=1e-2)

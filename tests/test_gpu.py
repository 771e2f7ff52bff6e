"""CUDA equals CPU (Section 3's tick, one ES generation and one BPTT step of Algorithm 1).

The CUDA tests are marked ``gpu`` and skip on a machine without CUDA (CI);
``scripts/gpu_check.sh`` runs them on a GPU machine. The CPU-only tests check
that a CUDA request without CUDA fails with a clear error.
"""

import pytest
import torch

from vsml import device as vdevice
from vsml import meta
from vsml.dense_tick import DenseTick
from vsml.lstm import SubLSTMConfig
from vsml.network import VSMLConfig, VSMLNetwork

from tiny_tasks import remember_the_class, tick_inputs

HAS_CUDA = torch.cuda.is_available()
gpu = pytest.mark.skipif(not HAS_CUDA, reason="needs CUDA")


# ------------------------------------------------------------ no CUDA here

@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised without CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_request_without_cuda_is_a_clear_error(name):
    with pytest.raises(vdevice.DeviceError, match="CUDA is not available"):
        vdevice.resolve_device(name)
    cfg = meta.MetaConfig(method="es", dataset="synthetic", episode_length=4, num_pairs=2, device=name)
    with pytest.raises(vdevice.DeviceError, match="CUDA is not available"):
        meta.MetaTrainer(cfg, remember_the_class())


def test_auto_and_bad_names():
    assert vdevice.resolve_device("auto").type == ("cuda" if HAS_CUDA else "cpu")
    assert vdevice.resolve_device(None).type == ("cuda" if HAS_CUDA else "cpu")
    assert vdevice.resolve_device("CPU") == torch.device("cpu")
    with pytest.raises(vdevice.DeviceError, match="unknown device 'gpu'"):
        vdevice.resolve_device("gpu")
    with pytest.raises(vdevice.DeviceError, match="not supported"):
        vdevice.resolve_device("meta")
    assert "cpu" in vdevice.describe("cpu") and vdevice.peak_memory_mb("cpu") is None


# ------------------------------------------------------------ CUDA == CPU

def _tick_inputs(members):
    cfg = SubLSTMConfig()
    params, tensors = tick_inputs(members, cfg, P=3, A=7, B=5)
    return cfg, params, tuple(tensors)


@gpu
@pytest.mark.parametrize("members", [None, 3])
@pytest.mark.parametrize("compile", [False, True])
def test_tick_on_cuda_equals_cpu(members, compile):
    cfg, params, tensors = _tick_inputs(members)
    cpu = DenseTick(cfg, 2)(params, *tensors)
    tick = DenseTick(cfg, 2, compile=compile)
    with torch.inference_mode():
        out = tick({k: v.cuda() for k, v in params.items()}, *[t.cuda() for t in tensors])
    for a, b in zip(out, cpu):
        torch.testing.assert_close(a.cpu(), b, atol=2e-5, rtol=1e-4)


@gpu
def test_episode_on_cuda_equals_cpu():
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 6, 4)))
    params = net.init_params(seed=1)
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(3, 20, 12, generator=g), torch.randint(0, 4, (3, 20), generator=g)
    state = net.init_state(3, torch.Generator().manual_seed(3))
    cpu = net.run_episode(params, x, y, state.clone())
    cu = net.run_episode({k: v.cuda() for k, v in params.items()}, x.cuda(), y.cuda(),
                         type(state)(*[[t.cuda() for t in ts] for ts in (state.h, state.c, state.bwd_in)]))
    torch.testing.assert_close(cu.logits.cpu(), cpu.logits, atol=1e-4, rtol=1e-4)


def _one_step(method, device):
    cfg = meta.MetaConfig(method=method, dataset="synthetic", episode_length=10, num_pairs=4, meta_batch_size=4,
                          lr=0.01, device=device, model_options={"compile": method == "es"})
    trainer = meta.MetaTrainer(cfg, remember_the_class())
    stats = trainer.step(0)
    return trainer, stats


@gpu
def test_es_generation_on_cuda_equals_cpu():
    cpu, s_cpu = _one_step("es", "cpu")
    cu, s_cu = _one_step("es", "cuda")
    assert cu.params_flat.device.type == "cuda"
    assert s_cu["loss"] == pytest.approx(s_cpu["loss"], abs=1e-5)
    # The Adam state's first moment is (1 - b1) * the ES gradient: compare the gradients themselves.
    es_cpu, es_cu = cpu.estimator, cu.estimator
    g_cpu, g_cu = es_cpu.state.m / (1 - es_cpu.hp.b1), es_cu.state.m.cpu() / (1 - es_cu.hp.b1)
    torch.testing.assert_close(g_cu, g_cpu, atol=1e-4 * float(g_cpu.abs().max()), rtol=0)


@gpu
def test_bptt_step_on_cuda_equals_cpu():
    cpu, s_cpu = _one_step("bptt", "cpu")
    cu, s_cu = _one_step("bptt", "cuda")
    assert s_cu["loss"] == pytest.approx(s_cpu["loss"], abs=1e-5)
    assert s_cu["grad_norm"] == pytest.approx(s_cpu["grad_norm"], rel=1e-4)
    torch.testing.assert_close(cu.theta.grad.cpu(), cpu.theta.grad, atol=1e-4 * float(cpu.theta.grad.abs().max()),
                               rtol=0)

"""FWMemory (vsml/fwmemory.py; Section 4.4, Schlag et al. 2021) on the online protocol."""
import pytest
import torch

from fast_weight_tasks import label_changes, meta_train_by_bptt, one_label_episodes
from tiny_tasks import remember_the_class, tiny, torch_lstm_cell
from vsml import meta
from vsml.evaluate import meta_test
from vsml.flat_params import num_params
from vsml.fwmemory import FWMemoryConfig, fwmemory_episode, fwmemory_init, fwmemory_param_shapes
from vsml.meta.models import model_shapes

D, C = 4, 3
SMALL = FWMemoryConfig(hidden_size=8, memory_size=4)


pytestmark = pytest.mark.usefixtures("one_thread")


def setup(P=3, T=12, seed=0, config=SMALL):
    x, y = one_label_episodes(P, T, D, C, seed)
    y = (y + torch.arange(T)) % C  # labels that change over time
    return fwmemory_init(D, C, config, torch.Generator().manual_seed(seed)), x, y


def test_shapes_with_batch_dims_and_sizes():
    shapes = fwmemory_param_shapes(784, 10)  # the authors' sizes: hidden 32, memory 16
    assert shapes["lstm_weight"] == (784 + 10 + 32, 128) and shapes["write_weight"] == (32, 3 * 16 + 1)
    assert fwmemory_param_shapes(784, 10, FWMemoryConfig(feed_label=True))["lstm_weight"][0] == 784 + 20 + 32
    assert fwmemory_param_shapes(5, 2, FWMemoryConfig(num_reads=3, memory_size=4))["read_weight"] == (32, 16)
    for config in (SMALL, FWMemoryConfig(hidden_size=8, memory_size=4, num_reads=2, feed_label=True,
                                         output_bound=2.0)):
        params, x, y = setup(config=config)
        out = fwmemory_episode(params, x, y, config)
        assert out["logits"].shape == (3, 12, C) and out["loss"].shape == out["correct"].shape == (3, 12)
        assert out["logits"].abs().max() < (config.output_bound or float("inf"))


@pytest.mark.parametrize("feed_label", [False, True])
def test_prediction_never_sees_its_label_but_learns_from_the_previous_one(feed_label):
    config = FWMemoryConfig(hidden_size=8, memory_size=4, feed_label=feed_label)
    params, x, y = setup(config=config)
    first, second = label_changes(fwmemory_episode, params, x, y, config, t=6, C=C)
    assert torch.equal(first[:, :7], second[:, :7])            # up to and including x_6
    assert (first[:, 7] - second[:, 7]).abs().max() > 1e-4     # e_6 arrives with x_7


def test_memory_is_read():
    """The readout path carries the memory: zeroing its projection changes the predictions."""
    params, x, y = setup()
    cut = dict(params, memory_out_weight=torch.zeros_like(params["memory_out_weight"]))
    assert not torch.allclose(fwmemory_episode(params, x, y, SMALL)["logits"],
                              fwmemory_episode(cut, x, y, SMALL)["logits"])


def test_per_member_params_match_shared_ones_and_stay_separate():
    params, x, y = setup(P=3)
    shared = fwmemory_episode(params, x, y, SMALL)["logits"]
    copies = {k: v.expand(3, *v.shape).clone() for k, v in params.items()}
    torch.testing.assert_close(fwmemory_episode(copies, x, y, SMALL)["logits"], shared, atol=1e-6, rtol=1e-5)
    copies["write_weight"][1] += 0.5
    mixed = fwmemory_episode(copies, x, y, SMALL)["logits"]
    torch.testing.assert_close(mixed[[0, 2]], shared[[0, 2]], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(mixed[1], shared[1])


def test_bptt_meta_training_learns_to_use_the_labels():
    before, after, chance = meta_train_by_bptt(fwmemory_episode, setup()[0], SMALL)
    # The labels are independent of x: without online learning nothing beats the chance loss log(C).
    assert after[5:].mean() < 0.6 * min(chance, before[5:].mean())


def test_flat_params_round_trip_through_the_meta_training_adapter():
    options = {"hidden_size": 8, "memory_size": 4, "num_reads": 2}
    model = meta.build_model(tiny(method="bptt", model="fwmemory", model_options=options), D, C)
    flat = model.init_flat(0)
    assert flat.shape == (num_params(fwmemory_param_shapes(D, C, FWMemoryConfig(**options))),)
    assert torch.equal(model.flatten(model.unflatten(flat)), flat)
    assert model_shapes("fwmemory", model.model_config()) == model.shapes
    population = flat + 0.1 * torch.randn(4, flat.numel(), generator=torch.Generator().manual_seed(0))
    x, y = setup(P=2)[1:]
    loss, _ = model.run(population, x, y, None, repeats=2)
    for m in range(4):
        alone = fwmemory_episode(model.unflatten(population[m]), x[m // 2:m // 2 + 1], y[m // 2:m // 2 + 1],
                                 model.config)["loss"]
        torch.testing.assert_close(loss[m:m + 1], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method", ["es", "bptt"])
def test_meta_trainer_steps_with_either_method(method):
    cfg = tiny(method=method, model="fwmemory", model_options={"hidden_size": 4, "memory_size": 2}, lr=0.05)
    trainer = meta.MetaTrainer(cfg, remember_the_class())
    start = trainer.params_flat.clone()
    records = [trainer.step(s) for s in range(2)]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
    assert not torch.equal(start, trainer.params_flat)


def test_meta_test_registry_runs_the_given_params():
    params, x, y = setup()
    direct = fwmemory_episode(params, x, y, SMALL)
    out = meta_test("fwmemory", x, y, C, params=params, model_config=SMALL)
    torch.testing.assert_close(out["loss"], direct["loss"])
    with pytest.raises(ValueError, match=r"lstm_weight must be .* \(config: FWMemoryConfig\(hidden_size=32"):
        meta_test("fwmemory", x, y, C, params=params)  # the default sizes are not these params' sizes


def test_bad_inputs_give_clear_errors():
    params, x, y = setup()
    with pytest.raises(ValueError, match=r"fwmemory lstm_weight must be \(19, 32\) for x of shape \(3, 12, 8\)"):
        fwmemory_episode(params, torch.cat([x, x], -1), y, SMALL)
    with pytest.raises(ValueError, match="must have exactly the keys"):
        fwmemory_episode({k: v for k, v in params.items() if k != "write_bias"}, x, y, SMALL)
    with pytest.raises(ValueError, match=r"x must be a float tensor \[P, T, D\]"):
        fwmemory_episode(params, x[0], y, SMALL)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, num_classes=3\)"):
        fwmemory_episode(params, x, y + C, SMALL)
    with pytest.raises(ValueError, match="hidden_size, memory_size and num_reads must be >= 1"):
        FWMemoryConfig(memory_size=0)
    with pytest.raises(ValueError, match="model_options for model 'fwmemory'"):
        meta.MetaConfig(model="fwmemory", model_options={"rule": "oja"})
    with pytest.raises(ValueError, match="not implemented for the Meta RNN and the fast-weight baselines"):
        meta.MetaConfig(method="bptt", model="fwmemory", segment_length=10, episode_length=20)


def test_matches_an_independent_reference_of_the_write_and_read_rules():
    """Schlag et al.'s delta-rule write F += beta (v - F k) k^T with k = k1 (x) k2, the norm cap ||F|| <= 1,
    one read n <- LayerNorm(F (n (x) e)), per episode with plain matrices and torch's LSTMCell."""
    H, M = 4, 3
    config = FWMemoryConfig(hidden_size=H, memory_size=M)
    params, x, y = setup(P=2, T=6, config=config)
    g = torch.Generator().manual_seed(2)
    params = {k: v + 0.5 * torch.randn(v.shape, generator=g) for k, v in params.items()}  # biases too
    params["write_bias"] = params["write_bias"] + 1.5  # large keys, values and beta: the norm cap must act
    cell = torch_lstm_cell(params["lstm_weight"], params["lstm_bias"], D + C, forget_offset=1.0)
    with torch.no_grad():
        want, capped = torch.zeros(2, 6, C), 0
        for p in range(2):
            h, c, error, memory = torch.zeros(1, H), torch.zeros(1, H), torch.zeros(C), torch.zeros(M, M * M)
            for t in range(6):
                h, c = cell(torch.cat([x[p, t], error])[None], (h, c))
                write = h[0] @ params["write_weight"] + params["write_bias"]
                k1, k2, v = torch.tanh(write[:M]), torch.tanh(write[M:2 * M]), torch.tanh(write[2 * M:3 * M])
                beta = torch.sigmoid(write[3 * M])
                key = torch.kron(k1, k2)
                memory = memory + beta * torch.outer(v - memory @ key, key)
                capped += float(torch.linalg.matrix_norm(memory)) > 1
                memory = memory / max(1.0, float(torch.linalg.matrix_norm(memory)))
                read = torch.tanh(h[0] @ params["read_weight"] + params["read_bias"])
                n = memory @ torch.kron(read[:M], read[M:])
                n = (n - n.mean()) / torch.sqrt(n.var(unbiased=False) + 1e-5)
                hidden = h[0] + n @ params["memory_out_weight"] + params["memory_out_bias"]
                logits = 100 * torch.tanh((hidden @ params["readout_weight"] + params["readout_bias"]) / 100)
                want[p, t] = logits
                error = torch.softmax(logits, 0) - torch.nn.functional.one_hot(y[p, t], C)
    got = fwmemory_episode(params, x, y, config)["logits"]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert 0 < capped < 12  # the cap acted on some steps and not on others

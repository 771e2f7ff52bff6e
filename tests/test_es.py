"""OpenAI-ES ask/tell (vsml/es.py; Salimans et al. 2017, paper Appendix C.2)."""
import pytest
import torch

from vsml import es


def test_converges_on_a_quadratic():
    target = torch.linspace(-1, 1, 10)
    hp = es.ESHyperParams(num_pairs=16, sigma=0.1, lr=0.05)
    state = es.init(torch.zeros(10))
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        population, noise = es.ask(state, hp, gen)
        state = es.tell(state, hp, noise, ((population - target) ** 2).sum(1))
    assert state.step == 300
    assert (state.mean - target).abs().max() < 0.05


def test_antithetic_pairs_are_interleaved():
    hp = es.ESHyperParams(num_pairs=5, sigma=0.3)
    state = es.init(torch.randn(7, generator=torch.Generator().manual_seed(1)))
    population, noise = es.ask(state, hp, torch.Generator().manual_seed(2))
    assert population.shape == (10, 7) and noise.shape == (5, 7)
    torch.testing.assert_close(population[0::2], state.mean + 0.3 * noise)
    torch.testing.assert_close(population[1::2], state.mean - 0.3 * noise)
    again, _ = es.ask(state, hp, torch.Generator().manual_seed(2))
    assert torch.equal(population, again)  # the generator alone decides the noise


def test_gradient_formula_and_unbiased_on_a_linear_loss():
    hp = es.ESHyperParams(num_pairs=4, sigma=0.5)
    noise = torch.randn(4, 3, generator=torch.Generator().manual_seed(3))
    losses = torch.randn(8, generator=torch.Generator().manual_seed(4))
    manual = sum(noise[i] * (losses[2 * i] - losses[2 * i + 1]) / (2 * 0.5) for i in range(4)) / 4
    torch.testing.assert_close(es.gradient(hp, noise, losses), manual)
    # For L(theta) = c . theta the estimate averages eps eps^T c, which tends to c.
    c = torch.tensor([1.0, -2.0, 0.5])
    # Per component the estimate's std is sqrt((|c|^2 + c_j^2) / n) <= 0.007 here, so atol 0.05 is over 7
    # standard deviations: a wrong formula fails, a different seed does not.
    hp = es.ESHyperParams(num_pairs=200_000, sigma=0.05)
    population, noise = es.ask(es.init(torch.zeros(3)), hp, torch.Generator().manual_seed(5))
    torch.testing.assert_close(es.gradient(hp, noise, population @ c), c, atol=0.05, rtol=0)


def test_centered_rank_fitness_shaping_switch():
    ranks = es.centered_ranks(torch.tensor([3.0, -1.0, 10.0, 0.0]))
    torch.testing.assert_close(ranks, torch.tensor([1 / 6, -0.5, 0.5, -1 / 6]))
    noise = torch.randn(6, 4, generator=torch.Generator().manual_seed(6))
    losses = torch.randn(12, generator=torch.Generator().manual_seed(7))
    shaped = es.ESHyperParams(num_pairs=6, centered_rank=True)
    raw = es.ESHyperParams(num_pairs=6, centered_rank=False)
    # With ranks the step ignores any monotone rescaling of the losses; without, it does not.
    torch.testing.assert_close(es.gradient(shaped, noise, losses), es.gradient(shaped, noise, 100 * losses.exp()))
    assert not torch.allclose(es.gradient(raw, noise, losses), es.gradient(raw, noise, 100 * losses.exp()))


def test_tell_is_pure_and_takes_an_adam_step_downhill():
    hp = es.ESHyperParams(num_pairs=3, lr=0.1)
    state = es.init(torch.zeros(2))
    noise = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    losses = torch.tensor([2.0, 0.0, 0.0, 1.0, 1.0, 1.0])  # worse along +e0, better along +e1
    new = es.tell(state, hp, noise, losses)
    assert state.step == 0 and torch.equal(state.mean, torch.zeros(2))
    assert new.step == 1
    # Adam's first step has size lr per coordinate, against the gradient's sign.
    torch.testing.assert_close(new.mean, torch.tensor([-0.1, 0.1]))
    back = es.ESState.from_dict({k: v.clone() if torch.is_tensor(v) else v for k, v in new.to_dict().items()})
    assert back.step == 1 and all(torch.equal(getattr(back, k), getattr(new, k)) for k in ("mean", "m", "v"))


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError):
        es.ESHyperParams(num_pairs=0)
    with pytest.raises(ValueError):
        es.ESHyperParams(sigma=0.0)
    with pytest.raises(ValueError):
        es.init(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="interleaved"):
        es.gradient(es.ESHyperParams(num_pairs=2), torch.zeros(2, 3), torch.zeros(3))

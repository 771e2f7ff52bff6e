"""vsml.horizon: standard-error bands, per-horizon learning-rate tuning, overtaking."""
import math

import pytest
import torch

from vsml import horizon


def test_mean_sem_is_std_over_sqrt_runs():
    curves = torch.tensor([[0.0, 1.0], [1.0, 1.0], [0.5, 1.0], [0.5, 1.0]])
    mean, sem = horizon.mean_sem(curves)
    assert torch.allclose(mean, torch.tensor([0.5, 1.0]))
    assert math.isclose(float(sem[0]), float(curves[:, 0].std()) / 2, rel_tol=1e-6)
    assert float(sem[1]) == 0.0


def test_band_never_leaves_the_range():
    # near 100 %, mean + sem would pass 1; near 0, mean - sem would pass 0
    curves = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.2, 0.6]])
    mean, lo, hi = horizon.band(curves)
    assert float(hi.max()) <= 1.0 and float(lo.min()) >= 0.0
    assert float(hi[0]) == 1.0 and float(lo[1]) == 0.0
    assert (lo <= mean).all() and (mean <= hi).all()


def test_single_run_has_zero_band_and_bad_shapes_fail():
    mean, sem = horizon.mean_sem(torch.tensor([[0.3, 0.4]]))
    assert float(sem.abs().sum()) == 0.0
    with pytest.raises(ValueError, match=r"\[P, T\]"):
        horizon.mean_sem(torch.zeros(3))
    with pytest.raises(ValueError, match="lo < hi"):
        horizon.band(torch.zeros(2, 2), lo=1, hi=0)


def test_at_reads_one_based_horizons():
    curves = torch.tensor([[0.0, 0.5, 1.0], [0.0, 0.5, 0.0]])
    out = horizon.at(curves, [1, 3])
    assert out[1] == (0.0, 0.0) and out[3][0] == 0.5
    with pytest.raises(ValueError, match="outside"):
        horizon.at(curves, [4])


def test_overtakes_finds_the_last_crossing():
    vsml = torch.tensor([0.5, 0.6, 0.6, 0.6, 0.6, 0.6])
    sgd = torch.tensor([0.1, 0.7, 0.5, 0.65, 0.7, 0.8])  # above at 2, below at 3, above from 4 on
    assert horizon.overtakes(vsml, sgd) == 4
    assert horizon.overtakes(sgd, vsml) is None            # vsml is not above at the end
    assert horizon.overtakes(vsml - 1, vsml) == 1           # above from the start
    assert horizon.overtakes(torch.stack([vsml, vsml]), torch.stack([sgd, sgd])) == 4  # [P, T] curves
    with pytest.raises(ValueError, match="same length"):
        horizon.overtakes(vsml, sgd[:3])


def _easy_task(P=4, T=60, D=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (P, T), generator=g)
    x = torch.randn(P, T, D, generator=g)
    x[..., 0] += 2.0 * y - 1.0  # the class is mostly the sign of the first input
    return x, y


def test_tuning_widens_the_grid_until_the_best_rate_is_inside():
    x, y = _easy_task()
    # On an easy linear task far too small rates learn nothing: the best lies above this grid.
    tuned = horizon.tune_lr_at_horizons(x, y, 2, [1e-6, 1e-5, 1e-4], [10, 60], optimizer="sgd", max_widen=8)
    assert max(tuned.grid) > 1e-4                    # widened upwards
    assert all(tuned.inside.values())                # until a larger rate did worse
    for h in (10, 60):
        best = tuned.best[h]
        assert tuned.table[best][h] == max(row[h] for row in tuned.table.values())
        assert tuned.inside[h] == (min(tuned.grid) < best < max(tuned.grid))
    assert "lr" in tuned.describe(60)


def test_tuning_reports_an_edge_it_could_not_leave():
    x, y = _easy_task()
    tuned = horizon.tune_lr_at_horizons(x, y, 2, [1e-7, 1e-6, 1e-5], [60], optimizer="sgd", max_widen=0)
    assert tuned.grid == [1e-7, 1e-6, 1e-5]
    assert tuned.inside[60] is False and "EDGE" in tuned.describe(60)


def test_tuning_rejects_bad_grids_and_horizons():
    x, y = _easy_task(T=20)
    with pytest.raises(ValueError, match="at least 3"):
        horizon.tune_lr_at_horizons(x, y, 2, [1e-2, 1e-1], [10])
    with pytest.raises(ValueError, match="horizons"):
        horizon.tune_lr_at_horizons(x, y, 2, [1e-3, 1e-2, 1e-1], [30])
    with pytest.raises(ValueError, match="> 0"):
        horizon.tune_lr_at_horizons(x, y, 2, [0.0, 1e-2, 1e-1], [10])


def test_windowed_accuracy_is_a_moving_mean():
    correct = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 0, 1, 1]], dtype=torch.bool)
    w = horizon.windowed_accuracy(correct, 2)
    assert w.shape == (2, 4)
    assert w[0].tolist() == [0.5, 0.5, 1.0, 0.5] and w[1].tolist() == [0.0, 0.0, 0.5, 1.0]
    assert torch.equal(horizon.windowed_accuracy(correct, 1), correct.float())
    with pytest.raises(ValueError, match="window"):
        horizon.windowed_accuracy(correct, 6)

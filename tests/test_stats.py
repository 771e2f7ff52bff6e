"""vsml.stats: differences against their standard errors (the rule the chapters and the report share)."""
import math

import pytest
import torch

from vsml import stats


def test_sem_matches_the_textbook_formula_and_needs_two_runs():
    x = [1.0, 2.0, 4.0, 7.0]
    mean = sum(x) / 4
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 3)
    assert stats.sem(x) == pytest.approx(sd / 2, rel=1e-12)
    with pytest.raises(ValueError, match="two runs"):
        stats.sem([1.0])


def test_pairing_removes_what_the_runs_share():
    # runs differ a lot (shared per-run difficulty), the two learners by a small constant-ish amount
    g = torch.Generator().manual_seed(0)
    difficulty = torch.rand(32, generator=g, dtype=torch.float64)
    a = difficulty + 0.02 + 0.001 * torch.randn(32, generator=g, dtype=torch.float64)
    b = difficulty
    diff_p, se_p = stats.paired_difference(a, b)
    diff_i, se_i = stats.independent_difference(float(a.mean()), stats.sem(a), float(b.mean()), stats.sem(b))
    assert diff_p == pytest.approx(diff_i, abs=1e-12)
    assert se_p < se_i / 10
    assert stats.sign_beyond(diff_p, se_p) == 1 and stats.sign_beyond(diff_i, se_i) == 0


def test_beyond_has_three_outcomes_and_the_sign_decides_without_an_error():
    assert stats.beyond(2.1, 1.0) is True
    assert stats.beyond(-2.1, 1.0) is False
    assert stats.beyond(1.9, 1.0) is None and stats.beyond(-1.9, 1.0) is None
    assert stats.beyond(2.1, 1.0, z=3.0) is None
    assert stats.beyond(0.1, None) is True and stats.beyond(-0.1, None) is False
    assert [stats.sign_beyond(d, 1.0) for d in (3.0, 0.0, -3.0)] == [1, 0, -1]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="same length"):
        stats.paired_difference(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="1-d"):
        stats.paired_difference(torch.zeros(3, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=">= 0"):
        stats.independent_difference(0.5, -0.1, 0.4, 0.1)

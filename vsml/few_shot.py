"""Few-shot meta-testing: N-way K-shot query accuracy of meta-learned learners and of online Adam.

Paper: Appendix B.2, "Omniglot" and Figure 18: "In each episode, we select 5
random classes, sample 1 instance each, and show it to the network with the
label and prediction error. Then, we sample a new random test instance from one
of the 5 classes and meta train to minimize the cross-entropy on that example.
At meta test time we use unseen alphabets (classes) from the test set and report
the accuracy of the test instance across 100 episodes."

Episodes are :func:`vsml.tasks.few_shot_episodes`; every learner runs them with
the online protocol of :func:`vsml.evaluate.meta_test` (predict, then see the
label and error), and only the last prediction, the query's, is scored.
Meta-training on such episodes is :mod:`vsml.meta` with ``episode_kind:
few_shot`` (configs ``cpu_bptt_fewshot_*``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from . import tasks
from .evaluate import BASELINES, meta_test
from .horizon import best_rates, widening_grid_search
from .meta.episodes import derive_seed


@dataclass
class Learner:
    """A learner to meta-test: a shipped V_M (``pretrained``) or an online-SGD baseline name (``method``)."""

    name: str
    method: str                  # vsml | metarnn | fwmemory | hebbian | a vsml.evaluate.BASELINES name
    pretrained: str | None = None
    lr: float | None = None      # a baseline's learning rate (None: its Appendix C.2 default)


def load_learner(learner: Learner):
    """``(params, provenance)`` of a shipped learner, ``(None, None)`` for a baseline."""
    if learner.pretrained is None:
        if learner.method not in BASELINES:
            raise ValueError(f"learner {learner.name!r}: {learner.method!r} needs a pretrained V_M; "
                             f"baselines without one: {', '.join(BASELINES)}")
        return None, None
    from .meta import load_pretrained
    params, info = load_pretrained(learner.pretrained)
    if info.get("model") != learner.method:
        raise ValueError(f"learner {learner.name!r}: {learner.pretrained!r} holds a {info.get('model')!r} "
                         f"model, not {learner.method!r}")
    return params, info


def query_correct(learner: Learner, x: torch.Tensor, y: torch.Tensor, n_way: int, params=None, info=None,
                  seed: int = 0) -> torch.Tensor:
    """Whether each episode's query (its last step) was predicted right: ``[P]`` bool."""
    if learner.method == "vsml":
        from .network import VSMLConfig
        out = meta_test("vsml", x, y, n_way, params=params, vsml_config=VSMLConfig.from_dict(info["model_config"]),
                        seed=seed)
    elif learner.method in BASELINES:
        out = meta_test(learner.method, x, y, n_way, seed=seed, lr=learner.lr)
    else:
        out = meta_test(learner.method, x, y, n_way, params=params, model_config=info["model_config"], seed=seed)
    return out["correct"][:, -1]


def binomial_sem(correct: torch.Tensor) -> tuple[float, float]:
    """Query accuracy over episodes and its binomial standard error, in % (one 0/1 outcome per episode)."""
    c = correct.float()
    acc = 100 * float(c.mean())
    return acc, binomial_sem_of(acc, c.numel())


def binomial_sem_of(acc: float, n: int) -> float:
    """The binomial standard error (points) of an accuracy of ``acc`` % over ``n`` episodes (``n - 1``, as
    the sample standard deviation of the 0/1 outcomes would give)."""
    return math.sqrt(acc * (100 - acc) / max(n - 1, 1))


def tune_lr(method: str, dataset, grid, *, num_episodes: int, n_way: int = 5, k_shot: int = 1,
            image_size=None, seed: int = 0, max_widen: int = 3) -> tuple[float, dict[float, float]]:
    """The learning rate of baseline ``method`` with the best query accuracy on ``dataset``'s episodes.

    The grid search of the online baselines (:func:`vsml.horizon.widening_grid_search`): ``grid``,
    widened while the best rate is on an edge, at most ``max_widen`` times per side; ties go to the
    larger rate. Returns ``(best_lr, {lr: accuracy %})``.
    """
    if method not in BASELINES:
        raise ValueError(f"tune_lr tunes a gradient-descent baseline ({', '.join(BASELINES)}), got {method!r}")
    if len(grid) < 2 or min(grid) <= 0:
        raise ValueError(f"grid needs at least two positive rates, got {sorted(grid)}")

    def score(lr: float) -> dict[str, float]:
        learner = Learner(f"{method} lr {lr:g}", method, lr=lr)
        return {"acc": evaluate([learner], dataset, num_episodes=num_episodes, n_way=n_way, k_shot=k_shot,
                                image_size=image_size, seed=seed)[learner.name]["acc"]}

    table = widening_grid_search(score, grid, max_widen=max_widen)
    return best_rates(table)["acc"], {lr: table[lr]["acc"] for lr in sorted(table)}


def evaluate(learners: list[Learner], dataset, *, num_episodes: int, n_way: int = 5, k_shot: int = 1,
             image_size=None, seed: int = 0, chunk: int = 250) -> dict:
    """Query accuracy of each learner on the same ``num_episodes`` episodes of ``dataset``.

    Returns ``{name: {"acc": %, "sem": %, "episodes": n, "correct": [n] bool, "seconds": s}}``; every
    learner sees the same episodes (drawn from ``seed``) in chunks of ``chunk``, so two learners' ``correct``
    are paired episode by episode (``stats.paired_difference``).
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    by_class = tasks.class_index(dataset)
    chunks = []
    for i, lo in enumerate(range(0, num_episodes, chunk)):
        n = min(chunk, num_episodes - lo)
        chunks.append(tasks.few_shot_episodes(dataset, n, n_way, k_shot, seed=derive_seed(seed, "few_shot", i),
                                              image_size=image_size, by_class=by_class))
    results = {}
    for learner in learners:
        params, info = load_learner(learner)
        t0 = time.perf_counter()
        correct = torch.cat([query_correct(learner, ep.x, ep.y, n_way, params, info, seed=seed + i)
                             for i, ep in enumerate(chunks)])
        acc, sem = binomial_sem(correct)
        results[learner.name] = {"acc": acc, "sem": sem, "episodes": int(correct.numel()),
                                 "correct": correct.bool().cpu(), "seconds": time.perf_counter() - t0}
    return results

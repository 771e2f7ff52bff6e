# %% [markdown]
# # Short-horizon bias
#
# COLAB_BADGE
#
# **What this chapter reproduces:** Appendix B.2 of {cite}`kirsch2021vsml`
# ("Short horizon bias", Figure 19), and tests the fix the paper leaves to
# future work.
#
# ```{admonition} Learning objectives
# After this chapter you can
# * explain the short-horizon bias of a meta-learned learning algorithm
#   ({cite}`wu2018shorthorizon`): fast early learning bought at the price of
#   learning beyond the meta-training horizon;
# * read a learning curve two ways, cumulative and over a sliding window, and
#   say which one shows a learner that has stopped improving;
# * measure where, if anywhere, gradient descent overtakes a meta-learned
#   learner, and relate it to the horizon the learner was meta-trained on.
# ```
#
# The paper runs "VSML for 12,000 examples (24,000 RNN ticks)", far
# beyond the 500-example episodes it was meta-trained on, and sees online
# gradient descent overtake it: learning "is fast in the beginning but
# flattens out at some horizon". For future work it suggests "resuming from
# previous states (learning progress) similar to a persistent population"
# ({cite}`kirsch2020metagenrl`) as one way around the bias. The package implements that
# (a persistent pool of episodes in progress, carried across truncated BPTT
# segments; chapter {doc}`07_meta_learning`), so here we put two $V_M$s side
# by side: one meta-trained on short episodes only, and one continued from it
# with the pool, each against tuned online SGD and Adam. Two more were
# meta-trained the paper's way, from scratch by ES: one on the same short
# episodes, one on episodes of the paper's length, so the bias can be looked for in
# both meta-training methods and at two horizons of the same method. A fifth,
# a control, is the short-horizon BPTT one without LayerNorm and on the whole
# training split (see "A control" below); two more complete a two-by-two
# design that changes LayerNorm and data one at a time, and one cell of it is
# meta-trained twice, with two seeds, to show how much a single run can be
# trusted.
#
# **Where we differ from the paper.** The paper's $V_M$ came from ES on
# 500-example episodes at 28x28 with a "population size of 1024" (which the
# authors' code {cite}`kirsch2021vsmlcode` counts in antithetic pairs, so
# twice as many members) for {glue:text}`paper_es_steps:,d` steps; most of ours
# come from BPTT, and two from ES with {glue:text}`members_es` members each for
# {glue:text}`steps_es:,d` and {glue:text}`steps_es500:,d` generations, all on
# 7x7-pooled MNIST; their meta-training horizons and data are read from their
# provenance files below. We meta-test at 7x7, the resolution they were
# trained on, with {glue:text}`num_runs` runs per learner and dataset (the
# paper does not say how many it used).

# %% tags=["parameters"]
smoke = False
device = "auto"
seed = 0
pretrained_long = "mnist_bptt_long"   # V_M with long-horizon meta-training (vsml/pretrained/)
pretrained_short = "mnist_bptt"       # V_M meta-trained on short episodes only
pretrained_es = "mnist_es"            # V_M meta-trained from scratch by ES (the paper's method) on short episodes
pretrained_es500 = "mnist_es500"      # the same by ES on episodes of the paper's length
pretrained_noln = "mnist_bptt_noln"   # a control: as pretrained_short, but no LayerNorm and the full split
pretrained_ln_full = "mnist_bptt_ln_full"            # as pretrained_short on the full split (LayerNorm kept)
pretrained_noln_partial = "mnist_bptt_noln_partial"  # as pretrained_short without LayerNorm (partial split kept)
pretrained_ln_full_seed1 = "mnist_bptt_ln_full_seed1"  # pretrained_ln_full meta-trained again with seed 1
early_step = 1650                     # the last two were also exported at this step (NAME_1650)
num_runs = 16                         # meta-test runs per learner and dataset
length = 12000                        # online examples per run (Figure 19)
image_size = 7                        # input resolution (7: 49 inputs; 28: the paper's 784)

# %%
# Colab: install the book's release of the package.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "vsml @ git+REPO_URL@BOOK_RELEASE"], check=True)

# %%
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown

from vsml import data, horizon, meta, stats
from vsml.baselines import online_sgd
from vsml.book import chapter_setup, glue
from vsml.claims import PAPER_ES_GENERATIONS
from vsml.device import resolve_device
from vsml.evaluate import BASELINES, meta_test
from vsml.memory import peak_rss_mb
from vsml.online import online_metrics
from vsml.tasks import online_episodes

run = chapter_setup(smoke=smoke, device=device, seed=seed)
dev = resolve_device(run.device)
num_runs = num_runs if not run.smoke else 2
length = length if not run.smoke else 60
tune_episodes = 4 if not run.smoke else 2
window = 500 if not run.smoke else 10            # sliding window of the learning-progress figure
plt.rcParams.update({"font.size": 14, "axes.titlesize": 15, "axes.labelsize": 14, "legend.fontsize": 12,
                     "xtick.labelsize": 12, "ytick.labelsize": 12})
PRETRAINED = (pretrained_short, pretrained_long, pretrained_es, pretrained_es500, pretrained_noln)
print(f"resolved device: {dev}; {num_runs} runs x {length:,} examples at {image_size}x{image_size}")
print(f"why {image_size}x{image_size}: it is what every V_M here was meta-trained on (a VSML layer costs one "
      f"sub-LSTM per input-output pair, so it is also {784 // image_size ** 2}x cheaper per example than 28x28); "
      f"each meta-test's time is printed below (more runs: -p num_runs 32)")

# %% [markdown]
# ## The learning algorithms and their horizons

# %%
VMS = {}
for pretrained in PRETRAINED:
    params, p = meta.load_pretrained(pretrained)
    c = p["config"]
    lo, hi = c["episode_length"], c.get("episode_length_max") or c["episode_length"]
    how = (f"episodes of {lo:,}-{hi:,} examples, BPTT segments of {c['segment_length']}, continued from "
           f"{c['init_from']}" if hi > lo else f"episodes of {lo:,} examples")
    if p["method"] == "es":
        how += f", by ES with {2 * c['num_pairs']} members from a random start"
    how += (f", on {p['dataset']['num_examples']:,} training images"
            + (" (a PARTIAL copy of the split)" if p["dataset"]["partial"] else ""))
    steps = f"{p['steps']:,} {'ES generations' if p['method'] == 'es' else 'BPTT steps'}"
    print(f"{p['name']}: {steps} on {how}; {p['dataset']['name']}/{p['dataset']['split']} "
          f"({p['dataset']['num_examples']:,} images{', PARTIAL' if p['dataset']['partial'] else ''}), "
          f"resize {c['resize']}, commit {p['git_commit'][:12]}")
    VMS[f"VSML ({p['name']})"] = dict(params={k: v.to(dev) for k, v in params.items()}, prov=p, horizon=hi, how=how)
name_long, name_short = f"VSML ({pretrained_long})", f"VSML ({pretrained_short})"
name_es = f"VSML ({pretrained_es})"
glue("members_es", f"{2 * VMS[name_es]['prov']['config']['num_pairs']:,}", display=False)
glue("how_es", Markdown(VMS[name_es]["how"]), display=False)
glue("hor_es", VMS[name_es]["horizon"], display=False)
glue("name_es", Markdown(f"`{pretrained_es}`"), display=False)
name_es500 = f"VSML ({pretrained_es500})"
glue("how_es500", Markdown(VMS[name_es500]["how"]), display=False)
glue("hor_es500", VMS[name_es500]["horizon"], display=False)
glue("name_es500", Markdown(f"`{pretrained_es500}`"), display=False)
name_noln = f"VSML ({pretrained_noln})"
glue("how_noln", Markdown(VMS[name_noln]["how"]), display=False)
glue("name_noln", Markdown(f"`{pretrained_noln}`"), display=False)
glue("steps_noln", VMS[name_noln]["prov"]["steps"], display=False)
glue("steps_short", VMS[name_short]["prov"]["steps"], display=False)
glue("steps_es", VMS[name_es]["prov"]["steps"], display=False)
glue("steps_es500", VMS[name_es500]["prov"]["steps"], display=False)
glue("paper_es_steps", PAPER_ES_GENERATIONS, display=False)
glue("how_long", Markdown(VMS[name_long]["how"]), display=False)
glue("how_short", Markdown(VMS[name_short]["how"]), display=False)
glue("hor_long", VMS[name_long]["horizon"], display=False)
glue("hor_short", VMS[name_short]["horizon"], display=False)

# %% [markdown]
# ## Where the examples come from
#
# The test splits of MNIST and Fashion-MNIST are shorter than the paper's
# run, and an episode draws without replacement, so the runs draw from the
# **training** splits:
#
# * **MNIST train**: the images the $V_M$s were meta-trained on, drawn into
#   new episodes (each $V_M$'s data is printed above: the short-horizon BPTT
#   one saw only a partial copy of this split, so for it most draws are new
#   images from the same distribution). This measures the
#   learning algorithm on its own meta-training distribution, as Figure 19
#   does, not on held-out images; the baselines' tuning episodes below come
#   from this split too;
# * **Fashion-MNIST train**: never seen in meta-training, so this measures the
#   bias out of distribution.

# %%
mnist_train = data.load("mnist", "train")
fashion_train = data.load("fashion_mnist", "train")
for ds in (mnist_train, fashion_train):
    print(ds.describe() + ("  [PARTIAL: not the official split]" if ds.partial else ""))
glue("mnist_note", Markdown("the official MNIST training split" if not mnist_train.partial
                            else "a PARTIAL copy of the MNIST training split (see the printout)"), display=False)

# %% [markdown]
# ## Baselines tuned for the long run
#
# Online SGD and Adam, a single layer or 160 tanh hidden units (Appendix C.2),
# with the learning rate that gives the highest cumulative accuracy after all
# the examples, tuned on other MNIST training episodes; the grid grows until
# the chosen rate has a worse one on each side.

# %%
lr_grid = {"sgd": [3e-3, 1e-2, 3e-2, 1e-1], "adam": [3e-4, 1e-3, 3e-3, 1e-2]}  # widened where needed
t0 = time.perf_counter()
x_tune, y_tune = online_episodes(mnist_train, tune_episodes, length, seed=77, image_size=image_size, device=dev)
tuned = {}
for name, opts in BASELINES.items():
    t = horizon.tune_lr_at_horizons(x_tune, y_tune, 10, lr_grid[opts["optimizer"]], [length],
                                    max_widen=3 if not run.smoke else 1, seed=seed, **opts)
    tuned[name] = t.best[length]
    print(f"{name:17s} {t.describe(length)}")
print(f"tuning: {time.perf_counter() - t0:.0f} s")

# %% [markdown]
# ## The long runs

# %%
curves, correct = {}, {}
for label, ds in (("MNIST", mnist_train), ("Fashion-MNIST", fashion_train)):
    x, y = online_episodes(ds, num_runs, length, seed=2000 + seed, image_size=image_size, device=dev)
    for name, vm in VMS.items():
        t0 = time.perf_counter()
        res = meta_test("vsml", x, y, 10, params=vm["params"],
                        vsml_config=meta.VSMLConfig.from_dict(vm["prov"]["model_config"]), seed=seed)
        curves[label, name], correct[label, name] = res["cum_acc"].cpu(), res["correct"].cpu()
        print(f"{label:14s} {name:24s} {time.perf_counter() - t0:6.0f} s")
    for name, opts in BASELINES.items():
        t0 = time.perf_counter()
        res = online_metrics(online_sgd(x, y, 10, seed=seed, lr=tuned[name], **opts)["logits"], y)
        curves[label, name], correct[label, name] = res["cum_acc"].cpu(), res["correct"].cpu()
        print(f"{label:14s} {name:24s} {time.perf_counter() - t0:6.0f} s (lr {tuned[name]:g})")

# %% tags=["hide-input"]
COLORS = {name_long: "C3", name_short: "C1", name_es: "C5", name_es500: "C4", name_noln: "C6", "SGD": "C0",
          "Adam": "C2", "SGD, 160 hidden": "C9", "Adam, 160 hidden": "C8"}
STYLES = {name_short: "--", name_noln: "--", "SGD, 160 hidden": "-.", "Adam, 160 hidden": "-."}
LEARNERS = [*VMS, *BASELINES]


def mark_horizons(ax):
    for name, vm in VMS.items():
        if vm["horizon"] <= length and name not in (name_es, name_noln):  # their horizon is the short one's
            ax.axvline(vm["horizon"], color=COLORS[name], ls=":", lw=2.5,
                       label=f"longest meta-training episode, {vm['prov']['name']}")


def two_panels(values, ylabel, ylim=(0, 100), logx=False):
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.4), sharey=True)
    for ax, label in zip(axes, ("MNIST", "Fashion-MNIST")):
        values(ax, label)
        mark_horizons(ax)
        ax.set_title(f"{label} training split, {image_size}x{image_size} inputs")
        if logx:
            ax.set_xscale("log")
            ax.set_xlim(1, length)
        else:
            ax.set_xlim(0, length)
    axes[0].set(ylim=ylim, ylabel=ylabel)
    axes[1].set_ylabel("")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.2, 1, 1))


# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-08-figure19", "caption": "Figure 19: cumulative online accuracy over 12,000 examples, VSML meta-trained on short episodes by BPTT (dashed orange; dashed pink: the same without LayerNorm, on the full training split) and by ES (brown; purple: ES on 500-example episodes, the paper's episode length) and with the persistent pool (solid red), against online SGD and Adam tuned for the whole run, on a single layer (solid blue, green) and with 160 tanh hidden units (dash-dot). Dotted verticals in each $V_M$'s colour: the longest episode it was meta-trained on (the short-episode ES and no-LayerNorm $V_M$s share the orange one). Logarithmic x axis. Mean with a band of one standard error of the mean."}}
two_panels(lambda ax, label: horizon.plot_bands(ax, {n: curves[label, n] for n in LEARNERS}, colors=COLORS,
                                                styles=STYLES, legend=False), "cumulative accuracy (%)", logx=True)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-08-window", "caption": "The same runs as learning progress: accuracy over the last 500 examples (a sliding window), plotted at the window's end, so the curves start at example 500. A flat line is a learner that has stopped improving; a falling one is unlearning. Verticals as in the previous figure."}}
def windowed(ax, label):
    for n in LEARNERS:
        w = horizon.windowed_accuracy(correct[label, n], window)
        mean, low, high = horizon.band(w)
        steps = torch.arange(window, length + 1).numpy()
        (line,) = ax.plot(steps, 100 * mean.numpy(), STYLES.get(n, "-"), color=COLORS[n], lw=2, label=n)
        ax.fill_between(steps, 100 * low.numpy(), 100 * high.numpy(), color=line.get_color(), alpha=0.25, lw=0)
    ax.set_xlabel("examples seen")


two_panels(windowed, f"accuracy over the last {window} examples (%)")

# %% [markdown]
# ## Where does gradient descent overtake?
#
# For each $V_M$ and each baseline: the first example count from which the
# baseline's mean cumulative accuracy stays above VSML's to the end of the
# run (none: VSML is still ahead after the last example), and the same on the
# sliding-window accuracy, which reacts sooner (its first window ends at
# example 500, so "after 500" there means: above from the first window on).

# %%
checkpoints = [h for h in (100, 500, 2000, 5000, length) if h <= length]
print(f"{'dataset':14s} {'learner':24s} " + " ".join(f"{'acc@' + str(h):>12s}" for h in checkpoints))
for label in ("MNIST", "Fashion-MNIST"):
    for n in LEARNERS:
        cells = " ".join(f"{100 * m:6.1f}+-{100 * s:4.1f}" for m, s in horizon.at(curves[label, n], checkpoints).values())
        print(f"{label:14s} {n:24s} {cells}")
print()
overtake = {}
for label in ("MNIST", "Fashion-MNIST"):
    for vm, info in VMS.items():
        for b in BASELINES:
            cum = horizon.overtakes(curves[label, vm], curves[label, b])
            win = horizon.overtakes(horizon.windowed_accuracy(correct[label, vm], window),
                                    horizon.windowed_accuracy(correct[label, b], window))
            win = None if win is None else win + window - 1  # index of the window's end, as an example count
            overtake[label, vm, b] = cum
            say = "never within the run" if cum is None else f"after {cum:,} examples ({cum / info['horizon']:.1f}x its horizon)"
            sayw = "never" if win is None else f"after {win:,}"
            print(f"{label:14s} {b:17s} overtakes {vm}: cumulative {say}; windowed {sayw}")


def first_overtake(label, vm):
    hits = {b: overtake[label, vm, b] for b in BASELINES if overtake[label, vm, b] is not None}
    if not hits:
        return None, None
    b = min(hits, key=hits.get)
    return b, hits[b]


verdict = {}
for label in ("MNIST", "Fashion-MNIST"):
    for vm in VMS:
        b, t = first_overtake(label, vm)
        verdict[label, vm] = (f"no tuned baseline overtakes it within {length:,} examples" if b is None else
                              f"{b} overtakes it after {t:,} examples")
        print(f"VERDICT {label}, {vm}: {verdict[label, vm]}")

# %%
TAGS = {name_long: "long", name_short: "short", name_es: "es", name_es500: "es500", name_noln: "noln"}  # glue keys
for label, key in (("MNIST", "m"), ("Fashion-MNIST", "f")):
    for vm, tag in TAGS.items():
        glue(f"verdict_{key}_{tag}", Markdown(f"**{verdict[label, vm]}**"), display=False)
        glue(f"acc_{key}_{tag}_end", 100 * horizon.at(curves[label, vm], [length])[length][0], display=False)
        peak_t = int(curves[label, vm].mean(0).argmax()) + 1
        glue(f"peak_{key}_{tag}", 100 * float(curves[label, vm].mean(0).max()), display=False)
        glue(f"peakat_{key}_{tag}", peak_t, display=False)
    for vm, tag in TAGS.items():
        w = horizon.windowed_accuracy(correct[label, vm], window).mean(0)
        glue(f"wpeak_{key}_{tag}", 100 * float(w.max()), display=False)
        glue(f"wpeakat_{key}_{tag}", int(w.argmax()) + window, display=False)
        glue(f"wend_{key}_{tag}", 100 * float(w[-1]), display=False)
    best = max(BASELINES, key=lambda b: float(curves[label, b].mean(0)[-1]))
    for vm, tag in TAGS.items():  # the reproduction report: paired standard error of best baseline - V_M at the end
        d = curves[label, best][:, -1] - curves[label, vm][:, -1]
        glue(f"se_end_{key}_{tag}", 100 * stats.sem(d), display=False)
    glue(f"wend_{key}_best", 100 * float(horizon.windowed_accuracy(correct[label, best], window).mean(0)[-1]),
         display=False)
    glue(f"bestb_{key}", Markdown(best), display=False)
    glue(f"bestb_{key}_end", 100 * float(curves[label, best].mean(0)[-1]), display=False)
glue("num_runs", num_runs, display=False)
glue("window", window, display=False)


def beyond_noise(a, b, z=2.0):
    """+1 / -1 if the per-run difference a - b is above / below zero by more than z standard errors, else 0."""
    return stats.sign_beyond(*stats.paired_difference(a, b), z=z)


TREND = {}  # (dataset, V_M) -> +1 still improving, -1 unlearning, 0 no change beyond the noise


def finding(label, vm):
    """One sentence: how the learner ends (window trend, judged against run-to-run noise) and who overtakes it."""
    w_runs = horizon.windowed_accuracy(correct[label, vm], window)  # [runs, positions]
    w = w_runs.mean(0)
    mid_i, best_i = len(w) // 2, int(w.argmax())
    mid, end, best = float(w[mid_i]), float(w[-1]), float(w[best_i])
    change = beyond_noise(w_runs[:, -1], w_runs[:, mid_i])
    trend = {1: "still improving", -1: "unlearning", 0: "no change beyond the noise of the runs"}[change]
    says = (f"its windowed accuracy is {100 * mid:.1f} % at example {mid_i + window:,} and {100 * end:.1f} % at the "
            f"end ({trend} over the second half)")
    # the peak is picked out of thousands of windows, so it must stand out further: three standard errors
    if best_i < len(w) - 1 and beyond_noise(w_runs[:, best_i], w_runs[:, -1], z=3.0) > 0:
        # it had been better by more than the noise: say where, or the second half alone hides the unlearning
        change = -1
        says = (f"its windowed accuracy peaked at {100 * best:.1f} % (window ending at example {best_i + window:,}) "
                f"and fell to {100 * end:.1f} % by the end; " + says.replace("its windowed accuracy is", "it is", 1))
    TREND[label, vm] = change
    b, t = first_overtake(label, vm)
    hor = VMS[vm]["horizon"]
    if b is None:
        return f"{says}; no tuned baseline overtakes it within the run."
    if t < hor:
        where = (f"inside the {hor:,} examples it was meta-trained on, so more than the short-horizon bias is at "
                 f"work there: at that length tuned gradient descent is simply the better learner")
    elif change > 0:
        where = (f"past the {hor:,} examples it was meta-trained on; it keeps improving, but more slowly than "
                 f"gradient descent")
    elif change == 0:
        where = (f"past the {hor:,} examples it was meta-trained on; whether it still improves there is within "
                 f"the noise of these runs")
    else:
        where = f"past the {hor:,} examples it was meta-trained on, as the short-horizon bias predicts"
    return f"{says}; {b} overtakes it after {t:,} examples, {where}."


for label, key in (("MNIST", "m"), ("Fashion-MNIST", "f")):
    for vm, tag in TAGS.items():
        glue(f"finding_{key}_{tag}", Markdown(finding(label, vm)), display=False)
        print(f"{label}, {vm}: {finding(label, vm)}")
end_short, end_long = (100 * horizon.at(curves["MNIST", vm], [length])[length][0] for vm in (name_short, name_long))
w_long = horizon.windowed_accuracy(correct["MNIST", name_long], window).mean(0)
b_long, t_long = first_overtake("MNIST", name_long)
summary_pool = (f"on MNIST the pool-trained $V_M$ ends at {end_long:.1f} % where the short-horizon one ends at "
                f"{end_short:.1f} %, its windowed accuracy moves by {100 * float(w_long[-1] - w_long[len(w_long) // 2]):+.1f} "
                f"points over the second half of the run, and "
                + ("no tuned baseline overtakes it." if b_long is None else
                   f"tuned gradient descent ({b_long}) overtakes it after {t_long:,} examples."))
glue("summary_pool", Markdown(summary_pool), display=False)
print("summary:", summary_pool)


def retained(label, vm):
    """Per run: the share of its above-chance windowed accuracy at the mean curve's peak still held at the end."""
    w = horizon.windowed_accuracy(correct[label, vm], window)
    chance = 1 / 10
    return (w[:, -1] - chance) / (w[:, int(w.mean(0).argmax())] - chance).clamp(min=1e-3)


def says_retained(r):
    return f"{100 * float(r.mean()):.0f} % (standard error {100 * stats.sem(r):.0f})"


# The control differs from the short-horizon BPTT V_M in LayerNorm and data, and from the short-episode ES V_M
# in the estimator and the number of steps; paired by run (all learners see the same episodes).
ret = {vm: retained("MNIST", vm) for vm in (name_short, name_noln, name_es)}
vs_short, vs_es = beyond_noise(ret[name_noln], ret[name_short]), beyond_noise(ret[name_noln], ret[name_es])
peak_noln = float(horizon.windowed_accuracy(correct["MNIST", name_noln], window).mean(0).max())
if peak_noln < 0.15:  # a share of almost nothing is noise: the control must have learned something to lose
    control = (f"its windowed accuracy never rose clearly above chance (peak {100 * peak_noln:.1f} %), so it "
               f"cannot serve as a control and the question stays open")
elif vs_short != 0 and vs_es == 0:
    control = ("it keeps a share of what it learned like the ES $V_M$'s and unlike the short-horizon BPTT one's, so "
               "LayerNorm or the partial data (the two-by-two design below separates them), not the estimator, made the BPTT $V_M$ "
               "lose so much of what it learned")
elif vs_es != 0 and vs_short == 0:
    control = ("it keeps a share like the short-horizon BPTT $V_M$'s and unlike the ES one's, so neither LayerNorm "
               "nor the partial data explains the difference; how the two were meta-trained (the estimator and its "
               "settings, or the number of steps, which this control does not match) does")
elif vs_es == 0 and vs_short == 0:
    control = "it cannot be told apart from either within the noise of these runs, so this control does not decide"
else:
    control = ("it differs from both beyond the noise of these runs, so the difference is not one factor alone: "
               "LayerNorm or data account for part of it, and something else (the estimator, the number of steps) "
               "for the rest")
glue("ret_short", Markdown(says_retained(ret[name_short])), display=False)
glue("ret_noln", Markdown(says_retained(ret[name_noln])), display=False)
glue("ret_es", Markdown(says_retained(ret[name_es])), display=False)
glue("control_noln", Markdown(control), display=False)
for vm, r in ret.items():
    print(f"MNIST, {vm}: share of the peak's above-chance windowed accuracy held at the end {says_retained(r)}")
print(f"control ({name_noln}): {control}")

# %% [markdown]
# ## LayerNorm or data?
#
# The control changed two things at once. Two more runs change one each, so
# that the four short-horizon BPTT $V_M$s form a two-by-two design: with and
# without LayerNorm, on the partial split and on the full one (their sizes
# and step counts are printed below), everything else as in the config
# `cpu_bptt` (`vsml/configs/cpu_bptt.yaml`) that the short-horizon $V_M$ was
# meta-trained with: the same seed, step size, meta-batch and 100-example
# episodes (the episodes themselves differ where the split does). They are
# meta-tested on the same MNIST episodes as above, so every comparison is
# paired by run. The two new runs were also exported halfway, to see whether
# the answer depends on how long meta-training ran.

# %%
FACTORIAL = {("LayerNorm", "partial"): pretrained_short, ("no LayerNorm", "full"): pretrained_noln,
             ("LayerNorm", "full"): pretrained_ln_full, ("no LayerNorm", "partial"): pretrained_noln_partial}
EARLY = {cell: f"{name}_{early_step}" for cell, name in FACTORIAL.items()
         if name in (pretrained_ln_full, pretrained_noln_partial)}
missing = [n for n in [*FACTORIAL.values(), *EARLY.values()] if n not in meta.pretrained_names()]
if missing:
    print("not shipped with this copy of the book:", ", ".join(missing))
x_m, y_m = online_episodes(mnist_train, num_runs, length, seed=2000 + seed, image_size=image_size, device=dev)
kept, peaks, steps_of, data_of = {}, {}, {}, {}


def measure(name):
    """Meta-test the shipped V_M `name` on the MNIST episodes above (once) and record its peak and share kept."""
    vm_name = f"VSML ({name})"
    if ("MNIST", vm_name) not in correct:  # the same MNIST episodes as every other V_M: paired by run
        params, p = meta.load_pretrained(name)
        t0 = time.perf_counter()
        res = meta_test("vsml", x_m, y_m, 10, params={k: v.to(dev) for k, v in params.items()},
                        vsml_config=meta.VSMLConfig.from_dict(p["model_config"]), seed=seed)
        correct["MNIST", vm_name] = res["correct"].cpu()
        print(f"MNIST          {vm_name:34s} {time.perf_counter() - t0:6.0f} s")
        VMS.setdefault(vm_name, dict(prov=p))
    p = VMS[vm_name]["prov"]
    steps_of[name] = p["steps"]
    data_of[name] = (f"{p['dataset']['num_examples']:,} images{', PARTIAL' if p['dataset']['partial'] else ''}, "
                     f"LayerNorm {p['model_config']['sub_lstm']['layer_norm']}, seed {p['config']['seed']}")
    kept[name] = retained("MNIST", vm_name)
    peaks[name] = float(horizon.windowed_accuracy(correct["MNIST", vm_name], window).mean(0).max())
    print(f"{name:30s} {p['steps']:5,} steps ({data_of[name]}): peak windowed accuracy {100 * peaks[name]:.1f} %, "
          f"kept at the end {says_retained(kept[name])}")


for name in [*FACTORIAL.values(), *EARLY.values()]:
    if name not in missing:
        measure(name)
learned = {n for n in kept if peaks[n] >= 0.15}  # as for the control: too small a peak makes the share noise


def cell_text(name):
    if name not in kept:
        return "not shipped"
    if name not in learned:
        return f"`{name}`: never clearly above chance (peak {100 * peaks[name]:.1f} %)"
    return (f"`{name}`: kept {says_retained(kept[name])} of its above-chance accuracy at a "
            f"{100 * peaks[name]:.1f} % peak")


n_images = {split: VMS[f"VSML ({FACTORIAL['LayerNorm' if split == 'partial' else 'no LayerNorm', split]})"]["prov"]
            ["dataset"]["num_examples"] for split in ("partial", "full")}  # from the provenance of the two shipped before
rows = [f"| | partial split ({n_images['partial']:,} images) | full split ({n_images['full']:,} images) |",
        "| --- | --- | --- |"]
for ln in ("LayerNorm", "no LayerNorm"):
    rows.append(f"| {ln} | {cell_text(FACTORIAL[ln, 'partial'])} | {cell_text(FACTORIAL[ln, 'full'])} |")
glue("factorial_table", Markdown("\n".join(rows)), display=False)


def effect(a, b):
    """Paired difference of the share kept, a minus b, in points, with its verdict; None if either is unusable."""
    if a not in learned or b not in learned:
        return None
    diff, se = stats.paired_difference(100 * kept[a], 100 * kept[b])
    return diff, se, stats.sign_beyond(diff, se)


def factor_says(what, pairs):
    """One sentence on one factor, from its effect at both levels of the other factor."""
    effects = [(where, effect(a, b)) for where, a, b in pairs]
    if any(e is None for _, e in effects):
        return f"{what}: not decided here (a run is missing or never left chance)"
    parts = [f"{e[0]:+.0f} points (paired standard error {e[1]:.0f}) {where}" for where, e in effects]
    signs = {e[2] for _, e in effects}
    if signs == {1}:
        verdict = "it raises the share kept beyond the noise at both levels of the other factor"
    elif signs == {-1}:
        verdict = "it lowers the share kept beyond the noise at both levels of the other factor"
    elif signs == {0}:
        verdict = "neither change is beyond the noise"
    elif signs == {1, -1}:
        verdict = ("both changes are beyond the noise but in opposite directions, so this factor's effect depends "
                   "on the other one (an interaction)")
    else:
        verdict = "the effect is beyond the noise at one level of the other factor only (an interaction, or noise)"
    return f"{what} changes the share kept by {' and by '.join(parts)}: {verdict}"


says_ln = factor_says("Removing LayerNorm", [
    ("on the partial split", FACTORIAL["no LayerNorm", "partial"], FACTORIAL["LayerNorm", "partial"]),
    ("on the full split", FACTORIAL["no LayerNorm", "full"], FACTORIAL["LayerNorm", "full"])])
says_data = factor_says("The full split instead of the partial one", [
    ("with LayerNorm", FACTORIAL["LayerNorm", "full"], FACTORIAL["LayerNorm", "partial"]),
    ("without it", FACTORIAL["no LayerNorm", "full"], FACTORIAL["no LayerNorm", "partial"])])
glue("says_ln", Markdown(says_ln + "."), display=False)
glue("says_data", Markdown(says_data + "."), display=False)
print(says_ln)
print(says_data)
early_rows = []
for cell, early in EARLY.items():
    late = FACTORIAL[cell]
    if early in kept and late in kept:
        early_rows.append(f"`{late}` after {steps_of[early]:,} steps {cell_text(early).split(': ', 1)[1]}, after "
                          f"{steps_of[late]:,} steps {cell_text(late).split(': ', 1)[1]}")
glue("early_text", Markdown("; ".join(early_rows) + "." if early_rows else
                            "The halfway exports are not shipped with this copy of the book."), display=False)
print("halfway:", "; ".join(early_rows))

# The pool-trained V_M was continued on the full split; the LayerNorm/full cell has that data without the pool.
if pretrained_ln_full in learned:
    name_full = f"VSML ({pretrained_ln_full})"
    w_end = {vm: 100 * horizon.windowed_accuracy(correct["MNIST", vm], window)[:, -1]
             for vm in (name_long, name_short, name_full)}
    d_pool, se_pool = stats.paired_difference(w_end[name_long], w_end[name_full])
    d_lead = float((w_end[name_long] - w_end[name_short]).mean())
    pool_says = {1: f"ahead beyond the noise, but by far less than its {d_lead:.0f}-point lead over the short-horizon "
                    f"$V_M$" if d_pool < d_lead / 2 else "ahead beyond the noise",
                 0: "not ahead beyond the noise", -1: "behind beyond the noise"}[stats.sign_beyond(d_pool, se_pool)]
    pool_vs_data = (f"The pool-trained $V_M$ also differs from the short-horizon one in its data: it was continued on "
                    f"the full training split, where the short-horizon one had a partial copy. The run without a pool "
                    f"on the full split (`{pretrained_ln_full}`, the LayerNorm/full cell) ends at "
                    f"{float(w_end[name_full].mean()):.1f} % windowed accuracy against the pool-trained one's "
                    f"{float(w_end[name_long].mean()):.1f} %, so the pool-trained $V_M$ is {pool_says} "
                    f"({d_pool:+.1f} points, paired standard error {se_pool:.1f}); it also ran more steps in all. "
                    f"What the pool adds beyond the data is therefore much less than the comparison with the "
                    f"short-horizon $V_M$ suggests." if d_pool < d_lead / 2 else
                    f"The pool-trained $V_M$ also differs from the short-horizon one in its data (the full training "
                    f"split, where the short-horizon one had a partial copy), but it is {pool_says} of the run "
                    f"without a pool on the full split (`{pretrained_ln_full}`: {d_pool:+.1f} points at the end, "
                    f"paired standard error {se_pool:.1f}), so the data alone does not explain its lead.")
else:
    pool_vs_data = ("The pool-trained $V_M$ was also continued on more data than the short-horizon one; the run that "
                    "would separate the two (no pool, full split) is not shipped or never left chance here.")
glue("pool_vs_data", Markdown(pool_vs_data), display=False)
print(pool_vs_data)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-08-factorial", "caption": "The four short-horizon BPTT $V_M$s of the two-by-two design on MNIST: accuracy over the last 500 examples, as in the previous figure (solid: with LayerNorm; dashed: without; red: the full training split; orange: the partial one). Thin dotted lines: the two new runs exported halfway. Grey dotted line: chance. Mean over the runs; the shaded band is one standard error."}}
STYLE_F = {("LayerNorm", "partial"): ("C1", "-"), ("LayerNorm", "full"): ("C3", "-"),
           ("no LayerNorm", "partial"): ("C1", "--"), ("no LayerNorm", "full"): ("C3", "--")}
fig, ax = plt.subplots(figsize=(11, 5.4))
for cell, name in [*FACTORIAL.items(), *EARLY.items()]:
    if name not in kept:
        continue
    mean, low, high = (100 * v for v in horizon.band(horizon.windowed_accuracy(correct["MNIST", f"VSML ({name})"],
                                                                              window)))
    xs = torch.arange(window, window + len(mean))
    color, ls = STYLE_F[cell]
    early = name in EARLY.values()
    ax.plot(xs, mean, color=color, ls=":" if early else ls, lw=1.5 if early else 2.5,
            label=f"{name}: {cell[0]}, {cell[1]} split, {steps_of[name]:,} steps")
    ax.fill_between(xs, low, high, color=color, alpha=0.15)
ax.axhline(10, color="gray", lw=0.8, ls=":")
ax.set(xlim=(0, length), ylim=(0, 100), xlabel="examples seen (window end)",
       ylabel=f"accuracy over the last {window} examples (%)",
       title=f"MNIST training split, {image_size}x{image_size} inputs")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False, fontsize=11)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## A second meta-training seed
#
# Every cell of the design is one meta-training run. To see how much a run
# depends on its seed, the LayerNorm/full cell was meta-trained a second
# time with `--set seed=1` (its own initial $V_M$ and its own meta-training
# episodes; everything else as {glue:md}`seed0_name`), exported halfway and at
# the end as the first was, and meta-tested on the same MNIST episodes as the
# others. The meta-training runs also record their own accuracy on held-out
# test episodes every 100 steps (the provenance's `eval_curve`, 100-example
# episodes), which shows whether and when each run left chance
# ({numref}`fig-08-seeds`); what the two seeds did is read in "What we found".

# %%
SEED_RUNS = {0: [EARLY.get(("LayerNorm", "full")), pretrained_ln_full],
             1: [f"{pretrained_ln_full_seed1}_{early_step}", pretrained_ln_full_seed1]}
shipped = set(meta.pretrained_names())
for names in SEED_RUNS.values():
    for name in names:
        if name in shipped and name not in kept:
            measure(name)
learned = {n for n in kept if peaks[n] >= 0.15}
LEFT_CHANCE = 0.15  # meta-training's own test accuracy at or above this: the run has left chance


def left_chance_at(prov):
    """The first step at which the run's eval_curve reached LEFT_CHANCE, or None."""
    return next((r["step"] for r in prov.get("eval_curve") or [] if r["eval_accuracy"] >= LEFT_CHANCE), None)


seed_rows, seed_prov, seed_left = [], {}, {}
for seed_no, names in SEED_RUNS.items():
    names = [n for n in names if n in kept]
    if not names:
        seed_rows.append(f"seed {seed_no}: not shipped with this copy of the book")
        continue
    prov = seed_prov[seed_no] = VMS[f"VSML ({names[-1]})"]["prov"]
    at = left_chance_at(prov)
    left = (f"left chance at step {at:,}" if at is not None else
            f"had not left chance by step {prov['steps']:,} (its test accuracy during meta-training never reached "
            f"{100 * LEFT_CHANCE:.0f} %)")
    seed_left[seed_no] = f"seed {seed_no} {left.split(' (')[0]}"
    tested = "; ".join(f"after {steps_of[n]:,} steps {cell_text(n).split(': ', 1)[1]}" for n in names)
    seed_rows.append(f"seed {seed_no} {left}; meta-tested {tested}")
seed_text = "; ".join(seed_rows) + "."
if len(seed_prov) == 2:
    a, b = SEED_RUNS[0][-1], SEED_RUNS[1][-1]
    same_steps = seed_prov[0]["steps"] == seed_prov[1]["steps"]
    at0, at1 = (left_chance_at(seed_prov[k]) for k in (0, 1))
    if a in learned and b in learned:
        d_kept, se_kept = stats.paired_difference(100 * kept[b], 100 * kept[a])
        seed_text += (f" At the end the two seeds' peaks are {100 * peaks[a]:.1f} and {100 * peaks[b]:.1f} %, and "
                      f"their shares kept differ by {d_kept:+.0f} points (paired standard error {se_kept:.0f}): "
                      f"{'beyond' if stats.beyond(abs(d_kept), se_kept) else 'within'} the meta-test's noise.")
    elif (a in learned) != (b in learned):
        won, lost = (0, 1) if a in learned else (1, 0)
        steps_said = ("for the same number of steps" if same_steps else
                      f"for {seed_prov[0]['steps']:,} and {seed_prov[1]['steps']:,} steps")
        seed_text += (f" So the same configuration, meta-trained {steps_said}, gave a learning algorithm with seed "
                      f"{won} and none with seed {lost}: whether a short-horizon BPTT run leaves chance within a given "
                      f"budget depends on its seed, and each comparison above is that of one seed.")
    if at0 is not None and at1 is not None:
        seed_text += (f" Both left chance, {abs(at1 - at0):,} steps apart: where the design compares runs at a fixed "
                      f"step count, part of a difference can be when each run happened to leave chance.")
glue("seed0_name", Markdown(f"`{pretrained_ln_full}`"), display=False)
glue("seed_text", Markdown(seed_text), display=False)
glue("seed_short", Markdown("; ".join(seed_left.values()) + "." if seed_left else "not shipped."), display=False)
print(seed_text)

# %% tags=["hide-input"] mystnb={"figure": {"name": "fig-08-seeds", "caption": "Two meta-training seeds of the LayerNorm/full cell: each run's accuracy on held-out MNIST test episodes of 100 examples, measured during meta-training every 100 steps (its provenance's eval_curve). Dotted: chance; dashed: the threshold at which the text calls a run out of chance."}}
fig, ax = plt.subplots(figsize=(9, 4.2))
for seed_no, prov in seed_prov.items():
    steps = [r["step"] for r in prov["eval_curve"]]
    ax.plot(steps, [100 * r["eval_accuracy"] for r in prov["eval_curve"]], marker="o", ms=3, lw=2,
            color=("C3", "C5")[seed_no % 2], label=f"seed {seed_no} ({prov['name']})")
ax.axhline(10, color="gray", lw=0.8, ls=":")
ax.axhline(100 * LEFT_CHANCE, color="gray", lw=0.8, ls="--")
ax.set(xlabel="meta-training step", ylabel="test accuracy during meta-training (%)", ylim=(0, 100),
       title="LayerNorm, full split, short episodes: two seeds")
ax.legend(loc="upper left", frameon=False)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What we found
#
# {glue:text}`num_runs` runs per learner on {glue:md}`mnist_note` and on the
# Fashion-MNIST training split:
#
# * **Meta-trained on short episodes** ({glue:md}`how_short`): on MNIST its
#   cumulative accuracy peaks at {glue:text}`peak_m_short:.1f` % after
#   {glue:text}`peakat_m_short:,d` examples and ends at
#   {glue:text}`acc_m_short_end:.1f` %; {glue:md}`verdict_m_short`. On
#   Fashion-MNIST it ends at {glue:text}`acc_f_short_end:.1f` %;
#   {glue:md}`verdict_f_short`.
# * **With the persistent pool** ({glue:md}`how_long`): on MNIST it ends at
#   {glue:text}`acc_m_long_end:.1f` % (peak {glue:text}`peak_m_long:.1f` % after
#   {glue:text}`peakat_m_long:,d` examples); {glue:md}`verdict_m_long`. On
#   Fashion-MNIST it ends at {glue:text}`acc_f_long_end:.1f` %;
#   {glue:md}`verdict_f_long`.
# * **Meta-trained from scratch by ES on short episodes**
#   ({glue:md}`how_es`): on MNIST it ends at
#   {glue:text}`acc_m_es_end:.1f` % (peak {glue:text}`peak_m_es:.1f` % after
#   {glue:text}`peakat_m_es:,d` examples); {glue:md}`verdict_m_es`. On
#   Fashion-MNIST it ends at {glue:text}`acc_f_es_end:.1f` %;
#   {glue:md}`verdict_f_es`.
# * **Meta-trained from scratch by ES on the paper's episode length**
#   ({glue:md}`how_es500`): on MNIST it ends at
#   {glue:text}`acc_m_es500_end:.1f` % (peak {glue:text}`peak_m_es500:.1f` % after
#   {glue:text}`peakat_m_es500:,d` examples); {glue:md}`verdict_m_es500`. On
#   Fashion-MNIST it ends at {glue:text}`acc_f_es500_end:.1f` %;
#   {glue:md}`verdict_f_es500`.
# * **The best tuned baseline** ends at {glue:text}`bestb_m_end:.1f` % on MNIST
#   ({glue:md}`bestb_m`) and {glue:text}`bestb_f_end:.1f` % on Fashion-MNIST
#   ({glue:md}`bestb_f`).
#
# **Learning progress** (the sliding-window figure, MNIST): over the last
# {glue:text}`window` examples, the short-horizon $V_M$'s accuracy peaks at
# {glue:text}`wpeak_m_short:.1f` % (window ending at example
# {glue:text}`wpeakat_m_short:,d`) and is {glue:text}`wend_m_short:.1f` % at the
# end; the long-horizon $V_M$'s peaks at {glue:text}`wpeak_m_long:.1f` %
# (at {glue:text}`wpeakat_m_long:,d`) and is {glue:text}`wend_m_long:.1f` % at
# the end; the best tuned baseline's is {glue:text}`wend_m_best:.1f` % at the
# end. A peak long before the end, followed by a value lower by more than
# the noise of the runs, is unlearning; a peak at the end is a learner still
# improving. The findings below apply that test: a change over the second
# half counts when it exceeds two standard errors of the per-run difference,
# a fall from the peak when it exceeds three (the peak is picked out of
# thousands of windows, so it is biased upwards).
#
# **What this says.** On MNIST the short-horizon $V_M$: {glue:md}`finding_m_short`
# The pool-trained $V_M$: {glue:md}`finding_m_long` On Fashion-MNIST the
# short-horizon $V_M$: {glue:md}`finding_f_short` The pool-trained one:
# {glue:md}`finding_f_long`
#
# The ES $V_M$ was meta-trained on episodes of the same length (100
# examples) as the short-horizon BPTT one. On MNIST: {glue:md}`finding_m_es` On Fashion-MNIST:
# {glue:md}`finding_f_es` Both were meta-trained only up to the same horizon,
# so any difference between them past it comes from how they were
# meta-trained, not from what they were asked to do. That is more than the
# gradient estimator (ES optimises a smoothed meta-loss, averaged over a
# population around $V_M$; BPTT follows its exact gradient): the BPTT $V_M$
# has a LayerNorm on its messages and the ES one has not, they saw different
# training data (the BPTT one a partial copy of the MNIST training split, the
# ES one the whole of it; printed above) and ran for different numbers of
# steps. One run of each cannot say which of these is responsible.
#
# **A control.** {glue:md}`name_noln` was meta-trained as the short-horizon
# BPTT $V_M$ was ({glue:text}`steps_noln:,d` BPTT steps, against
# {glue:text}`steps_short:,d`) but without LayerNorm and on the whole official
# training split, so what still separates it from the ES $V_M$ is how it was
# meta-trained: the estimator, with its own step size and meta-batch, and the
# number of steps ({glue:text}`steps_es:,d` ES generations). On MNIST:
# {glue:md}`finding_m_noln` On Fashion-MNIST: {glue:md}`finding_f_noln` To
# compare how much each loses, take, per run, the share of its above-chance
# windowed accuracy at the peak (chance is one in ten) that it still holds at the
# end of the MNIST runs: {glue:md}`ret_short` for the short-horizon BPTT
# $V_M$, {glue:md}`ret_es` for the ES one, {glue:md}`ret_noln` for the
# control. Judged by the paired difference against two standard errors,
# {glue:md}`control_noln`. One limit of this measure: the window
# ({glue:text}`window` examples) is longer than the short episodes
# ({glue:text}`hor_short:,d` examples), so a learner that collapses within its
# first few hundred examples has its windowed peak at the first window, which
# already averages part of the fall; for such a learner the share kept
# understates the collapse (compare its cumulative peak above).
#
# **LayerNorm or data?** The two-by-two design of four short-horizon BPTT
# $V_M$s ({numref}`fig-08-factorial`) separates the two; the share each keeps
# at the end of the MNIST runs:
#
# {glue:md}`factorial_table`
#
# {glue:md}`says_ln` {glue:md}`says_data` Halfway through meta-training:
# {glue:md}`early_text` Every cell is one meta-training run (one seed), so
# these standard errors measure the meta-test's noise, not how much a second
# meta-training seed would differ. A second seed of the LayerNorm/full cell
# ({numref}`fig-08-seeds`): {glue:md}`seed_text`
#
# The ES $V_M$ meta-trained on the paper's longer episodes, with the same
# population and step size: on MNIST, {glue:md}`finding_m_es500` On
# Fashion-MNIST, {glue:md}`finding_f_es500` Compare it with the
# short-episode ES $V_M$ above: this is the
# paper's Figure 19 setting (ES on 500-example episodes), but at 7x7 and with
# {glue:text}`members_es` members where the paper had 28x28 inputs and a far
# larger population.
#
# **Why the bias, and what the pool does.** Meta-training on episodes of $T$
# examples optimises the learning algorithm for states reached within $T$
# examples only; nothing asks it to keep improving, or even to stay stable,
# beyond. Carrying states across truncated segments lets meta-training see
# states from far beyond the backpropagation window, so the learner is asked
# to do well at every position out to the pool's longest episodes (its dotted
# line); past that line it is again outside what it was meta-trained on.
# Doing well at late positions can be achieved by *holding* what was learned
# (a flat window curve) or by *continuing to improve* (a rising one); only the
# second stops gradient descent from overtaking, and the findings above say
# which of the two the shipped $V_M$s do. {glue:md}`pool_vs_data`
#
# ## Exercises
#
# **1. Cumulative versus windowed.** After $10{,}000$ examples a learner's
# cumulative accuracy is $80\,\%$. For the next $2{,}000$ examples it is right $95\,\%$ of
# the time. What is its cumulative accuracy after $12{,}000$? What does this say
# about reading "overtaking" off a cumulative curve?
#
# ```{admonition} Solution
# :class: dropdown
# $(0.80 \cdot 10000 + 0.95 \cdot 2000) / 12000 = 0.825$: a learner that is
# now far better moves the cumulative curve by only $2.5$ points. Cumulative
# curves integrate the past, so a crossing on them comes long after the
# learners' current accuracies crossed. The windowed verdicts can therefore
# come earlier, but not before the first window ends (example
# {glue:text}`window`): where a baseline is ahead almost from the start, as
# several are above, the cumulative verdict is the earlier one.
# ```
#
# **2. Tuned for which horizon? (runs code)** The baselines above are tuned
# for the whole run. Re-run online SGD with the rate that is best after 500
# examples instead, on the same MNIST runs. Does it overtake the short-horizon
# $V_M$ sooner or later?
#
# ```{admonition} Solution
# :class: dropdown
# The hidden cell below tunes SGD for 500 examples and reruns it. A rate tuned
# for a short horizon is usually larger (compare the two printed rates): it
# learns faster early, which can move the crossing earlier, but it plateaus
# lower, so it ends below the rate tuned for the whole run. Which rate "the"
# baseline uses is part of the claim, which is why chapter
# {doc}`07_meta_learning` tunes per horizon. In this run: {glue:md}`ex2_answer`
# ```

# %% tags=["hide-cell"]
h_ex = min(500, length)
t_ex = horizon.tune_lr_at_horizons(x_tune, y_tune, 10, lr_grid["sgd"], [h_ex], optimizer="sgd", seed=seed)
x, y = online_episodes(mnist_train, num_runs, length, seed=2000 + seed, image_size=image_size, device=dev)
sgd_ex = online_metrics(online_sgd(x, y, 10, seed=seed, lr=t_ex.best[h_ex], optimizer="sgd")["logits"], y)["cum_acc"]
t_cross = horizon.overtakes(curves["MNIST", name_short], sgd_ex.cpu())
t_whole = overtake["MNIST", name_short, "SGD"]
end_ex, end_whole = (100 * float(c.mean(0)[-1]) for c in (sgd_ex.cpu(), curves["MNIST", "SGD"]))
if t_cross is None and t_whole is None:
    when = "neither rate overtakes the short-horizon $V_M$ within the run"
elif t_cross is None or t_whole is None:
    when = (f"only the rate tuned for {h_ex if t_whole is None else f'{length:,}'} examples overtakes the "
            f"short-horizon $V_M$, after {(t_cross if t_whole is None else t_whole):,} examples")
else:
    when = (f"the rate tuned for {h_ex} examples overtakes the short-horizon $V_M$ "
            f"{'sooner' if t_cross < t_whole else 'later' if t_cross > t_whole else 'at the same example'} "
            f"(after {t_cross:,} examples, against {t_whole:,})")
glue("ex2_answer", Markdown(f"SGD's rate tuned for {h_ex} examples is {t_ex.best[h_ex]:g} (for the whole run: "
                            f"{tuned['SGD']:g}); {when}; with it SGD ends at {end_ex:.1f} % against {end_whole:.1f} %."),
     display=False)
print(f"SGD tuned for {h_ex} (lr {t_ex.best[h_ex]:g}): ends at {100 * float(sgd_ex.mean(0)[-1]):.1f}%, "
      f"overtakes {name_short} " + ("never" if t_cross is None else f"after {t_cross:,} examples")
      + f" (tuned for {length:,}: " + (f"after {overtake['MNIST', name_short, 'SGD']:,})"
                                         if overtake["MNIST", name_short, "SGD"] else "never)"))

# %% [markdown]
# **3. How far does the pool reach? (runs code)** The pool restarts each
# slot's episode after a length $L$ drawn log-uniformly on $[a, b]$ (the two
# lengths in the long-horizon $V_M$'s provenance). A slot spends time in an
# episode in proportion to its length. What fraction of meta-training segments
# lie beyond example $p$ of their episode? Evaluate it for $p = 2{,}000$ and
# $p = 12{,}000$.
#
# ```{admonition} Solution
# :class: dropdown
# The density of $L$ is $\propto 1/L$, and time weights it by $L$, so the
# segments' episode lengths are *uniform* on $[a, b]$. The fraction of
# segments past position $p$ is
# $\mathbb{E}[(L - p)^+]/\mathbb{E}[L] = \big((b - p) - p \ln(b/p)\big)/(b - a)$ for
# $a \le p \le b$, and 0 beyond $b$. The hidden cell evaluates it from the
# provenance and checks it by sampling: positions past $b$ are never trained,
# which is why raising `episode_length_max` (and training longer, since the far
# positions are rare) is the lever for learning out to 12,000 examples.
# ```

# %% tags=["hide-cell"]
# NBVAL_CHECK_OUTPUT
import math

c = VMS[name_long]["prov"]["config"]
a, b = c["episode_length"], c.get("episode_length_max") or c["episode_length"]


def beyond(p):
    """Fraction of a log-uniform pool's segments past position p (the formula of the solution)."""
    if b == a:
        return max(0.0, 1 - p / a)
    mean_length = (b - a) / math.log(b / a)
    if p <= a:
        return 1 - p / mean_length
    return max(0.0, ((b - p) - p * math.log(b / p)) / (b - a)) if p < b else 0.0


lengths = torch.exp(math.log(a) + torch.rand(200_000, generator=torch.Generator().manual_seed(0)) * math.log(b / a))
for p in (2000, 12000):
    sampled = float((lengths - p).clamp(min=0).sum() / lengths.sum())
    print(f"pool [{a:,}, {b:,}]: fraction of segments past example {p:,}: formula {beyond(p):.3f}, sampled {sampled:.3f}")

# %% [markdown]
# ## Summary
#
# * A learning algorithm meta-trained on finite episodes is optimised for
#   those episodes only; past their end it may stop improving or unlearn, and
#   tuned gradient descent, which keeps improving, overtakes it.
# * Meta-training on a persistent pool of long episodes, cut into truncated
#   BPTT segments with the state carried, is the way around it that the
#   paper suggests for future work. In this run: {glue:md}`summary_pool`
#   {glue:md}`pool_vs_data`
# * The ES $V_M$ meta-trained on the paper's 500-example episodes, without a
#   pool, did better still on MNIST: {glue:text}`acc_m_es500_end:.1f` % at the
#   end against {glue:text}`acc_m_long_end:.1f` % for the pool-trained one.
#   Estimator, architecture (no LayerNorm), data and steps all differ between
#   the two, so this is not a controlled comparison of pool against episode
#   length.
# * The paper's own method, ES, is tested here too, on short episodes
#   ({glue:md}`name_es`) and on the paper's episode length
#   ({glue:md}`name_es500`); their findings are above.
# * Why the short-episode ES $V_M$ loses less of what it learned than the
#   BPTT one: with LayerNorm and data matched to ES ({glue:md}`name_noln`),
#   {glue:md}`control_noln`.
# * LayerNorm or data, one at a time (four BPTT $V_M$s, one meta-training
#   run each, {numref}`fig-08-factorial`): {glue:md}`says_ln`
#   {glue:md}`says_data` These verdicts are one meta-training seed's; a
#   second seed of one cell ({numref}`fig-08-seeds`): {glue:md}`seed_short`
#
# ## Provenance

# %%
print("; ".join(f"{vm}: commit {info['prov']['git_commit'][:12]}, {info['prov']['date']}" for vm, info in VMS.items()))
print(f"data: {mnist_train.describe()} | {fashion_train.describe()}")
print(f"chapter runtime {run.elapsed()} on {dev}, peak memory {peak_rss_mb():,.0f} MB")

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

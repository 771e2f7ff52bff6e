# %% [markdown]
# # Few-shot learning: Omniglot (run here on a stand-in)
#
# COLAB_BADGE
#
# **What this chapter reproduces:** Appendix B.2, "Omniglot" (Figure 18) of
# {cite}`kirsch2021vsml`: VSML, the Meta RNN {cite}`hochreiter2001learning`
# and the fast-weight memory FWMemory {cite}`schlag2021learning` meta-trained
# and meta-tested on 5-way 1-shot episodes, beside online SGD with Adam
# {cite}`kingma2015adam`.
#
# ```{admonition} Learning objectives
# After this chapter you can
# * state the N-way K-shot protocol and why only the query is scored;
# * meta-train any model of `vsml.meta` on few-shot episodes
#   (`episode_kind: few_shot`; the configs `cpu_bptt_fewshot_*` made the
#   shipped checkpoints) and meta-test it with `vsml.few_shot`;
# * read a few-shot accuracy with its standard error, against chance and
#   against a gradient-descent learner that sees the same five examples.
# ```
#
# **The claim under test.** "In each episode, we select 5 random classes,
# sample 1 instance each, and show it to the network with the label and
# prediction error. Then, we sample a new random test instance from one of
# the 5 classes and meta train to minimize the cross-entropy on that
# example. At meta test time we use unseen alphabets (classes) from the test
# set" (Appendix B.2). Its findings, in full: "The results (Figure 18) nicely
# demonstrate how common baselines such as the Meta RNN [16, 10, 56] or a
# Meta RNN with external memory [42] work well in an Omniglot setting, yet
# fail when the gap increases between meta train and meta test, thus
# requiring stronger generalization (Figure 6, Figure 8)." "In contrast, VSML
# generalizes well to unseen datasets, e.g. Fashion MNIST, although it does
# learn more slowly on Omniglot." And: "VSML learns significantly faster on
# Omniglot compared to SGD with Adam" (all Appendix B.2). The text says it
# reports "the accuracy of the test instance across 100 episodes", but not
# what Figure 18's axes are, so "learns more slowly" may be about
# meta-training progress; we read it as lower query accuracy at the end of
# the budget and show the meta-training curves too. Its numbers are not in
# the text, so we quote its words and compare orderings. Our stand-in (below) meta-tests across a domain gap,
# so it tests the second half of the first sentence, not the first.
# **Targets** on the stand-in, judged with two standard errors of the
# difference (paired where two learners met the same episodes):
# (a) VSML's query accuracy on Fashion-MNIST above Adam's;
# (b) the Meta RNN, and FWMemory, each above chance on MNIST test digits
# (the meta-training classes) *and* lower on Fashion-MNIST than there
# ("fail when the gap increases");
# (c) VSML not lower on Fashion-MNIST than on MNIST test digits beyond two
# standard errors ("generalizes well to unseen datasets, e.g. Fashion
# MNIST"). This is a non-inferiority check, weaker than (a) and (b): a
# small drop passes (the smallest it can detect is printed below). The
# paper backs this sentence with its online-learning Figures 6 and 8, not
# with few-shot episodes; here it is asked of the few-shot learner.
#
# **Where we differ from the paper.**
# * *Data: a stand-in.* Omniglot {cite}`lake2015omniglot` needs a download
#   that this machine cannot make. The main result here is therefore a
#   **stand-in for Omniglot with the same protocol on real data**:
#   meta-training on MNIST digits {cite}`lecun2010mnist` (5 of the 10 digits
#   per episode, relabelled), meta-testing on Fashion-MNIST classes
#   {cite}`xiao2017fashion`: the meta-test classes are disjoint from the
#   meta-training ones, and so is their domain, a wider gap than the paper's
#   background/evaluation alphabets. The Omniglot path (parameter
#   `dataset = "omniglot"`) runs where the data is present (a connected
#   machine, Colab: `python -m vsml.data fetch omniglot`) and prints
#   "not run: needs download" otherwise; its code is tested on a tiny
#   Omniglot-format archive (`tests/test_few_shot.py`).
# * *Scale.* {glue:text}`resolution` inputs, BPTT with
#   {glue:text}`meta_batch` episodes per update, a fixed budget of
#   {glue:text}`budget_minutes` minutes on {glue:text}`train_threads` per
#   model, hence different step counts per model (the paper gives neither
#   its Omniglot training budget nor its resolution). VSML starts from the
#   shipped online-MNIST $V_M$ `mnist_bptt` (chapter {doc}`07_meta_learning`)
#   and is then few-shot meta-trained; the Meta RNN and FWMemory start from
#   scratch, so the budgets are *not* equal: VSML also has the online
#   meta-training of `mnist_bptt` behind it. Each model's provenance is
#   printed below.
# * *Meta-training method.* The paper meta-trains with ES across GPUs
#   (Appendix C.2); here every model is meta-trained by BPTT on one CPU
#   thread.
# * *Meta RNN size.* Appendix C.2 gives the Meta RNN "an LSTM hidden size of
#   16" and "about 100k to 150k parameters" (on inputs padded across its
#   datasets). At our {glue:text}`resolution` inputs and five outputs, 16
#   units would have only {glue:text}`params_metarnn16` parameters; we use
#   {glue:text}`metarnn_hidden` units ({glue:text}`params_metarnn`
#   parameters), nearer the paper's count than its stated width.
# * *Episodes and seeds.* We report {glue:text}`num_episodes` meta-test
#   episodes per learner (the paper: 100) with one standard error. The
#   standard errors are over episodes only: each model had one meta-training
#   run, so every verdict below concerns these checkpoints, not the variance
#   across meta-training seeds.

# %% tags=["parameters"]
smoke = False
device = "auto"
seed = 0
num_episodes = 1000                  # meta-test episodes per learner (the paper reports 100)
n_way = 5                            # the paper's 5-way 1-shot setting
k_shot = 1
image_size = 7                       # the shipped few-shot learners were meta-trained on 7x7 inputs
dataset = "omniglot"                 # the paper's data; runs only where vsml.data can load it
omniglot_steps = 300                 # Omniglot steps per model (where present), continuing from its shipped
                                     # few-shot checkpoint: from scratch, 300 would leave the Meta RNN at chance
pretrained = {"VSML": "fewshot_vsml", "Meta RNN": "fewshot_metarnn", "FWMemory": "fewshot_fwmemory"}
pretrained_online_vsml = "mnist_bptt"  # VSML before few-shot meta-training (online MNIST only)

# %%
# Colab: install the book's release of the package.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "vsml @ git+REPO_URL@BOOK_RELEASE"], check=True)

# %%
import dataclasses
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown

from vsml import data, few_shot, meta, stats, tasks
from vsml.book import chapter_setup, glue
from vsml.memory import peak_rss_mb

run = chapter_setup(smoke=smoke, device=device, seed=seed,
                    cpu_only="episodes of 6 steps at 7x7: a GPU would mostly wait on kernel launches")
num_episodes = num_episodes if not run.smoke else 20
omniglot_steps = omniglot_steps if not run.smoke else 2
CHANCE = 100.0 / n_way
print(f"{n_way}-way {k_shot}-shot, {num_episodes:,} meta-test episodes per learner, inputs {image_size}x{image_size}")
glue("num_episodes", f"{num_episodes:,}")
glue("chance", f"{CHANCE:.0f}")
glue("resolution", f"{image_size}x{image_size}")
glue("omniglot_steps", f"{omniglot_steps:,}")

# %% [markdown]
# ## The protocol
#
# `vsml.tasks.few_shot_episodes` draws an episode: `n_way` random classes,
# relabelled $0..n-1$ in random order, `k_shot` examples of each, shuffled,
# then one query, a new example of one of those classes. A learner runs it
# online (Algorithm 2): at every step it predicts, then sees the label and
# its error. Only the last prediction, the query's, is scored: the loss
# mask. In meta-training, `episode_kind: few_shot` makes `vsml.meta` draw
# these episodes per seed and take the meta-loss on the masked step only;
# the model's outputs are the episode's `n_way` classes.

# %%
# NBVAL_CHECK_OUTPUT
cfg = meta.load_config("cpu_bptt_fewshot_vsml")
print(f"episode_kind={cfg.episode_kind}, n_way={cfg.n_way}, k_shot={cfg.k_shot}, "
      f"{cfg.few_shot_length} steps per episode, {cfg.meta_batch_size} episodes per BPTT update, "
      f"meta-train data {cfg.dataset} at {cfg.resize}x{cfg.resize}, init_from {cfg.init_from}")
fewshot_cfg = {}
for model in ("vsml", "metarnn", "fwmemory"):
    c = fewshot_cfg[model] = meta.load_config(f"cpu_bptt_fewshot_{model}")
    n = meta.build_model(c, image_size * image_size, n_way).init_flat(0).numel()
    print(f"config cpu_bptt_fewshot_{model}: model {c.model}, options {c.model_options}, {n:,} parameters")
c = fewshot_cfg["metarnn"]
n16 = meta.build_model(dataclasses.replace(c, model_options={**c.model_options, "hidden_size": 16}),
                       image_size * image_size, n_way).init_flat(0).numel()
print(f"the same Meta RNN with the 16 hidden units of Appendix C.2: {n16:,} parameters")
glue("meta_batch", f"{cfg.meta_batch_size}")
glue("metarnn_hidden", f"{c.model_options['hidden_size']}")
glue("params_metarnn", f"{meta.build_model(c, image_size * image_size, n_way).init_flat(0).numel():,}")
glue("params_metarnn16", f"{n16:,}")
mnist_test = data.load("mnist", "test")
fashion = data.load("fashion_mnist", "test")
demo = tasks.few_shot_episodes(fashion, 1, n_way, k_shot, seed=3)
print("labels of one episode:", demo.y[0].tolist(), " scored (loss mask):", demo.loss_mask[0].int().tolist())

# %% mystnb={"figure": {"name": "fig-14-episode", "caption": "One 5-way 1-shot episode of the stand-in meta-test (Fashion-MNIST test split): five labelled support examples in random order, then the query (red), whose prediction alone is scored; top at full size, bottom at the resolution the learners see."}}
demo_full = tasks.few_shot_episodes(fashion, 1, n_way, k_shot, seed=3, image_size=None, standardize=False)
demo_small = tasks.few_shot_episodes(fashion, 1, n_way, k_shot, seed=3, image_size=image_size, standardize=False)
fig, axes = plt.subplots(2, n_way * k_shot + 1, figsize=(10, 3.6))
for t in range(n_way * k_shot + 1):
    for row, (ep, side) in enumerate(((demo_full, 28), (demo_small, image_size))):
        ax = axes[row, t]
        ax.imshow(ep.x[0, t].view(side, side), cmap="gray_r")
        ax.set_xticks([])
        ax.set_yticks([])
        if row == 0:
            ax.set_title(("query" if t == n_way * k_shot else f"step {t + 1}") + f"\nlabel {int(ep.y[0, t])}",
                         fontsize=9, color="C3" if t == n_way * k_shot else "k")
axes[0, 0].set_ylabel("28x28")
axes[1, 0].set_ylabel(f"{image_size}x{image_size}")
plt.tight_layout()
plt.show()

# %% [markdown]
# {numref}`fig-14-episode` shows one meta-test episode: five labelled examples, then the
# query, at full size (top) and at the resolution the learners see (bottom).

# %% [markdown]
# ## The learners
#
# Three few-shot meta-trained learners (shipped in `vsml/pretrained`, with
# their provenance), the VSML $V_M$ they started from for reference
# (meta-trained on online MNIST only, never on few-shot episodes), and two
# gradient-descent learners that see the same five labelled examples one at
# a time: a single layer trained by online SGD and by Adam. Their learning
# rates are tuned for this task: the paper's rates (1e-2, 1e-3; Appendix
# C.2) were tuned for long online runs, which need not suit five examples.
# Each baseline gets the rate with the best query accuracy on
# {glue:text}`tune_episodes` few-shot episodes of the MNIST *training*
# split (the meta-learners' training data), the grid widened until the best
# rate has a worse one on each side. A widened rate is the edge rate times
# the ratio of the two edge rates, rounded to three digits, and is printed
# as such (marked `*`); widened rates, SGD: {glue:text}`lr_sgd_widened`;
# Adam: {glue:text}`lr_adam_widened`. Each rate's accuracy carries a binomial
# standard error; SGD's optimum is {glue:text}`lr_sgd_flat`, Adam's
# {glue:text}`lr_adam_flat`.

# %%
mnist_train = data.load("mnist", "train")
tune_episodes = 1000 if not run.smoke else 20
tuned_lr = {}


binomial_se = few_shot.binomial_sem_of  # one standard error (points) of an accuracy (%) over n episodes


for method, grid in (("SGD", [1e-2, 3e-2, 1e-1, 3e-1, 1.0]), ("Adam", [1e-3, 3e-3, 1e-2, 3e-2, 1e-1])):
    tuned_lr[method], table = few_shot.tune_lr(method, mnist_train, grid, num_episodes=tune_episodes, n_way=n_way,
                                               k_shot=k_shot, image_size=image_size, seed=seed + 1000)
    best = tuned_lr[method]
    inside = min(table) < best < max(table)
    widened = [lr for lr in table if lr not in grid]
    print(f"{method:5s} query accuracy (%) by rate: "
          + ", ".join(f"{lr:g}{'*' if lr in widened else ''}: {a:.1f} +- {binomial_se(a, tune_episodes):.1f}"
                      for lr, a in table.items())
          + f" -> lr {best:g} ({'inside the grid' if inside else 'AT THE EDGE of the grid'})")
    # rates whose accuracy is within two standard errors (of the difference) of the best one
    near = [lr for lr, a in table.items() if lr != best and stats.beyond(*stats.independent_difference(
            table[best], binomial_se(table[best], tune_episodes), a, binomial_se(a, tune_episodes))) is not True]
    flat = (f"flat: {', '.join(f'{lr:g}' for lr in near)} within two standard errors of the best"
            if near else "distinct: every other rate more than two standard errors below the best")
    print(f"      {'* widened beyond the given grid; ' if widened else ''}optimum {flat}")
    glue(f"lr_{method.lower()}", f"{best:g}")
    glue(f"lr_{method.lower()}_widened", ", ".join(f"{lr:g}" for lr in widened) if widened else "none")
    glue(f"lr_{method.lower()}_flat", flat)
glue("tune_episodes", f"{tune_episodes:,}")
learners = [few_shot.Learner(name, meta.load_pretrained(p)[1]["model"], p) for name, p in pretrained.items()]
learners += [few_shot.Learner("VSML, online MNIST only", "vsml", pretrained_online_vsml),
             few_shot.Learner("Adam", "Adam", lr=tuned_lr["Adam"]), few_shot.Learner("SGD", "SGD", lr=tuned_lr["SGD"])]
provenance = {l.name: meta.load_pretrained(l.pretrained)[1] for l in learners if l.pretrained}


def describe(prov):
    c = prov["config"]
    kind = (f"{c.get('n_way')}-way {c.get('k_shot')}-shot episodes" if c.get("episode_kind") == "few_shot"
            else f"online episodes of {c['episode_length']} examples")
    return (f"{prov['method'].upper()} on {prov['dataset']['name']} {c['resize']}x{c['resize']}, {kind}, "
            f"{prov['steps']:,} steps, {prov['wall_time_s'] / 60:.0f} min on {prov['device'].split(' (')[0]}"
            + (f", continued from {c['init_from']}" if c.get("init_from") else ""))


for name, prov in provenance.items():
    print(f"{name:24s} {prov['name']:18s} {prov['num_params']:6,} params; {describe(prov)}")
for name in pretrained:
    glue(f"steps_{name.split()[-1].lower()}", f"{provenance[name]['steps']:,}")
    glue(f"minutes_{name.split()[-1].lower()}", f"{provenance[name]['wall_time_s'] / 60:.0f}")
budget = sorted({f"{provenance[name]['wall_time_s'] / 60:.0f}" for name in pretrained}, key=float)
threads = sorted({provenance[name]["config"]["num_threads"] for name in pretrained})
glue("budget_minutes", budget[0] if len(budget) == 1 else f"{budget[0]} to {budget[-1]}")
glue("minutes_online", f"{provenance['VSML, online MNIST only']['wall_time_s'] / 60:.0f}")
glue("train_threads", "one CPU thread" if threads == [1] else f"{'/'.join(map(str, threads))} CPU threads")

# %% [markdown]
# ## Meta-training curves
#
# Each run's periodic meta-test (query accuracy on fixed episodes of MNIST
# *test* digits: same classes, unseen images) as stored in its provenance.
# The three few-shot runs had the same CPU-minute budget, hence different
# step counts (VSML also had the {glue:text}`minutes_online` minutes of
# `mnist_bptt`'s online meta-training behind it). We
# add two points per model, computed here on the same evaluation episodes
# (`MetaTrainer.evaluate`): step 0, the $V_M$ each run started from (for
# VSML the online-MNIST `mnist_bptt`, for the others a fresh initialisation
# from the config's seed), and the shipped checkpoint at its last step.

# %%
endpoints = {}
for name, p in pretrained.items():
    c = dataclasses.replace(fewshot_cfg[provenance[name]["model"]], device="cpu")
    for where, init in (("start", c.init_from), ("end", p)):
        trainer = meta.MetaTrainer(dataclasses.replace(c, init_from=init), dataset=mnist_train,
                                   eval_dataset=mnist_test, device="cpu")
        endpoints[name, where] = 100 * trainer.evaluate()["eval_accuracy"]
    print(f"{name:9s} step 0 ({c.init_from or 'fresh init, seed ' + str(c.seed)}): "
          f"{endpoints[name, 'start']:.1f} %, last step {provenance[name]['steps']:,}: {endpoints[name, 'end']:.1f} %"
          f" ({c.eval_episodes} evaluation episodes)")


def curve_of(name):
    """(step, accuracy %) of a run: step 0 and the last step computed here, the rest from its provenance."""
    stored = [(r["step"], 100 * r["eval_accuracy"]) for r in provenance[name]["eval_curve"]]
    return [(0, endpoints[name, "start"])] + stored + [(provenance[name]["steps"], endpoints[name, "end"])]


# When did the Meta RNN leave chance for good: the first evaluation from which on every one is beyond two
# standard errors above chance (binomial, over the evaluation episodes)?
n_eval = fewshot_cfg["metarnn"].eval_episodes
line = CHANCE + 2 * binomial_se(CHANCE, n_eval)
rnn_curve = curve_of("Meta RNN")
left = next((s for i, (s, _) in enumerate(rnn_curve) if all(a > line for _, a in rnn_curve[i:])), None)
fw_steps = provenance["FWMemory"]["steps"]
rnn_by_fw = max(a for s, a in rnn_curve if s <= fw_steps)
print(f"chance + two standard errors over {n_eval} episodes: {line:.1f} %; the Meta RNN is above it "
      + (f"from step {left:,} on" if left is not None else "at no step for good")
      + f"; up to step {fw_steps:,} (FWMemory's last) its best evaluation was {rnn_by_fw:.1f} %")
glue("metarnn_left_step", f"{left:,}" if left is not None else "never")
glue("metarnn_at_fw_steps", Markdown(
    f"its periodic meta-test was {'not above chance plus two standard errors' if rnn_by_fw <= line else 'already above chance'}"
    f" at that point (at most {rnn_by_fw:.1f} % up to step {fw_steps:,}; the line is {line:.1f} %)"))
vsml_steps = provenance["VSML"]["steps"]
rnn_by_vsml = max(a for s, a in rnn_curve if s <= vsml_steps)
glue("metarnn_at_vsml_steps", Markdown(
    f"at VSML's {vsml_steps:,} steps the Meta RNN's periodic meta-test was "
    f"{'not above chance plus two standard errors' if rnn_by_vsml <= line else 'already above chance'} "
    f"(at most {rnn_by_vsml:.1f} %)"))
fw_best = max(a for _, a in curve_of("FWMemory"))
glue("fwmemory_curve", Markdown(f"{'never rises above chance plus two standard errors' if fw_best <= line else 'leaves chance'}"
                                f" (at most {fw_best:.1f} %)"))
vsml_curve = curve_of("VSML")
glue("vsml_curve", Markdown(f"from {vsml_curve[0][1]:.1f} % at step 0 to {vsml_curve[-1][1]:.1f} % at its last step"))
# Still rising at the end? The last step against the evaluation a quarter of the run earlier.
s_q, a_q = next((s, a) for s, a in rnn_curve if s >= 0.75 * provenance["Meta RNN"]["steps"])
a_end = endpoints["Meta RNN", "end"]
rising = stats.beyond(*stats.independent_difference(a_end, binomial_se(a_end, n_eval),
                                                    a_q, binomial_se(a_q, n_eval))) is True
glue("metarnn_trend", "still rising" if rising else "no longer rising beyond two standard errors")
glue("metarnn_rise", Markdown(
    f"{'still rising' if rising else 'no longer rising beyond two standard errors'}: {a_q:.1f} % at step "
    f"{s_q:,}, {a_end:.1f} % at its last step, {provenance['Meta RNN']['steps']:,}"))

# %% mystnb={"figure": {"name": "fig-14-metatraining", "caption": "Few-shot meta-training on MNIST digits: query accuracy on fixed episodes of MNIST test digits (the meta-training classes, unseen images). Filled markers: read from each shipped model's provenance; open markers: computed here on the same episodes, at step 0 (VSML: the mnist_bptt it continues from; the others: a fresh initialisation) and at the shipped checkpoint's last step. The three few-shot runs had the same CPU-minute budget, hence different step counts; VSML's start had its own online meta-training before. Linear x axis up to 100 steps, logarithmic beyond. Dotted: chance."}}
fig, ax = plt.subplots(figsize=(8, 4))
for i, name in enumerate(pretrained):
    steps_, accs_ = zip(*curve_of(name))
    ax.plot(steps_, accs_, "-", color=f"C{i}", label=name)
    ax.plot(steps_[1:-1], accs_[1:-1], "o", color=f"C{i}", clip_on=False)
    ax.plot([steps_[0], steps_[-1]], [accs_[0], accs_[-1]], "o", color=f"C{i}", mfc="white", clip_on=False)
ax.axhline(CHANCE, color="0.5", ls=":", label="chance")
ax.set_xscale("symlog", linthresh=100)
ax.set_xlim(left=0)
ax.set_xlabel("few-shot meta-training step (BPTT update)")
ax.set_ylabel("query accuracy, MNIST test (%)")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# In {numref}`fig-14-metatraining` the Meta RNN stays at chance for
# thousands of steps: it is above chance for good only from step
# {glue:text}`metarnn_left_step`, and at the end of its budget it is
# {glue:md}`metarnn_rise`. VSML starts from `mnist_bptt`, already above
# chance on these episodes, and goes {glue:md}`vsml_curve`
# ({glue:text}`steps_vsml` steps); FWMemory {glue:md}`fwmemory_curve`.

# %% [markdown]
# ### Meta-training one yourself
#
# The shipped checkpoints came from `python -m vsml.meta train --config
# cpu_bptt_fewshot_vsml --out RUN` (and `..._metarnn`, `..._fwmemory`). The
# configs allow far more steps than were run: each run was stopped from
# outside after its CPU budget (an interrupt writes a checkpoint, for
# example `timeout -s INT 12m python -m vsml.meta train ...`), so a budget
# gives a different step count on every machine. To repeat the shipped VSML
# run step for step, pass `--steps` {glue:text}`steps_vsml_plain` instead.
# The cell below makes the same call from
# Python for {glue:text}`own_steps` steps of the VSML config, into a
# temporary folder, and reads its own evaluation: what a reader would run to
# retrain or extend a learner. It is a demonstration of the call, with too
# few steps to be a result.

# %%
own_steps = 20 if not run.smoke else 2
own_cfg = dataclasses.replace(fewshot_cfg["vsml"], steps=own_steps, eval_every=own_steps, checkpoint_every=own_steps,
                              log_every=1, device="cpu")
own_dir = Path(tempfile.mkdtemp(prefix="vsml_fewshot_"))
threads_before = torch.get_num_threads()
t0 = time.perf_counter()
own = meta.train(own_cfg, own_dir, dataset=mnist_train, eval_dataset=mnist_test)
own_time = time.perf_counter() - t0
torch.set_num_threads(threads_before)  # meta.train sets the config's thread count for the whole process
own_eval = 100 * next(r["eval_accuracy"] for r in reversed(own.metrics) if "eval_accuracy" in r)
own_se = binomial_se(own_eval, own_cfg.eval_episodes)
print(f"{own_steps} steps of cpu_bptt_fewshot_vsml from {own_cfg.init_from} in {own_time:.0f} s; meta-training loss "
      f"per step: " + ", ".join(f"{r['loss']:.2f}" for r in own.metrics if "loss" in r))
print(f"evaluation ({own_cfg.eval_episodes} episodes of MNIST test digits): step 0 {endpoints['VSML', 'start']:.1f} %, "
      f"step {own_steps} {own_eval:.1f} +- {own_se:.1f} %; the shipped run, step {provenance['VSML']['steps']:,}: "
      f"{endpoints['VSML', 'end']:.1f} %")
glue("own_steps", f"{own_steps}")
glue("steps_vsml_plain", f"{provenance['VSML']['steps']}")
# The same evaluation episodes at both ends, but only accuracies are stored: treat the two as independent, which
# overstates the difference's standard error somewhat.
own_d = own_eval - endpoints["VSML", "start"]
own_d_se = (own_se ** 2 + binomial_se(endpoints["VSML", "start"], own_cfg.eval_episodes) ** 2) ** 0.5
glue("own_result", Markdown(
    f"It took {own_time:.0f} s; the evaluation went from {endpoints['VSML', 'start']:.1f} to {own_eval:.1f} % "
    f"({own_d:+.1f} points, standard error about {own_d_se:.1f} over {own_cfg.eval_episodes} episodes), "
    + ("beyond two standard errors" if abs(own_d) > 2 * own_d_se else
       "not distinguishable from the start at this number of episodes")
    + f"; the shipped run reached {endpoints['VSML', 'end']:.1f} % after {provenance['VSML']['steps']:,} steps"))

# %% [markdown]
# {glue:md}`own_result`. To go on from where a run stopped, pass the same
# folder with `resume=True` (or `--resume` on the command line) and a
# larger `steps`; `meta.export` turns the folder into a named checkpoint
# that every chapter can load.

# %% [markdown]
# ## Meta-testing on the stand-in: Fashion-MNIST classes
#
# Every learner meets the same {glue:text}`num_episodes` episodes (one seed).
# MNIST test episodes (the meta-training classes, unseen images) are shown
# beside them: the gap between the two is what generalisation costs.

# %%
t0 = time.perf_counter()
results = {}
for ds in (fashion, mnist_test):
    results[ds.name] = few_shot.evaluate(learners, ds, num_episodes=num_episodes, n_way=n_way, k_shot=k_shot,
                                         image_size=image_size, seed=seed)
elapsed = time.perf_counter() - t0
# Figure 18 on Omniglot, in the words of Appendix B.2 (the figure's values are not in the text).
PAPER = {"VSML": "\"learn[s] more slowly on Omniglot\"; \"generalizes well to unseen datasets\"",
         "Meta RNN": "\"work[s] well in an Omniglot setting, yet fail[s] when the gap increases\"",
         "FWMemory": "the same (\"a Meta RNN with external memory\")",
         "Adam": "VSML \"learns significantly faster on Omniglot\"", "SGD": "not shown",
         "VSML, online MNIST only": "not shown"}
print(f"{'learner':24s} {'Fashion-MNIST':>16s} {'MNIST (test)':>16s}   paper, Figure 18 (Appendix B.2)")
for l in learners:
    f, m = results["fashion_mnist"][l.name], results["mnist"][l.name]
    print(f"{l.name:24s} {f['acc']:8.1f} +- {f['sem']:4.1f} % {m['acc']:8.1f} +- {m['sem']:4.1f} %   {PAPER[l.name]}")
print(f"{'chance':24s} {CHANCE:8.1f} %")
print(f"meta-testing took {elapsed:.0f} s on {run.device}; data: {fashion.describe()}; {mnist_test.describe()}")

# %% mystnb={"figure": {"name": "fig-14-accuracy", "caption": "Query accuracy of every learner on the same 5-way 1-shot episodes: Fashion-MNIST classes (the stand-in meta-test, new classes and domain) and MNIST test digits (the meta-training classes). Error bars: one standard error; dotted: chance. The verdicts use two standard errors of the paired difference, so overlapping or separate error bars are not the test."}}
fig, ax = plt.subplots(figsize=(11, 4.8))
width = 0.38
for j, (ds_name, label) in enumerate((("fashion_mnist", "Fashion-MNIST (stand-in meta-test)"),
                                      ("mnist", "MNIST test (meta-training classes)"))):
    accs = [results[ds_name][l.name]["acc"] for l in learners]
    sems = [results[ds_name][l.name]["sem"] for l in learners]
    ax.bar([i + (j - 0.5) * width for i in range(len(learners))], accs, width, yerr=sems, capsize=3,
           label=label, color="C0" if j == 0 else "C7", alpha=1.0 if j == 0 else 0.6)
ax.axhline(CHANCE, color="0.3", ls=":", label=f"chance ({CHANCE:.0f} %)")
ax.set_xticks(range(len(learners)))
ax.set_xticklabels([l.name for l in learners], rotation=15, fontsize=11)
ax.tick_params(axis="y", labelsize=11)
ax.set_ylabel("query accuracy (%)", fontsize=11)
ax.set_title(f"{n_way}-way {k_shot}-shot query accuracy, {num_episodes:,} episodes")
ax.legend(fontsize=11)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The Omniglot path
#
# With `dataset = "omniglot"` and the data present, each few-shot learner
# is meta-trained for {glue:text}`omniglot_steps` more few-shot steps on the
# background alphabets, continuing from its shipped MNIST few-shot
# checkpoint (the same configs with `dataset: omniglot` and `init_from`
# the shipped name), at the same {glue:text}`resolution` inputs; then all
# learners are meta-tested on the evaluation alphabets. It continues rather
# than starts from scratch because a from-scratch run this short would
# most likely leave the Meta RNN at chance: on MNIST it left chance for
# good only from step {glue:text}`metarnn_left_step`
# ({numref}`fig-14-metatraining`). It is still far short of a full
# Omniglot meta-training (whose budget the paper does not give): the code
# path, run where the data is. Nothing in this chapter's text rests on its
# results. At {glue:text}`resolution` a 105x105 character keeps little of
# its strokes, so even this path is not a faithful test of Figure 18.

# %%
omniglot_results, omniglot_note = None, ""
if dataset != "omniglot":
    omniglot_note = f"not run: dataset = {dataset!r}"
else:
    try:
        background = data.load("omniglot", "train", download=False)
        evaluation = data.load("omniglot", "test", download=False)
    except (data.DatasetUnavailable, FileNotFoundError) as exc:
        omniglot_note = "not run: needs download"
        print(f"why: {str(exc).splitlines()[0].removesuffix(' Looked at:')}")
if omniglot_note == "":
    work = Path(tempfile.mkdtemp(prefix="vsml_omniglot_"))
    omniglot_learners = []
    for name, p in pretrained.items():
        model = provenance[name]["model"]
        c = dataclasses.replace(fewshot_cfg[model], dataset="omniglot", init_from=p,  # the shipped checkpoint
                                steps=omniglot_steps, eval_every=0, checkpoint_every=max(omniglot_steps, 1),
                                device="cpu")
        meta.train(c, work / model, dataset=background, eval_dataset=evaluation, progress=False)
        meta.export(work / model, f"omniglot_{model}", dest=work)
        omniglot_learners.append(few_shot.Learner(name, model, str(work / f"omniglot_{model}.pt")))
    omniglot_learners += [few_shot.Learner("Adam", "Adam", lr=tuned_lr["Adam"]),
                          few_shot.Learner("SGD", "SGD", lr=tuned_lr["SGD"])]
    omniglot_results = few_shot.evaluate(omniglot_learners, evaluation, num_episodes=num_episodes, n_way=n_way,
                                         k_shot=k_shot, image_size=image_size, seed=seed)
    omniglot_note = (f"ran: {omniglot_steps:,} meta-training steps per model, continued from the shipped MNIST "
                     f"few-shot checkpoints, at {image_size}x{image_size} on {background.describe()}")
    for name, r in omniglot_results.items():
        print(f"{name:10s} {r['acc']:5.1f} +- {r['sem']:.1f} %")
if not omniglot_note.startswith("not run"):
    print(omniglot_note)
glue("omniglot_note", Markdown(omniglot_note))

# %% [markdown]
# ## Checks and the numbers for the report

# %%
fm, mn = results["fashion_mnist"], results["mnist"]


def dataset_of(r):
    """The dataset whose meta-test episodes produced result ``r`` (one of the dicts in ``results``)."""
    return next(ds for ds, per in results.items() if any(v is r for v in per.values()))


def difference(x, y):
    """x minus y (points) and its standard error: paired when both met the same episodes (one dataset),
    independent otherwise (two datasets)."""
    if dataset_of(x) == dataset_of(y):
        return stats.paired_difference(100 * x["correct"].double(), 100 * y["correct"].double())
    return stats.independent_difference(x["acc"], x["sem"], y["acc"], y["sem"])


def beyond(x, y):
    """x above y by more than two standard errors of the difference."""
    return stats.beyond(*difference(x, y)) is True


def compare(x, y, y_name):
    """x against y in words: above, below, or within two standard errors of y."""
    d, se = difference(x, y)
    if beyond(x, y):
        return f"above {y_name} beyond two standard errors ({d:+.1f} points, standard error {se:.1f})"
    if beyond(y, x):
        return f"below {y_name} beyond two standard errors ({d:+.1f} points, standard error {se:.1f})"
    return (f"within two standard errors of {y_name} ({d:+.1f} points, standard error {se:.1f}), so the two are "
            f"not separable here")


def above_chance(r):
    return r["acc"] - 2 * r["sem"] > CHANCE


def fails_across_gap(name):
    """Target (b): above chance on the meta-training classes, and lower across the domain gap."""
    return above_chance(mn[name]) and beyond(mn[name], fm[name])


verdict = {
    "(a) VSML above Adam on Fashion-MNIST": beyond(fm["VSML"], fm["Adam"]),
    "(b) Meta RNN: above chance on MNIST, lower on Fashion-MNIST": fails_across_gap("Meta RNN"),
    "(b) FWMemory: above chance on MNIST, lower on Fashion-MNIST": fails_across_gap("FWMemory"),
    "(c) VSML not lower on Fashion-MNIST than on MNIST": not beyond(mn["VSML"], fm["VSML"]),
}
for k, v in verdict.items():
    print(f"{k:60s} (two standard errors): {'met' if v else 'not met'}")
print("(standard errors over meta-test episodes; one meta-training run per model: these checkpoints only)")
slugs = {"VSML": "vsml", "Meta RNN": "metarnn", "FWMemory": "fwmemory", "VSML, online MNIST only": "vsml_online",
         "Adam": "adam", "SGD": "sgd"}
for ds_name in results:
    for name, r in results[ds_name].items():
        glue(f"fs_{slugs[name]}_{ds_name}", f"{r['acc']:.1f}")
        glue(f"fs_{slugs[name]}_{ds_name}_sem", f"{r['sem']:.1f}")
for key, k in zip(("vsml_adam", "metarnn", "fwmemory", "vsml_gap"), verdict):
    glue(f"verdict_{key}", Markdown(f"**{'met' if verdict[k] else 'not met'}**"))
comparisons = {
    "cmp_online_adam": compare(fm["VSML, online MNIST only"], fm["Adam"], "Adam's"),
    "cmp_vsml_online": compare(fm["VSML"], fm["VSML, online MNIST only"], "`mnist_bptt`'s"),
    "cmp_metarnn_vsml_mnist": compare(mn["Meta RNN"], mn["VSML"], "VSML's"),
    "cmp_metarnn_vsml_fashion": compare(fm["Meta RNN"], fm["VSML"], "VSML's"),
    "cmp_vsml_gap": compare(fm["VSML"], mn["VSML"], "its MNIST accuracy"),
    "cmp_adam_gap": compare(fm["Adam"], mn["Adam"], "its MNIST accuracy"),
}
for key, words in comparisons.items():
    print(f"{key:26s} {words}")
    glue(key, Markdown(words))
# Target (c) in context: how easy Fashion-MNIST's episodes are here for learners never meta-trained, and how far
# VSML leads Adam on each dataset (paired); and the smallest drop (c) could detect.
lead = {ds_name: difference(results[ds_name]["VSML"], results[ds_name]["Adam"]) for ds_name in ("mnist",
                                                                                               "fashion_mnist")}
_, se_gap = difference(fm["VSML"], mn["VSML"])
def across(name):
    d, se = difference(fm[name], mn[name])
    return f"{fm[name]['acc']:.1f} % on Fashion-MNIST and {mn[name]['acc']:.1f} % on MNIST ({d:+.1f} points, " \
           f"standard error {se:.1f})"


easier = not beyond(mn["Adam"], fm["Adam"]) and not beyond(mn["SGD"], fm["SGD"])
target_c_context = (
    f"For comparison, learners that were never meta-trained: Adam gets {across('Adam')}, SGD {across('SGD')}"
    + (f". At {image_size}x{image_size}, five Fashion-MNIST classes are no harder to tell apart than five digits "
       f"for them, so (c) passing is what a learner that transfers nothing could also show. "
       if easier else ". Fashion-MNIST is the harder dataset for them, so (c) passing says more. ")
    + f"VSML's lead over Adam is {lead['mnist'][0]:+.1f} points on MNIST (paired standard error "
    f"{lead['mnist'][1]:.1f}) and {lead['fashion_mnist'][0]:+.1f} on Fashion-MNIST ({lead['fashion_mnist'][1]:.1f}); "
    f"and (c) would fail only for a drop of more than about {2 * se_gap:.1f} points.")
glue("target_c_context", Markdown(target_c_context))
print(target_c_context)
for name in ("Meta RNN", "FWMemory"):
    for ds_name, r in (("mnist", mn[name]), ("fashion_mnist", fm[name])):
        glue(f"chance_{slugs[name]}_{ds_name}",
             "above chance" if above_chance(r) else "within two standard errors of chance")
# The report appends " meta-test on <device>" to the setting, hence its closing ";" (as in chapters 13, 15).
if omniglot_results is not None:
    report = {"data": "omniglot", "vsml": round(omniglot_results["VSML"]["acc"], 1),
              "adam": round(omniglot_results["Adam"]["acc"], 1),
              "setting": f"{n_way}-way {k_shot}-shot, {num_episodes:,} episodes at {image_size}x{image_size}, "
                         f"{omniglot_steps:,} Omniglot steps per model continued from the MNIST few-shot "
                         f"checkpoints;"}
else:
    report = {"data": "Fashion-MNIST (stand-in for Omniglot; meta-trained on MNIST digits)",
              "vsml": round(fm["VSML"]["acc"], 1), "adam": round(fm["Adam"]["acc"], 1),
              "setting": f"{n_way}-way {k_shot}-shot query accuracy over {num_episodes:,} episodes at "
                         f"{image_size}x{image_size}; Meta RNN {fm['Meta RNN']['acc']:.1f} %, FWMemory "
                         f"{fm['FWMemory']['acc']:.1f} %, chance {CHANCE:.0f} %; Omniglot "
                         f"{omniglot_note.replace('not run: ', 'not run (').rstrip()}"
                         f"{')' if omniglot_note.startswith('not run: ') else ''};"}
glue("report_fig18", report)
glue("elapsed", f"{elapsed:.0f}")
print(report)

# %% [markdown]
# ## What we found
#
# On the stand-in (meta-trained on {glue:text}`resolution` MNIST digits,
# meta-tested on Fashion-MNIST classes, {glue:text}`num_episodes` episodes,
# chance {glue:text}`chance` %):
#
# * **VSML** reaches {glue:text}`fs_vsml_fashion_mnist` ±
#   {glue:text}`fs_vsml_fashion_mnist_sem` % query accuracy after
#   {glue:text}`steps_vsml` few-shot steps
#   ({glue:text}`minutes_vsml` min on {glue:text}`train_threads`), starting
#   from the online-MNIST $V_M$ `mnist_bptt`, which alone gets
#   {glue:text}`fs_vsml_online_fashion_mnist` ±
#   {glue:text}`fs_vsml_online_fashion_mnist_sem` %: the few-shot
#   meta-trained VSML is {glue:md}`cmp_vsml_online`. **Adam** on the same
#   five examples (rate {glue:text}`lr_adam`, tuned above) gets
#   {glue:text}`fs_adam_fashion_mnist` ± {glue:text}`fs_adam_fashion_mnist_sem` %
#   and SGD (rate {glue:text}`lr_sgd`) {glue:text}`fs_sgd_fashion_mnist` ±
#   {glue:text}`fs_sgd_fashion_mnist_sem` %. Target (a), after "VSML learns
#   significantly faster on Omniglot compared to SGD with Adam", on the
#   stand-in: {glue:md}`verdict_vsml_adam`. `mnist_bptt`, never meta-trained
#   on few-shot episodes, is {glue:md}`cmp_online_adam`.
# * **Across the gap**, target (b), after "yet fail when the gap increases
#   between meta train and meta test": the Meta RNN
#   ({glue:text}`steps_rnn` steps, {glue:text}`minutes_rnn` min) gets
#   {glue:text}`fs_metarnn_mnist` ± {glue:text}`fs_metarnn_mnist_sem` % on
#   MNIST test digits ({glue:text}`chance_metarnn_mnist`) and
#   {glue:text}`fs_metarnn_fashion_mnist` ±
#   {glue:text}`fs_metarnn_fashion_mnist_sem` % on Fashion-MNIST
#   ({glue:text}`chance_metarnn_fashion_mnist`): {glue:md}`verdict_metarnn`.
#   On Fashion-MNIST it is {glue:md}`cmp_metarnn_vsml_fashion`. VSML's
#   Fashion-MNIST accuracy is {glue:md}`cmp_vsml_gap`: target (c),
#   {glue:md}`verdict_vsml_gap`. {glue:md}`target_c_context`
# * **FWMemory** ({glue:text}`steps_fwmemory` steps,
#   {glue:text}`minutes_fwmemory` min) gets {glue:text}`fs_fwmemory_mnist` ±
#   {glue:text}`fs_fwmemory_mnist_sem` % on MNIST test digits
#   ({glue:text}`chance_fwmemory_mnist`) and
#   {glue:text}`fs_fwmemory_fashion_mnist` ±
#   {glue:text}`fs_fwmemory_fashion_mnist_sem` % on Fashion-MNIST: target
#   (b) {glue:md}`verdict_fwmemory`. This verdict says little. FWMemory
#   never learned even the meta-training classes, so it had nothing to lose
#   across the gap; and it runs fewer steps per minute than the Meta RNN,
#   so its budget ended at step {glue:text}`steps_fwmemory`, where the Meta
#   RNN, in its own run, was no further: {glue:md}`metarnn_at_fw_steps`.
#   We do not claim FWMemory cannot learn this task.
# * **On MNIST test digits** (the meta-training classes, unseen images: not
#   the unseen classes Appendix B.2 meta-tests on) VSML gets
#   {glue:text}`fs_vsml_mnist` %, Adam {glue:text}`fs_adam_mnist` %, and
#   the Meta RNN ({glue:text}`fs_metarnn_mnist` %) is
#   {glue:md}`cmp_metarnn_vsml_mnist`: an ordering like Figure 18's (VSML
#   "does learn more slowly"), on seen classes, which Figure 18 does not
#   test. It comes at very different step counts: the Meta RNN ran
#   {glue:text}`steps_rnn` steps and VSML {glue:text}`steps_vsml`, and
#   {glue:md}`metarnn_at_vsml_steps`.
#
# All verdicts concern these checkpoints: the standard errors are over
# meta-test episodes, and each model had a single meta-training run, so
# they say nothing about the variance across meta-training seeds.
#
# The paper's finding that the Meta RNN and FWMemory "work well in an
# Omniglot setting" while VSML "does learn more slowly" is about meta-test
# classes close to the meta-training ones (characters of other alphabets,
# same handwriting domain). Our stand-in tests the other half of that
# sentence: a new domain. Read the Meta RNN and FWMemory bars with chapter
# {doc}`13_dataset_transfer` in mind, where the same kinds of baselines,
# meta-trained on MNIST, fall to near chance on Fashion-MNIST; and with the
# budget in mind: {glue:text}`budget_minutes` CPU minutes per model, where
# the paper does not say what it spent. At the end of its budget the Meta
# RNN's curve was {glue:text}`metarnn_trend` ({numref}`fig-14-metatraining`).
#
# **Omniglot:** {glue:md}`omniglot_note`. **What remains open:** the
# paper's Figure 18 on Omniglot itself, at the paper's (unstated)
# resolution and with a full training budget: our Omniglot path runs at
# {glue:text}`resolution` and only continues the MNIST few-shot checkpoints
# for {glue:text}`omniglot_steps` steps; and an ES-trained VSML on few-shot
# episodes.

# %% [markdown]
# ## Exercises
#
# **1. Why score only the query?** If the meta-loss also counted the five
# support predictions, what would a learner be rewarded for there, and why
# does that not measure few-shot learning?
#
# ```{admonition} Solution
# :class: dropdown
# Each support example is of a class not yet seen in the episode (one
# instance per class, 1-shot), so its image says nothing about its label.
# But the labels are not independent: in 1-shot they are a permutation of
# the five, so a learner can beat chance by *excluding* labels it has already
# seen (one in five for the first example, one in one for the last). Scoring
# the support steps would reward this bookkeeping of labels, which has
# nothing to do with recognising images, and add its noise to the
# meta-gradient. (With K > 1, a later support example of a class already
# shown *is* a few-shot test, the kind of prediction the paper's online
# protocol scores; but the first one of each class stays pure label
# bookkeeping.) The query is the one prediction that always depends on
# what was learned from the support images.
# `tests/test_few_shot.py` checks that the BPTT meta-gradient is the
# query's alone.
# ```
#
# **2. Chance is 20 %, but is it?** A learner that always predicts the
# label of the *last* support example: what accuracy does it get on the
# query, and why is the order of the support examples shuffled?
#
# ```{admonition} Solution
# :class: dropdown
# The query's class is drawn uniformly from the five, independently of the
# order, so any fixed rule such as "the last label" gets 20 % in
# expectation. Shuffling the support order (and relabelling classes at
# random per episode) removes every cue except the images themselves. The
# hidden cell below measures the "last label" rule on
# {glue:text}`num_episodes` fresh Fashion-MNIST episodes of the same kind
# (another seed than the meta-test's).
# ```

# %% tags=["hide-cell"]
ep = tasks.few_shot_episodes(fashion, num_episodes, n_way, k_shot, seed=seed + 1, image_size=image_size)
last_label = ep.y[:, -2] == ep.y[:, -1]
print(f"'last support label' rule: {100 * last_label.float().mean():.1f} % on {num_episodes:,} episodes")

# %% [markdown]
# ## Summary
#
# * `vsml.meta` meta-trains VSML, the Meta RNN and FWMemory on few-shot
#   episodes (`episode_kind: few_shot`, `n_way`, `k_shot`), scoring the query
#   only; `vsml.few_shot` meta-tests any learner on the same episodes.
# * On a stand-in for Omniglot with disjoint classes and domain (MNIST ->
#   Fashion-MNIST) the numbers are above; Omniglot itself runs where the
#   data can be downloaded.
# * `report_fig18` carries VSML's and Adam's accuracies to the reproduction
#   report, which marks the data as a stand-in.
#
# ## Provenance

# %%
for name, prov in provenance.items():
    print(f"{name}: {prov['name']} commit {prov['git_commit'][:12]}, {prov['date']}, torch {prov['torch']}")
print(f"chapter run: {run.elapsed()}, peak memory {peak_rss_mb():.0f} MB")

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

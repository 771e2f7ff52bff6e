# %% [markdown]
# # Cloning backpropagation
#
# COLAB_BADGE
#
# **What this chapter reproduces:** Section 3.2 ("Learning algorithm
# cloning", Figure 4), Section 4.1 (Figure 5), Appendix B.1 (Figures 10 and
# 11, the curriculum) and Appendix C.1 of {cite}`kirsch2021vsml`.
#
# Before meta learning anything from scratch, the paper asks whether a VSML
# RNN can *be* backpropagation. One shared sub-LSTM ($N = 64$) is trained by
# plain regression so that every copy of it, sitting at position $(a, b)$ of
# a dense layer,
#
# 1. keeps a weight $w$ and a bias $b$ in two of its state dimensions (scaled
#    down by 4, since LSTM states are bounded: Appendix C),
# 2. sends $y = \tanh(x)\,w + b$ as its forward message,
# 3. changes $w$ and $b$ as SGD would, $\Delta w = -\eta\, e \tanh(x)$,
#    $\Delta b = -\eta\, e$, and
# 4. sends the backpropagated error $e' = e\, w\,(1 - \tanh^2 x)$ as its
#    backward message (Figure 4).
#
# Stacked by Eq. 7, such sub-LSTMs form a network that learns by running
# forward: no autograd, no explicit gradient anywhere at meta-test time.
#
# The authors published no code for this part. Every choice we had to make is
# listed with its reason in the docstring of the `vsml.cloning` package (decisions
# D1-D10); the main ones are summarised below.

# %% tags=["parameters"]
smoke = False
device = "cpu"
seed = 0
shallow_name = "cloned_shallow"    # shipped V_M after the shallow stage (vsml/pretrained/)
deep_name = "cloned_deep"          # ... after the deep stage of the curriculum

# %%
# Colab: install the package when it is not there yet.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+REPO_URL"], check=True)

# %%
import dataclasses
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from vsml import cloning, data
from vsml.book import chapter_setup
from vsml.evaluate import summarize

run = chapter_setup(smoke=smoke, device=device, seed=seed)
live_steps = 300 if not run.smoke else 3            # a live cloning run from scratch
grid = 121 if not run.smoke else 21                 # Figure 10 grid resolution
RESULTS = Path(cloning.PRETRAINED_DIR)              # shipped meta-test curves (Figures 5, 11)

# %% [markdown]
# ## What a sub-LSTM keeps, sees and sends
#
# | decision | what we do | why |
# | --- | --- | --- |
# | D1 state | $w/4, b/4$ in cell dims 0 and 1 | the cell persists (forget offset +5) and changes additively, like a weight |
# | D2 messages | $x$ in forward slot 0, $e$ in backward slot 0; $y$, $e'$ read from output slot 0 | "we zero all other LSTM input dimensions" (C.1) |
# | D3 what persists | forward pass: state frozen; backward pass: only $c_0, c_1$ kept | C.1, "we freeze the LSTM state ... only retain two state dimensions" |
# | D4 activations | the forward input $x$ is fed again in the backward pass | the paper's "simpler" choice (Section 3.2) |
# | D5 averaging | messages are means (Appendix C), so the network is a *mean* MLP; the local rule is exact SGD on it with per-layer rates | checked against autograd in `tests/test_cloning.py` |
# | D6, D7 | logits $= 30 \cdot$ last message; inner learning rate $\eta = 1$ | chosen by a sweep of the *shadow* network alone |
# | D8 data | random $(x, e, w, b)$, half of $(w, b)$ from a buffer of the sub-LSTM's own states, plus tuples from shadow networks trained on MNIST | C.1 buffer; Section 3.2 shadow network |
# | D9 curriculum | shallow 784-10 first; then a 784-32-10 network with hidden errors from the shadow network *and* from the VSML network itself | Appendix B.1 |
# | D10 meta-test | batches of 64, each example with its own sub-LSTM copies, $w, b$ averaged over the batch; cell clipped to $[-4, 4]$ | C.1 "Batching", "Stability during meta testing" |
#
# Because of D3, every sub-LSTM is a memoryless function of $(x, e, w, b)$
# between steps, so cloning is a regression on single sub-LSTMs: the
# training batch is 2,048 of them, not whole networks.

# %%
# NBVAL_CHECK_OUTPUT
cfg = cloning.CloningConfig()
from vsml.lstm import param_count

print(f"state size N = {cfg.state_size}, |V_M| = {param_count(cfg.sub_lstm):,}, "
      f"{cfg.num_ticks} micro-ticks per pass, w and b stored / {cfg.state_scale:g}")
print("the rule at x=0.5, e=0.1, w=2, b=-1, lr=1:",
      {k: round(float(v), 4) for k, v in cloning.local_targets(torch.tensor(0.5), torch.tensor(0.1),
                                                                torch.tensor(2.0), torch.tensor(-1.0), 1.0).items()})

# %% [markdown]
# ## A cloning run, live
#
# A few hundred regression steps from a random $V_M$ (the shipped runs below
# took 10,000 + 1,200 steps). Data for the shadow networks: MNIST as
# available on this machine (the loader says which files).

# %%
mnist_train = data.load("mnist", "train")
print(mnist_train.describe())
live_cfg = dataclasses.replace(cfg, steps=live_steps, batch_size=2048 if not run.smoke else 128,
                               buffer_size=2000, eval_size=2048 if not run.smoke else 128)
t0 = time.perf_counter()
trainer = cloning.CloningTrainer(live_cfg, mnist_train.standardized())
live = [trainer.train_step() for _ in range(live_steps)]
print(f"{live_steps} steps in {time.perf_counter() - t0:.1f} s; normalised loss "
      f"{live[0]['loss']:.3f} -> {live[-1]['loss']:.4f}")

# %% [markdown]
# ## The shipped cloned learning algorithms
#
# `python -m vsml.cloning train --out runs/clone_shallow --stage shallow --steps 10000`, then
# `python -m vsml.cloning train --out runs/clone_deep --stage deep --steps 1200 --init-from runs/clone_shallow`,
# each exported with `python -m vsml.cloning export`. Their provenance:

# %%
shipped = {}
for name in (shallow_name, deep_name):
    params, ccfg, prov = cloning.load_cloned(name)
    shipped[name] = (params, ccfg, prov)
    print(f"{name}: stage {ccfg.stage}, {prov['steps']:,} steps, {prov['wall_time_s'] / 60:.1f} min on "
          f"{prov['device']} ({prov['machine']}), torch {prov['torch']}, commit {prov['git_commit'][:12]}, "
          f"{prov['date']}; started from {prov['init_from'] or 'random'}; shadow data: {prov['dataset_note']}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].semilogy([r["step"] for r in live], [r["loss"] for r in live], lw=0.8)
axes[0].set(title=f"live run from scratch ({live_steps} steps)", xlabel="step", ylabel="normalised MSE")
offset = 0
for name, (_, _, prov) in shipped.items():
    curve = prov["curve"]
    steps = [offset + r["step"] for r in curve]
    for k, ls in (("y", "-"), ("dw", "--"), ("e_prev", ":")):
        axes[1].semilogy(steps, [r[f"random_rmse_{k}"] for r in curve], ls,
                         label=f"{k} ({name.split('_')[-1]})", lw=1)
    offset = steps[-1]
axes[1].set(title="shipped runs: RMSE on held-out random tuples", xlabel="step (shallow, then deep)", ylabel="RMSE")
axes[1].legend(fontsize=7, ncol=2)
fig.tight_layout()

# %% [markdown]
# ## Figure 10: the learned forward computation
#
# The shipped $V_M$'s forward message for a grid of inputs $x$ and weights $w$
# ($b = 0$), against $\tanh(x)\,w$, and the error over the grid.

# %%
params, ccfg, _ = shipped[deep_name]
xs = torch.linspace(-3, 3, grid)
ws = torch.linspace(-4, 4, grid)
X, W = torch.meshgrid(xs, ws, indexing="ij")
with torch.inference_mode():
    Y = cloning.clone_forward(params, ccfg, X, W, torch.zeros_like(W))
target = torch.tanh(X) * W

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for w in (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0):
    j = int(torch.argmin((ws - w).abs()))
    line, = axes[0].plot(xs, Y[:, j], lw=1.5)
    axes[0].plot(xs, target[:, j], "--", color=line.get_color(), lw=0.8)
axes[0].set(title="learned y (solid) vs tanh(x) w (dashed), w = -4..4", xlabel="x", ylabel="y")
im = axes[1].imshow((Y - target).abs().T, origin="lower", aspect="auto", extent=(-3, 3, -4, 4), cmap="magma")
axes[1].set(title="|learned y - tanh(x) w|", xlabel="x", ylabel="w")
fig.colorbar(im, ax=axes[1])
fig.tight_layout()
print(f"forward error over the grid: mean {float((Y - target).abs().mean()):.4f}, "
      f"max {float((Y - target).abs().max()):.4f} (|y| up to 4)")

# %% [markdown]
# ## How well each output is cloned
#
# Root-mean-square and worst-case error of each output on 20,000 random
# tuples, relative to the spread of the target (the test suite requires
# below 5%).

# %%
t = cloning.random_tuples(20_000 if not run.smoke else 2_000, ccfg, torch.Generator().manual_seed(2024))
scales = cloning.target_scales(ccfg)
print(f"{'V_M':15s} {'output':7s} {'RMSE':>8s} {'% of std':>9s} {'max |err|':>10s}")
for name, (p, c, _) in shipped.items():
    errs = cloning.cloning_errors(p, c, t["x"], t["e"], t["w"], t["b"])
    for k in cloning.TARGETS:
        print(f"{name:15s} {k:7s} {errs[f'rmse_{k}']:8.4f} {100 * errs[f'rmse_{k}'] / scales[k]:8.1f}% "
              f"{errs[f'max_{k}']:10.3f}")

# %% [markdown]
# ## Figures 5 and 11: learning purely by running forward
#
# A network of sub-LSTMs driven by the cloned $V_M$ is trained on MNIST (the
# distribution it was cloned on) and on Fashion-MNIST (never seen), beside the
# very same network trained by exact SGD (`shadow_step`, which equals
# autograd by D5). Both start from the same weights and see the same batches
# of 64. The VSML side runs under `torch.inference_mode()`: no autograd graph
# can exist. A quick check of that, then the curves.

# %%
# NBVAL_CHECK_OUTPUT
p_s, c_s, _ = shipped[shallow_name]
net = cloning.ClonedNetwork(p_s, c_s, (784, 10))
layers = cloning.init_layers((784, 10), cloning.W_INIT, torch.Generator().manual_seed(0))
xb = mnist_train.standardized().x[:4].flatten(1)
with torch.inference_mode():
    new_layers, logits = net.step(layers, xb, mnist_train.y[:4])
print("inference mode:", torch.is_inference(new_layers[0][0]), "| requires_grad:", new_layers[0][0].requires_grad,
      "| weights changed:", bool((new_layers[0][0] != layers[0][0]).any()),
      "| shapes:", tuple(new_layers[0][0].shape), tuple(logits.shape))

# %% [markdown]
# The full curves cost about an hour of CPU time (a 784 x 32 x 10 step runs
# 1.6 M sub-LSTMs of size 64 per batch), so they were produced by the
# package's command and shipped as JSON, e.g.
# `python -m vsml.cloning metatest --name cloned_shallow --dataset mnist --steps 60 --seeds 6 --out ...`.
# The chapter loads them when present and always recomputes a small version
# live, so a reader can check the two agree.

# %%
fashion_train = data.load("fashion_mnist", "train")
live_sizes = dict(steps=20 if not run.smoke else 2, seeds=range(2 if not run.smoke else 1),
                  eval_every=10 if not run.smoke else 2, test_size=300 if not run.smoke else 20,
                  batch_size=64 if not run.smoke else 8)
live_mt = {}
for ds_name, ds in (("mnist", mnist_train), ("fashion_mnist", fashion_train)):
    test = data.load(ds_name, "test")
    live_mt[ds_name] = cloning.metatest(p_s, c_s, ds.standardized(), test.standardized(), compile=not run.smoke,
                                        **live_sizes)
    r = live_mt[ds_name]
    print(f"live shallow {ds_name}: {live_sizes['steps']} steps x {len(live_sizes['seeds'])} seeds in "
          f"{r['seconds']:.0f} s; test accuracy VSML {r['vsml']['test_accuracy'][:, -1].mean():.3f}, "
          f"SGD {r['sgd']['test_accuracy'][:, -1].mean():.3f}")

shipped_mt = {}
for depth in ("shallow", "deep"):
    for ds_name in ("mnist", "fashion_mnist"):
        path = RESULTS / f"metatest_cloned_{depth}_{ds_name}.json"
        if path.exists():
            shipped_mt[depth, ds_name] = cloning.load_metatest(path)
        else:
            print(f"not shipped: vsml/pretrained/{path.name} (make it with python -m vsml.cloning metatest ... --out ...)")
for key, doc in shipped_mt.items():
    print(f"{key[0]:7s} {key[1]:14s} {'-'.join(map(str, doc['sizes']))}: {len(doc['vsml']['loss'])} seeds x "
          f"{len(doc['vsml']['loss'][0])} steps, {doc['seconds'] / 60:.0f} min on {doc['device']}, "
          f"commit {doc['git_commit'][:12]}; test data: {doc['test_data'][:60]}...")

# %%
def smooth(t, k=5):
    """Trailing moving average over k steps (the first value repeated before the start)."""
    t = t.float()
    return torch.cat([t[:, :1].expand(-1, k - 1), t], 1).unfold(1, k, 1).mean(-1)


source = shipped_mt or {("shallow", k): v for k, v in live_mt.items()}
keys = sorted(source, key=lambda k: (k[0] != "shallow", k[1]))
fig, axes = plt.subplots(2, len(keys), figsize=(3.2 * len(keys), 5.5), squeeze=False)
for j, key in enumerate(keys):
    doc = source[key]
    for kind, label, color in (("vsml", "VSML (cloned, forward only)", "C3"), ("sgd", "SGD (backprop)", "C0")):
        for row, metric in enumerate(("loss", "accuracy")):
            mean, std = summarize(smooth(doc[kind][metric]))
            steps = torch.arange(1, len(mean) + 1)
            axes[row, j].plot(steps, mean, color=color, label=label)
            axes[row, j].fill_between(steps, mean - std, mean + std, color=color, alpha=0.2, lw=0)
    axes[0, j].set_title(f"{key[0]}, {'MNIST' if key[1] == 'mnist' else 'Fashion-MNIST'}", fontsize=9)
    axes[1, j].set_xlabel("step (batch of 64)")
axes[0, 0].set_ylabel("training loss (batch, before update)")
axes[1, 0].set_ylabel("batch accuracy")
axes[0, 0].legend(fontsize=7)
fig.tight_layout()

# %% [markdown]
# ## Our numbers beside the paper's

# %%
paper = {("shallow", "mnist"): 0.90, ("shallow", "fashion_mnist"): 0.80,
         ("deep", "mnist"): 0.87, ("deep", "fashion_mnist"): 0.76}
print(f"{'network':8s} {'dataset':14s} {'steps':>5s} {'VSML (cloned)':>16s} {'SGD':>16s} {'paper VSML':>11s}")
for key in keys:
    doc = source[key]
    (v_mean, v_std), (s_mean, s_std) = (summarize(doc[k]["test_accuracy"][:, -1:]) for k in ("vsml", "sgd"))
    n = len(doc["vsml"]["loss"][0])
    print(f"{key[0]:8s} {key[1]:14s} {n:5d} {100 * float(v_mean):7.1f} +- {100 * float(v_std):4.1f}  "
          f"{100 * float(s_mean):7.1f} +- {100 * float(s_std):4.1f}  {100 * paper[key]:10.0f}%")
print(f"(test accuracy on the first {500 if shipped_mt else live_sizes['test_size']} test images after the last step; "
      f"{'shipped curves' if shipped_mt else 'live smoke-sized run'})")
print(f"\nchapter runtime {run.elapsed()} on {run.device}")

# %% [markdown]
# ## What we found
#
# * **Cloning works, per sub-LSTM.** The shipped $V_M$ ($N = 64$, 21,776
#   numbers) reproduces all four outputs of the rule on random inputs with an
#   RMSE of 0.4-1.7% of each target's spread (table above); the forward map
#   $\tanh(x) w$ is matched over the whole grid of Figure 10 with a small,
#   structured error, as in the paper.
# * **Shallow networks learn by running forward, as well as SGD.** After 60
#   batches of 64 (3,840 examples; 6 seeds), the 784-10 network driven by
#   the cloned $V_M$ is at 66.9% test accuracy on MNIST (SGD on the same
#   network: 64.3%) and 66.3% on Fashion-MNIST, which it never saw while
#   cloning (SGD: 67.0%). The paper reports 90% and 80%; its curves run much
#   longer. Ours stop at 60 steps because one step costs about 1.2 s on a CPU
#   core (0.5 M sub-LSTMs of size 64, four micro-ticks each); both learners
#   were still improving.
# * **Deep (784-32-10) networks: not reproduced at our budget.** After 40
#   steps (6 seeds) the cloned learner is at 17.6% on MNIST and 35.8% on
#   Fashion-MNIST, but so is exact SGD on the same network (12.6%, 33.7%):
#   what limits us is not the cloning error but the network we chose to clone
#   (D5-D7: averaged messages, weights $U(-3, 3)$, logit gain 30, one learning
#   rate), whose loss jumps from 2.3 to about 10 in the first 10-15 steps (the
#   inner learning rate overshoots; the shallow network shows a smaller jump)
#   and then falls slowly even with exact gradients, and the step budget
#   (6.5 s per step). The paper reports
#   87% and 76%. What it would take: a better-conditioned shadow network
#   (per-layer learning rates, smaller initial weights) re-cloned, and a few
#   hundred steps per seed (a GPU, or hours of CPU).
#
# ## Summary
#
# * One 64-unit LSTM, shared by every weight of a network, can be trained by
#   regression to store a weight, compute $\tanh(x) w + b$, apply the SGD
#   update and pass the error back (Figure 4); the shipped $V_M$ does so
#   within the errors printed above (Figure 10).
# * Networks of such sub-LSTMs learn MNIST and Fashion-MNIST with no
#   gradient computation at all (Figures 5, 11), next to real SGD on the same
#   network; the table says how close they get and how that compares with
#   the paper.
# * This is a human-engineered learning algorithm *cloned* into $V_M$; the
#   next chapter asks whether one can be meta learned from scratch instead.
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

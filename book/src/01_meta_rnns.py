# %% [markdown]
# # Meta RNNs and variable sharing
#
# COLAB_BADGE
#
# **What this chapter covers in the paper:** Section 2 ("Black-box learning in
# activations") and the start of Section 3 of {cite}`kirsch2021vsml`: the
# vanilla RNN tick (Eq. 1), variable sharing on an $A \times B$ grid (Eq. 2),
# and why the ratio between learned variables $V_L$ and meta variables $V_M$
# matters. The symbols are collected on the {doc}`notation` page.
#
# ```{admonition} Learning objectives
# After this chapter you can
# * state what $V_M$ and $V_L$ are in a Meta RNN, and count both for a given network;
# * explain why $|V_M| = O(N^2)$ but $|V_L| = O(N)$ in a Meta RNN, and when the quadratic term dominates;
# * write Eq. 2 (variable sharing) and check it against Eq. 1 numerically;
# * say what variable sharing changes about the ratio $|V_L| / |V_M|$.
# ```
#
# **Where we differ from the paper.** Nothing here is scaled down. The paper
# states Eq. 1-2 without numbers; we check them at small sizes in float64 on
# a CPU and count parameters at the paper's sizes (MNIST inputs, the Meta RNN
# baseline's 16 hidden units). Counted our way, that 16-unit Meta RNN has
# {glue:text}`vm_meta16` parameters on MNIST, well below the "about 100k
# to 150k parameters" Appendix C.2 reports for it; Exercise 3 shows that we
# cannot reconstruct the paper's count.
#
# A Meta RNN {cite}`hochreiter2001learning` receives inputs *and* the error of
# its previous prediction; after meta training, the learning algorithm lives
# in its weights $V_M$ and what it has learned lives in its activations $V_L$.
# With $N$ units, $|V_L| = O(N)$ but $|V_M| = O(N^2)$
# {cite}`schmidhuber1993reducing`: a huge, over-parameterised learning
# algorithm with a tiny memory, prone to memorising its training tasks.
# Learned learning rules and fast weights
# {cite}`schmidhuber1991fastweights,schmidhuber1992fastweights,ba2016fastweights`
# have the opposite ratio, at the price of a hand-designed weight-update
# architecture. VSML keeps the Meta RNN's simplicity but reuses a few
# parameters many times.

# %% tags=["parameters"]
smoke = False
device = "auto"
seed = 0

# %%
# Colab: install the book's release of the package (and what this chapter imports besides).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "vsml @ git+REPO_URL@BOOK_RELEASE"],
                   check=True)

# %%
import math

import matplotlib.pyplot as plt
import torch

from vsml import SubLSTMConfig, VSMLConfig, param_count, rnn
from vsml.metarnn import metarnn_param_shapes
from vsml.book import chapter_setup, glue

run = chapter_setup(smoke=smoke, device=device, seed=seed,
                    cpu_only="float64 checks of tiny matrices and parameter counts: nothing for a GPU to do")
num_grid_checks = 50 if not run.smoke else 5

# %% [markdown]
# ## Eq. 1: one tick of a vanilla RNN
#
# $$s_j \leftarrow \sigma\Big(\sum_i s_i W_{ij}\Big) \tag{1}$$
#
# Inputs are a subset of $s$ that is set from outside; the bias is omitted.
# `vsml.rnn.rnn_step` is this equation; leading batch axes are allowed.

# %%
# NBVAL_CHECK_OUTPUT
gen = torch.Generator().manual_seed(0)
N = 4
W = torch.randn(N, N, generator=gen, dtype=torch.float64)
s = torch.randn(N, generator=gen, dtype=torch.float64)
by_loop = torch.tensor([torch.tanh(sum(s[i] * W[i, j] for i in range(N))) for j in range(N)], dtype=torch.float64)
print("Eq. 1 matches an explicit loop:", torch.allclose(rnn.rnn_step(s, W), by_loop, rtol=0, atol=1e-14))

# %% [markdown]
# ## Eq. 2: variable sharing
#
# Duplicate the computation along two axes of sizes $A$ and $B$: every
# $s_{ab} \in \mathbb{R}^N$ is updated by the *same* $W$,
#
# $$s_{abj} \leftarrow \sigma\Big(\sum_i s_{abi} W_{ij}\Big). \tag{2}$$
#
# These are $A \cdot B$ independent RNNs on a grid, which the paper calls
# *sub-RNNs* (each is one small RNN inside the big one); {doc}`02_message_passing`
# connects them. Below we check that `shared_rnn_step` is exactly $A B$
# separate applications of Eq. 1 on random grids.

# %%
# NBVAL_CHECK_OUTPUT
worst = 0.0
for trial in range(num_grid_checks):
    A, B = torch.randint(1, 6, (2,), generator=gen).tolist()
    s_grid = torch.randn(A, B, N, generator=gen, dtype=torch.float64)
    shared = rnn.shared_rnn_step(s_grid, W)
    separate = torch.stack([torch.stack([rnn.rnn_step(s_grid[a, b], W) for b in range(B)]) for a in range(A)])
    worst = max(worst, (shared - separate).abs().max().item())
print(f"Eq. 2 equals A*B separate RNNs on random grids: {worst < 1e-14}")

# %% [markdown]
# ## Counting $|V_M|$ and $|V_L|$ as networks grow
#
# We compare two learners for MNIST-sized problems (784 inputs, 10 classes).
# They grow along different axes, so we name both:
#
# * a **Meta RNN**: an LSTM with $H$ hidden units fed the image and the
#   previous error ($784 + 10$ inputs) with a linear read-out (one linear
#   layer from $h$ to the 10 class scores). $V_M$ are its weights, $V_L$ its
#   $2H$ activations: the hidden state $h$ and the cell state $c$ that an LSTM
#   carries from step to step. Here $H$ is the number of hidden units of the
#   one recurrent network.
# * a **VSML RNN** with one hidden layer of width $H$ ($784 \times H \times 10$):
#   every weight is a sub-LSTM, a tiny LSTM whose state takes the place of
#   that weight ({doc}`04_tiny_lstms` builds it), with state $(h, c)$ of size
#   $N = 16$ each, so
#   $|V_L| = 2N(784 H + 10 H)$, while $|V_M|$ is the one shared sub-LSTM.
#   Here $H$ is a layer width, not the size of an RNN.
#
# Since $H$ means different things for the two, the figure plots what the
# argument is about: the size of the learning algorithm, $|V_M|$, against the
# size of the memory it learns in, $|V_L|$.

# %%
def meta_rnn_counts(hidden: int, inputs: int = 784, classes: int = 10) -> tuple[int, int]:
    """(|V_M|, |V_L|) of an LSTM Meta RNN with a linear read-out."""
    lstm = 4 * hidden * (inputs + classes + hidden) + 4 * hidden
    readout = hidden * classes + classes
    return lstm + readout, 2 * hidden


def vsml_counts(hidden: int, inputs: int = 784, classes: int = 10) -> tuple[int, int]:
    """(|V_M|, |V_L|) of a VSML RNN with layers inputs x hidden x classes."""
    cfg = VSMLConfig(layer_sizes=(inputs, hidden, classes))
    return param_count(cfg.sub_lstm), cfg.num_learned()


def growth_exponent(h1: int, h2: int) -> float:
    """Slope of log |V_M| against log H for the Meta RNN between widths h1 and h2."""
    return math.log(meta_rnn_counts(h2)[0] / meta_rnn_counts(h1)[0]) / math.log(h2 / h1)


widths = [2 ** k for k in range(15)]  # 1 ... 16,384
table = [(H, *meta_rnn_counts(H), *vsml_counts(H)) for H in widths]

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'H':>6} | {'Meta RNN |V_M|':>15} {'|V_L|':>7} {'V_L/V_M':>9} | {'VSML |V_M|':>10} {'|V_L|':>13} "
      f"{'V_L/V_M':>10}")
for H, mm, ml, vm, vl in table:
    print(f"{H:6d} | {mm:15,d} {ml:7,d} {ml / mm:9.1e} | {vm:10,d} {vl:13,d} {vl / vm:10.1f}")
single = VSMLConfig(layer_sizes=(784, 10))
vm_vsml, vl_single = param_count(single.sub_lstm), single.num_learned()
print(f"single-layer VSML on MNIST (784x10): |V_M| = {vm_vsml:,}, |V_L| = {vl_single:,}")
print(f"Meta RNN growth exponent of |V_M| in H: {growth_exponent(1, 512):.2f} on average over H = 1..512; "
      f"local: {growth_exponent(1, 2):.2f} (H = 1..2), {growth_exponent(16, 32):.2f} (16..32), "
      f"{growth_exponent(256, 512):.2f} (256..512), {growth_exponent(8192, 16384):.2f} (8,192..16,384)")

# %%
# The width at which the recurrent weights (4 H^2) outweigh all the rest of |V_M|.
crossover = next(H for H in range(1, 10_000) if 4 * H * H >= meta_rnn_counts(H)[0] - 4 * H * H)
PAPER_VL = 257_200  # Section 4: "many learned variables |V_L| ≈ 257,200"
glue("vm_vsml", f"{vm_vsml:,}")
glue("vl_single", f"{vl_single:,}")
glue("vl_paper_gap", f"{PAPER_VL - vl_single:,}")
glue("slope_small", f"{growth_exponent(1, 512):.2f}")
glue("slope_first", f"{growth_exponent(1, 2):.2f}")
glue("slope_16_32", f"{growth_exponent(16, 32):.2f}")
glue("slope_256_512", f"{growth_exponent(256, 512):.2f}")
glue("slope_large", f"{growth_exponent(8192, 16384):.2f}")
glue("crossover", f"{crossover:,}")
glue("ratio_meta_512", f"{table[9][2] / table[9][1]:.1e}")
glue("ratio_vsml_512", f"{table[9][4] / table[9][3]:,.0f}")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
ax = axes[0]
ax.loglog([t[2] for t in table], [t[1] for t in table], "o-", color="C3", label="Meta RNN (LSTM, $H$ units)")
ax.loglog([t[4] for t in table], [t[3] for t in table], "s-", color="C0",
          label="VSML ($784 \\times H \\times 10$)")
lo, hi = 1, 1e10
ax.loglog([lo, hi], [lo, hi], ":", color="0.4", label="$|V_L| = |V_M|$")
for H, mm, ml, vm, vl in table:
    if H in (1, 64, 4096):
        ax.annotate(f"H={H}", (ml, mm), textcoords="offset points", xytext=(8, -12), fontsize=11, color="C3")
    if H in (1, 16384):
        ax.annotate(f"H={H}", (vl, vm), textcoords="offset points", xytext=(-20, 10), fontsize=11, color="C0")
ax.set(xlabel="$|V_L|$: learned variables (memory)", ylabel="$|V_M|$: meta variables (learning algorithm)",
       xlim=(1, 1e10), ylim=(1e2, 1e10))
ax.set_title("(a) learning algorithm against memory")
ax.legend(loc="center right", bbox_to_anchor=(1.0, 0.36))
ax.grid(True, which="major", alpha=0.3)
ax = axes[1]
pairs = list(zip(widths[:-1], widths[1:]))
ax.semilogx([math.sqrt(a * b) for a, b in pairs], [growth_exponent(a, b) for a, b in pairs], "o-", color="C3")
ax.axvline(crossover, color="0.4", ls=":")
ax.annotate(f"$4H^2$ = rest at $H \\approx$ {crossover}", (crossover, 1.5), textcoords="offset points",
            xytext=(-175, 10), fontsize=11)
ax.set(xlabel="Meta RNN hidden units $H$", ylabel="growth exponent of $|V_M|$ in $H$", ylim=(0.9, 2.1))
ax.set_title("(b) Meta RNN: near-linear, then quadratic")
ax.grid(True, which="major", alpha=0.3)
fig.tight_layout()
glue("fig_counts", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_counts
# :name: fig-01-counts
#
# (a) Meta variables against learned variables as the networks grow (points
# are $H = 1, 2, 4, \dots, 16384$). A Meta RNN sits far above the dotted line
# $|V_L| = |V_M|$: its learning algorithm is much larger than its memory.
# VSML's $|V_M|$ is constant, so its memory outgrows its learning algorithm.
# (b) The local slope of $\log |V_M|$ against $\log H$ for the Meta RNN.
# ```
#
# How fast $|V_M|$ grows depends on what $N$ counts. In Eq. 1 the inputs are a
# subset of the state $s$, so $N$ counts input and hidden units together
# ($N \ge 794 + H$ here), and a vanilla RNN has $|V_M| = N^2$ at every size.
# If $N$ counts only the hidden units (as here, $N = H$), the picture is
# different ({numref}`fig-01-counts` (b)). For the widths one would use on
# MNIST, the Meta RNN's $|V_M| = 4H(794 + H) + 14H + 10$ grows close to
# linearly in $H$, because the input weights $4 \cdot 794\, H$ dominate: the
# local slope is {glue:text}`slope_first` between $H = 1$ and $2$ and
# {glue:text}`slope_16_32` between $16$ and $32$, but already
# {glue:text}`slope_256_512` between $256$ and $512$ (averaged over
# $H = 1 \dots 512$ it is {glue:text}`slope_small`). The recurrent weights
# $4H^2$ take over beyond $H \approx$ {glue:text}`crossover`, and the slope
# approaches 2 (it is {glue:text}`slope_large` between the two widest
# networks). What matters at
# every size is the ratio in panel (a): at $H = 512$ the Meta RNN has
# $|V_L| / |V_M| =$ {glue:text}`ratio_meta_512`, the VSML network
# {glue:text}`ratio_vsml_512`.
#
# The paper's single-layer MNIST network has
# $|V_L| = 784 \cdot 10 \cdot 2N =$ {glue:text}`vl_single` state entries ($h$
# and $c$ of every sub-LSTM) for $|V_M| =$ {glue:text}`vm_vsml`. The paper
# quotes "about 257,200" learned variables; it does not say what the extra
# {glue:text}`vl_paper_gap` are, so we report our own count.
#
# ## Exercises
#
# ```{admonition} Exercise 1 (code): where does the Meta RNN turn quadratic?
# Using `meta_rnn_counts`, find the smallest $H$ for which the recurrent
# weights $4H^2$ are at least half of the Meta RNN's $|V_M|$. Compare it with
# the input size $784 + 10$.
# ```
#
# ```{admonition} Solution
# :class: dropdown
# $4H^2 \ge 4H \cdot 794 + 14H + 10$ first holds at $H =$ {glue:text}`crossover`
# (the hidden cell below searches for it): just above the $794$ inputs, since
# $4H^2 = 4H \cdot 794$ at $H = 794$ and the remaining $14H + 10$ shift it by a
# few units. Below that width the Meta RNN's learning algorithm grows
# linearly with its memory, above it quadratically.
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 1
H = 1
while 4 * H * H < meta_rnn_counts(H)[0] - 4 * H * H:
    H += 1
print(f"recurrent weights are half of |V_M| from H = {H} on (inputs + errors: {784 + 10})")

# %% [markdown]
# ```{admonition} Exercise 2: Eq. 2 as one RNN
# (a) Show that Eq. 2 with $A = B = 1$ is Eq. 1. (b) For $A = B = 10$ and
# $N = 4$, what are $|V_M|$ and $|V_L|$ of Eq. 2, and their ratio? (c) Can the
# $A \cdot B$ sub-RNNs of Eq. 2 ever influence one another?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# (a) With one grid cell, $s_{11} \in \mathbb{R}^N$ is the whole state and
# Eq. 2 is Eq. 1 for it. (b) $|V_M| = N^2 = 16$ (one shared $W$),
# $|V_L| = A B N = 400$ state entries: a ratio of 25, and it grows with the
# grid while $|V_M|$ does not. (c) No: each $s_{ab}$ is updated from itself
# only, which the check above confirms; {doc}`02_message_passing` adds the
# messages that couple them.
# ```
#
# ```{admonition} Exercise 3: the paper's Meta RNN baseline
# The Meta RNN baseline of Appendix C.2 has an LSTM with 16 hidden units.
# Count its $|V_M|$ and $|V_L|$ on MNIST with `meta_rnn_counts(16)` and explain,
# in terms of these two numbers, why the paper expects it to memorise its
# meta-training tasks rather than learn a general learning algorithm.
# ```
#
# ```{admonition} Solution
# :class: dropdown
# It has $|V_M| =$ {glue:text}`vm_meta16` parameters but only
# $|V_L| =$ {glue:text}`vl_meta16` activations to store everything it learns
# during an episode. All knowledge that survives from task to task has to sit
# in $V_M$, and with so many parameters and so little memory the cheapest
# solution is to encode the training tasks themselves in $V_M$. The single-layer
# VSML network has the ratio the other way round: {glue:text}`vm_vsml` meta
# variables for {glue:text}`vl_single` learned variables.
#
# (We cannot reconstruct the paper's count. Appendix C.2 reports "about 100k
# to 150k parameters" for this baseline, whose inputs "are padded to be equal
# size across all meta training datasets". With 16 hidden units and 10
# classes that many parameters take {glue:text}`inputs_for_100k` to
# {glue:text}`inputs_for_150k` inputs. The image sizes the paper names give
# other counts: {glue:text}`vm_meta16_sizes` parameters for $14 \times 14$,
# $28 \times 28$ and $32 \times 32$ pixels and for $32 \times 32 \times 3$
# inputs (the colour images of CIFAR10, which the paper uses only with its
# convolutional variant), none of them in that range. The
# docstrings of `vsml/metarnn.py` record that the authors' code uses hidden
# size 128 instead and also feeds the previous one-hot label; on MNIST that
# gives {glue:text}`vm_meta128_label` parameters, not in the range either.)
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 3
vm_meta16, vl_meta16 = meta_rnn_counts(16)
print(f"Meta RNN with H = 16 on MNIST: |V_M| = {vm_meta16:,}, |V_L| = {vl_meta16}")
glue("vm_meta16", f"{vm_meta16:,}")
glue("vl_meta16", f"{vl_meta16}")
# The paper's "about 100k to 150k parameters": how many inputs would H = 16 and 10 classes need?
per_input = meta_rnn_counts(16, inputs=1)[0] - meta_rnn_counts(16, inputs=0)[0]  # 4 H weights per input
inputs_for = {target: round((target - meta_rnn_counts(16, inputs=0)[0]) / per_input) for target in (100_000, 150_000)}
by_size = {side: meta_rnn_counts(16, inputs=side)[0] for side in (14 * 14, 28 * 28, 32 * 32, 32 * 32 * 3)}
# The authors' code (vsml/metarnn.py): hidden size 128, previous one-hot label fed as well.
shapes_128 = metarnn_param_shapes(784, 10, hidden_size=128, feed_label=True)
vm_meta128 = sum(math.prod(shape) for shape in shapes_128.values())
assert sum(math.prod(shape) for shape in metarnn_param_shapes(784, 10, hidden_size=16).values()) == vm_meta16
print(f"inputs needed for 100k / 150k parameters at H = 16: {inputs_for[100_000]:,} / {inputs_for[150_000]:,}")
print("H = 16 at 14x14, 28x28, 32x32, 32x32x3 inputs:", ", ".join(f"{v:,}" for v in by_size.values()))
print(f"H = 128 with the previous label on MNIST: {vm_meta128:,}")
glue("inputs_for_100k", f"{inputs_for[100_000]:,}")
glue("inputs_for_150k", f"{inputs_for[150_000]:,}")
glue("vm_meta16_sizes", ", ".join(f"{v:,}" for v in by_size.values()))
glue("vm_meta128_label", f"{vm_meta128:,}")

# %% [markdown]
# ## Summary
#
# * Eq. 1 is one tick of a vanilla RNN; Eq. 2 applies the same $W$ to a grid
#   of independent states (checked numerically above).
# * In a Meta RNN, $|V_L| = O(N)$ and $|V_M| = O(N^2)$. If $N$ counts only
#   hidden units, $|V_M|$ grows close to linearly until the recurrent weights
#   outweigh the input weights ({numref}`fig-01-counts`); at every size its
#   learning algorithm is far larger than its memory.
#   Variable sharing turns this around: $|V_M|$ is fixed, $|V_L|$ grows with
#   the network.
# * Next, {doc}`02_message_passing` connects the sub-RNNs with messages
#   (Eq. 3-4).
#

# %%
print(f"chapter runtime {run.elapsed()} on {run.device}")

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

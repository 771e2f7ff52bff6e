# %% [markdown]
# # Meta RNNs and variable sharing
#
# COLAB_BADGE
#
# **What this chapter covers in the paper:** Section 2 ("Black-box learning in
# activations") and the start of Section 3 of {cite}`kirsch2021vsml`: the
# vanilla RNN tick (Eq. 1), variable sharing on an $A \times B$ grid (Eq. 2),
# and why the ratio between learned variables $V_L$ and meta variables $V_M$
# matters.
#
# A Meta RNN {cite}`hochreiter2001learning` receives inputs *and* the error of
# its previous prediction; after meta training, the learning algorithm lives
# in its weights $V_M$ and what it has learned lives in its activations $V_L$.
# With $N$ units, $|V_L| = O(N)$ but $|V_M| = O(N^2)$
# {cite}`schmidhuber1993reducing`: a huge, over-parameterised learning
# algorithm with a tiny memory, prone to memorising its training tasks.
# VSML keeps the Meta RNN's simplicity but reuses a few parameters many times.

# %% tags=["parameters"]
smoke = False
device = "cpu"
seed = 0

# %%
# Colab: install the package when it is not there yet.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+REPO_URL"], check=True)

# %%
import matplotlib.pyplot as plt
import torch

from vsml import SubLSTMConfig, VSMLConfig, param_count, rnn
from vsml.book import chapter_setup

run = chapter_setup(smoke=smoke, device=device, seed=seed)
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
print("Eq. 1 matches an explicit loop:", torch.allclose(rnn.rnn_step(s, W), by_loop, atol=1e-14))

# %% [markdown]
# ## Eq. 2: variable sharing
#
# Duplicate the computation along two axes of sizes $A$ and $B$: every
# $s_{ab} \in \mathbb{R}^N$ is updated by the *same* $W$,
#
# $$s_{abj} \leftarrow \sigma\Big(\sum_i s_{abi} W_{ij}\Big). \tag{2}$$
#
# These are $A \cdot B$ independent RNNs on a grid; the next chapter connects
# them. Below we check that `shared_rnn_step` is exactly $A B$ separate
# applications of Eq. 1 on random grids.

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
# We compare, for MNIST-sized problems (784 inputs, 10 classes):
#
# * a **Meta RNN**: an LSTM with $H$ hidden units fed the image and the
#   previous error (784 + 10 inputs) with a linear read-out. $V_M$ are its
#   weights, $V_L$ its $2H$ activations ($h$ and $c$).
# * a **VSML RNN** with one hidden layer of width $H$ (784 x H x 10): every
#   weight is a sub-LSTM with state $(h, c)$ of size $N = 16$, so
#   $|V_L| = 2N(784 H + 10 H)$, while $|V_M| = 2{,}384$ stays fixed.

# %%
def meta_rnn_counts(hidden: int, inputs: int = 784, classes: int = 10) -> tuple[int, int]:
    lstm = 4 * hidden * (inputs + classes + hidden) + 4 * hidden
    readout = hidden * classes + classes
    return lstm + readout, 2 * hidden


def vsml_counts(hidden: int, inputs: int = 784, classes: int = 10) -> tuple[int, int]:
    cfg = VSMLConfig(layer_sizes=(inputs, hidden, classes))
    return param_count(cfg.sub_lstm), cfg.num_learned()


widths = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
table = [(H, *meta_rnn_counts(H), *vsml_counts(H)) for H in widths]

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'H':>5} | {'Meta RNN |V_M|':>15} {'|V_L|':>8} {'ratio V_L/V_M':>14} | {'VSML |V_M|':>11} {'|V_L|':>12} {'ratio':>10}")
for H, mm, ml, vm, vl in table:
    print(f"{H:5d} | {mm:15,d} {ml:8,d} {ml / mm:14.2e} | {vm:11,d} {vl:12,d} {vl / vm:10.1f}")
print("single-layer VSML on MNIST (784x10): |V_M| =", f"{param_count(SubLSTMConfig()):,}",
      "|V_L| =", f"{VSMLConfig(layer_sizes=(784, 10)).num_learned():,}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.loglog(widths, [t[1] for t in table], "o-", color="C3", label="Meta RNN $|V_M|$")
ax.loglog(widths, [t[2] for t in table], "o--", color="C3", label="Meta RNN $|V_L|$")
ax.loglog(widths, [t[3] for t in table], "s-", color="C0", label="VSML $|V_M|$")
ax.loglog(widths, [t[4] for t in table], "s--", color="C0", label="VSML $|V_L|$")
ax.set_xlabel("hidden units $H$")
ax.set_ylabel("number of variables")
ax.set_title("Meta RNN: $|V_L| \\ll |V_M|$;  VSML: $|V_L| \\gg |V_M|$")
ax.legend(fontsize=8)
ax.grid(True, which="major", alpha=0.3)
plt.show()

# %% [markdown]
# The Meta RNN's memory grows linearly with $H$ while its learning algorithm
# grows quadratically; VSML's learning algorithm has a constant size while its
# memory grows with the number of connections. The paper's single-layer MNIST
# network has $|V_L| = 784 \cdot 10 \cdot 32 = 250{,}880$ state entries
# ($h$ and $c$ of every sub-LSTM) for $|V_M| = 2{,}384$. The paper quotes
# "about 257,200" learned variables; it does not say what the extra ~6,300
# are, so we report our own count.
#
# ## Summary
#
# * Eq. 1 is one tick of a vanilla RNN; Eq. 2 applies the same $W$ to a grid
#   of independent states (checked numerically above).
# * In a Meta RNN, $|V_L| = O(N)$ and $|V_M| = O(N^2)$; variable sharing
#   turns this around: $|V_M|$ is fixed, $|V_L|$ grows with the network.
# * Next: connect the sub-RNNs with messages (Eq. 3-4).
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

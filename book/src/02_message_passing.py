# %% [markdown]
# # Message passing between sub-RNNs
#
# COLAB_BADGE
#
# **What this chapter covers in the paper:** Section 3, "VSML as message
# passing between RNNs" (Eq. 3-4, Figure 1b) of {cite}`kirsch2021vsml`: the
# $A \cdot B$ independent RNNs of Eq. 2 are connected by messages, which gives
# the minimal VSML with meta variables $V_M = (W, C)$.
#
# Each sub-RNN $(a, b)$ receives a message $\vec m_a$ that sums a function
# $f_{\vec m}$ of the states in column $a$:
#
# $$s_{ab} \leftarrow f_{\text{RNN}}(s_{ab}, \vec m_a), \qquad
#   \vec m_b = \sum_{a'} f_{\vec m}(s_{a'b}). \tag{3}$$
#
# With $f_{\vec m}(s) = sC$ this is
#
# $$s_{abj} \leftarrow \sigma\Big(\sum_i s_{abi} W_{ij}
#   + \sum_{a', i} s_{a'ai} C_{ij}\Big). \tag{4}$$
#
# Summing over the first axis mimics the connectivity of weights in a neural
# network: the column $b$ collects what all inputs $a'$ send to output $b$,
# and that becomes the input of row $a = b$ at the next tick (here $A = B$;
# the stacked layers of chapter 4 relax this).

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

from vsml import rnn
from vsml.book import chapter_setup

run = chapter_setup(smoke=smoke, device=device, seed=seed)
num_ticks = 40 if not run.smoke else 5

# %% [markdown]
# ## Eq. 4 against a literal reading
#
# `vsml.rnn.message_rnn_step` computes the message once per column (sum first,
# project after: $C$ is linear). We compare it with a literal triple loop over
# $a, b, a'$ in float64.

# %%
# NBVAL_CHECK_OUTPUT
gen = torch.Generator().manual_seed(0)
size, N = 4, 3
W = torch.randn(N, N, generator=gen, dtype=torch.float64) / N ** 0.5
C = torch.randn(N, N, generator=gen, dtype=torch.float64) / (size * N) ** 0.5
s = torch.randn(size, size, N, generator=gen, dtype=torch.float64)

literal = torch.empty_like(s)
for a in range(size):
    for b in range(size):
        message = sum(s[a2, a] @ C for a2 in range(size))  # column a, summed over a'
        literal[a, b] = torch.tanh(s[a, b] @ W + message)
print("Eq. 4 vectorised == literal loops:", torch.allclose(rnn.message_rnn_step(s, W, C), literal, atol=1e-14))
print("with C = 0 it falls back to Eq. 2:",
      torch.allclose(rnn.message_rnn_step(s, W, torch.zeros_like(C)), rnn.shared_rnn_step(s, W), atol=0))

# %% [markdown]
# ## Messages couple the sub-RNNs
#
# Without messages, a perturbation of one sub-RNN's state stays where it is.
# With messages, it spreads: after one tick it reaches every sub-RNN in row
# $a = b$ of the perturbed cell's column, and from there everywhere. We
# perturb $s_{0,1}$ and track $|s' - s|$ per sub-RNN over ticks.

# %%
def spread(C_matrix, ticks):
    s0 = torch.randn(size, size, N, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    s1 = s0.clone()
    s1[0, 1] += 1e-3
    maps = []
    for _ in range(ticks):
        s0, s1 = rnn.message_rnn_step(s0, W, C_matrix), rnn.message_rnn_step(s1, W, C_matrix)
        maps.append((s1 - s0).norm(dim=-1))
    return torch.stack(maps)


coupled, uncoupled = spread(C, 3), spread(torch.zeros_like(C), 3)

# %%
# NBVAL_CHECK_OUTPUT
for t in range(3):
    print(f"tick {t + 1}: sub-RNNs affected with messages: {int((coupled[t] > 1e-12).sum()):2d} / {size * size}, "
          f"without: {int((uncoupled[t] > 1e-12).sum()):2d} / {size * size}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for t, ax in enumerate(axes):
    im = ax.imshow(coupled[t].log10().clamp(min=-16), cmap="viridis", vmin=-8, vmax=-2)
    ax.set_title(f"tick {t + 1}")
    ax.set_xlabel("b")
    ax.set_ylabel("a")
fig.colorbar(im, ax=axes, label="log10 |perturbation|", shrink=0.8)
fig.suptitle("A perturbation of $s_{0,1}$ spreads through messages (Eq. 4)")
plt.show()

# %% [markdown]
# ## The dynamics over many ticks
#
# The minimal VSML is a recurrent system like any other: here the mean
# absolute state and the message norm over ticks, for random $W, C$.

# %%
s_run = torch.randn(size, size, N, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
state_norms, message_norms = [], []
for _ in range(num_ticks):
    message_norms.append((s_run.sum(dim=0) @ C).norm(dim=-1).mean().item())
    s_run = rnn.message_rnn_step(s_run, W, C)
    state_norms.append(s_run.abs().mean().item())
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(state_norms, label="mean $|s|$")
ax.plot(message_norms, label="mean $\\|\\vec m_a\\|$")
ax.set_xlabel("tick")
ax.legend()
plt.show()

# %% [markdown]
# ## Summary
#
# * Eq. 4 connects the $A \cdot B$ sub-RNNs of Eq. 2 with messages summed over
#   a column; with $C = 0$ they decouple again (checked above).
# * $V_M = (W, C)$ has $2N^2$ numbers however large the grid is.
# * Next: the same computation is one ordinary RNN with a sparse, shared
#   weight matrix (Eq. 5-6, Theorem 1).
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

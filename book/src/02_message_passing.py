# %% [markdown]
# # Message passing between sub-RNNs
#
# COLAB_BADGE
#
# **What this chapter covers in the paper:** Section 3, "VSML as message
# passing between RNNs" (Eq. 3-4, Figure 1b) of {cite}`kirsch2021vsml`: the
# $A \cdot B$ independent RNNs of Eq. 2 ({doc}`01_meta_rnns`) are connected
# by messages, which gives the minimal VSML with meta variables
# $V_M = (W, C)$. Symbols: {doc}`notation`.
#
# ```{admonition} Learning objectives
# After this chapter you can
# * write Eq. 3-4 and say which sub-RNNs a message connects;
# * predict which sub-RNNs a perturbation of one state reaches after one and two ticks;
# * explain why summing over the first axis makes the grid behave like the weights of a layer;
# * check a vectorised implementation against a literal reading of an equation.
# ```
#
# **Where we differ from the paper.** Nothing is scaled down: Section 3 has no
# experiment for Eq. 3-4. We check them on a small grid in float64 with random
# $W$ and $C$ (the paper gives no values for them) and watch the dynamics that
# such random $V_M$ produce.
#
# Each sub-RNN $(a, b)$ receives a message $\vec m_a$ that sums a function
# $f_{\vec m}$ of the states in column $a$:
#
# $$s_{ab} \leftarrow f_{\text{RNN}}(s_{ab}, \vec m_a), \qquad
#   \vec m_b = \sum_{a'} f_{\vec m}(s_{a'b}). \tag{3}$$
#
# The message is defined per column $b$ (the right equation) and fed to the
# row of the same index (the left one, where it is written $\vec m_a$): the
# two indices name the same number, which is why Eq. 3 needs $A = B$.
#
# With $f_{\vec m}(s) = sC$ this is
#
# $$s_{abj} \leftarrow \sigma\Big(\sum_i s_{abi} W_{ij}
#   + \sum_{a', i} s_{a'ai} C_{ij}\Big). \tag{4}$$
#
# Summing over the first axis mimics the connectivity of weights in a neural
# network: the column $b$ collects what all inputs $a'$ send to output $b$,
# and that becomes the input of row $a = b$ at the next tick
# ({numref}`fig-02-grid`; here $A = B$, and the stacked layers of
# {doc}`04_tiny_lstms` relax this). This chapter keeps the sums of Eq. 3-4;
# the package's network of tiny LSTMs averages the messages instead, as
# Appendix C reports doing, which {doc}`04_tiny_lstms` explains.

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
import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

from vsml import rnn, schematics
from vsml.book import chapter_setup, glue

run = chapter_setup(smoke=smoke, device=device, seed=seed,
                    cpu_only="float64 checks of a 4x4 grid: nothing for a GPU to do")
num_ticks = 40 if not run.smoke else 5

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6.5, 6))
schematics.message_passing(ax, size=3, column=1)
glue("fig_grid", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_grid
# :name: fig-02-grid
#
# Figure 1b of the paper as Eq. 4 computes it, for $A = B = 3$ (indices from
# 0). Every box is a sub-RNN with its own state $s_{ab}$ and the shared $W$.
# Column $b = 1$ (blue) is summed into the message $\vec m_1$, which every
# sub-RNN of row $a = 1$ (red, and $s_{11}$) receives at the next tick.
# ```
#
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
print("Eq. 4 vectorised == literal loops:",
      torch.allclose(rnn.message_rnn_step(s, W, C), literal, rtol=0, atol=1e-14))
print("with C = 0 it falls back to Eq. 2 exactly:",
      torch.equal(rnn.message_rnn_step(s, W, torch.zeros_like(C)), rnn.shared_rnn_step(s, W)))

# %% [markdown]
# ## Messages couple the sub-RNNs
#
# Without messages, a perturbation of one sub-RNN's state stays where it is.
# With messages, it spreads. We perturb $s_{0,1}$ and track $|s' - s|$ per
# sub-RNN over ticks. Before looking: by Eq. 4, which sub-RNNs can have
# changed after one tick?

# %%
def spread(C_matrix, ticks, cell=(0, 1)):
    """Per tick, the size of the change of every sub-RNN's state after perturbing one cell."""
    s0 = torch.randn(size, size, N, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    s1 = s0.clone()
    s1[cell] += 1e-3
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
print("after one tick, affected cells (a, b):", [tuple(ab) for ab in (coupled[0] > 1e-12).nonzero().tolist()])

# %%
all_reached = next((t + 1 for t in range(3) if int((coupled[t] > 1e-12).sum()) == size * size), None)
glue("ticks_to_all", str(all_reached) if all_reached else "more than 3")
glue("affected_tick1", f"{int((coupled[0] > 1e-12).sum())}")
changed_sizes = coupled[coupled > 0]
print("every change is exactly zero or above 1e-8:", bool((changed_sizes > 1e-8).all()),
      f"(smallest non-zero change: {changed_sizes.min().item():.0e})")
glue("smallest_change", f"{changed_sizes.min().item():.0e}")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.9), sharex=True, sharey=True, constrained_layout=True)
for t, ax in enumerate(axes):
    im = ax.imshow(coupled[t].log10().clamp(min=-16), cmap="viridis", vmin=-8, vmax=-2)
    ax.set_title(f"after tick {t + 1}")
    ax.set_xlabel("column $b$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.add_patch(plt.Rectangle((0.5, -0.5), 1, 1, fill=False, ec="white", lw=2, ls="--"))
axes[0].set_ylabel("row $a$")
fig.colorbar(im, ax=axes, label="$\\log_{10} \\|s'_{ab} - s_{ab}\\|$", shrink=0.85)
glue("fig_spread", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_spread
# :name: fig-02-spread
#
# How far a perturbation of $s_{0,1}$ (dashed square) has spread after one,
# two and three ticks of Eq. 4 with random $W, C$ ($A = B = 4$, $N = 3$).
# Colour: size of the change of each sub-RNN's state, on a scale that stops
# at $10^{-8}$; the darkest purple means unchanged (exactly zero change).
# ```
#
# We call a sub-RNN changed when its state moved by more than $10^{-12}$; here
# every state either did not move at all or moved by at least
# {glue:text}`smallest_change`, so the threshold does not matter.
# After one tick, {glue:text}`affected_tick1` sub-RNNs have changed
# ({numref}`fig-02-spread`): $s_{0,1}$ itself, through $W$, and all of row
# $a = 1$, through the message $\vec m_1$ that sums column 1. At the next tick
# row 1 has changed, so every column holds a changed state, every message
# changes and the perturbation reaches every sub-RNN: all of them after
# {glue:text}`ticks_to_all` ticks. Without messages it never leaves its cell.
#
# ## The dynamics over many ticks
#
# The minimal VSML is a recurrent system like any other. With random $W$ and
# $C$ (what an untrained $V_M$ is), where does it go?

# %%
s_start = torch.randn(size, size, N, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
s_run = s_start.clone()
state_means, message_norms, changes = [], [], []
for _ in range(num_ticks):
    message_norms.append((s_run.sum(dim=0) @ C).norm(dim=-1).mean().item())
    s_next = rnn.message_rnn_step(s_run, W, C)
    changes.append((s_next - s_run).norm().item())
    state_means.append(s_next.abs().mean().item())
    s_run = s_next
settled = next((t + 1 for t, d in enumerate(changes) if d < 1e-8), None)
print(f"{num_ticks} ticks; state change per tick below 1e-8 from tick {settled}" if settled
      else f"{num_ticks} ticks; the state is still changing")
glue("settled_tick", str(settled) if settled else f"more than {num_ticks}")
glue("settle_sentence", (f"After a transient, the system settles into a fixed point: the change per tick falls below "
                         f"1e-8 from tick {settled} on") if settled else
     f"The system does not settle within {num_ticks} ticks: the change per tick stays above 1e-8")
glue("final_state_mean", f"{state_means[-1]:.2f}")

# %%
# From many starting states: s_start above, its mirror image -s_start, and random states at three scales.
randoms = [torch.randn(size, size, N, generator=torch.Generator().manual_seed(100 + k), dtype=torch.float64) * scale
           for k in range(20) for scale in (0.1, 1.0, 3.0)]
ends = torch.stack([s_start, -s_start, *randoms])
for _ in range(num_ticks):
    ends = rnn.message_rnn_step(ends, W, C)
distinct = []                      # one representative per end state (states closer than 1e-6 count as one)
for end in ends:
    if not any((end - d).abs().max() < 1e-6 for d in distinct):
        distinct.append(end)
mirror = torch.allclose(ends[1], -ends[0], rtol=0, atol=1e-12)
last_change = (rnn.message_rnn_step(ends, W, C) - ends).flatten(1).norm(dim=1)  # one more tick: all at rest?
print(f"largest change of any end state in one more tick: {float(last_change.max()):.1e}")
glue("ends_at_rest", "every one of them is a fixed point (one more tick moves none by as much as 1e-8)"
     if float(last_change.max()) < 1e-8 else f"not all of them are at rest yet (one more tick moves one by "
                                              f"{float(last_change.max()):.1e})")
print(f"{len(ends)} starting states, {num_ticks} ticks each: {len(distinct)} distinct end states; "
      f"the end from -s_start is minus the end from s_start: {mirror}")
glue("n_starts", str(len(ends)))
glue("n_end_states", str(len(distinct)))
glue("mirror_end", "exactly, to 1e-12" if mirror else "not so here")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharex=True)
ticks = range(1, num_ticks + 1)
axes[0].plot(ticks, state_means, label="mean $|s_{abj}|$")
axes[0].plot(ticks, message_norms, label="mean $\\|\\vec m_a\\|$")
axes[0].set(xlabel="tick", ylabel="size", title="(a) states and messages")
axes[0].legend()
axes[1].semilogy(ticks, [max(d, 1e-17) for d in changes], color="C2")
axes[1].set(xlabel="tick", ylabel="$\\|s_{t} - s_{t-1}\\|$ (all sub-RNNs)", title="(b) change per tick")
for ax in axes:
    ax.grid(alpha=0.3)
fig.tight_layout()
glue("fig_dynamics", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_dynamics
# :name: fig-02-dynamics
#
# The minimal VSML (Eq. 4) run from a random state with random $W, C$:
# (a) the mean absolute state after each tick and the mean message norm
# computed from the state before it (the message that tick uses), (b) how
# much the whole state changes from one tick to the next (log scale).
# ```
#
# {glue:text}`settle_sentence`, with a mean absolute state of
# {glue:text}`final_state_mean` at the end ({numref}`fig-02-dynamics`).
# How much of the start survives? We ran the same $W, C$ from
# {glue:text}`n_starts` starting states: the one above ($s_0$), its mirror
# image $-s_0$, and random states at three scales. They end in
# {glue:text}`n_end_states` distinct states, and {glue:text}`ends_at_rest`. The end reached from $-s_0$ is
# minus the one reached from $s_0$ ({glue:text}`mirror_end`): $\tanh$ is odd,
# so Eq. 4 maps $-s$ to $-s'$ and every fixed point comes with its mirror
# image. For this draw of random meta variables, then, the end state keeps
# only which of these few fixed points the start fell towards. No inputs were
# fed and we tried one draw at one scale, so this does not show that random
# $V_M$ in general cannot store what they see. Finding $V_M$ whose dynamics
# *do* store and use information is what meta learning is for
# ({doc}`07_meta_learning`), or, as a first step, cloning a known learning
# algorithm into them ({doc}`06_cloning`).
#
# ## Exercises
#
# ```{admonition} Exercise 1 (code): predict the spread
# Perturb $s_{2,3}$ instead of $s_{0,1}$. Predict from Eq. 4 which sub-RNNs
# change after one tick, then check with `spread(C, 1, cell=(2, 3))`.
# ```
#
# ```{admonition} Solution
# :class: dropdown
# $s_{2,3}$ itself (through $W$) and the whole row $a = 3$ (through
# $\vec m_3$, which sums column 3): {glue:text}`ex1_count` sub-RNNs. The hidden
# cell below lists them.
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 1
changed = (spread(C, 1, cell=(2, 3))[0] > 1e-12).nonzero().tolist()
print("changed after one tick:", [tuple(ab) for ab in changed])
glue("ex1_count", str(len(changed)))

# %% [markdown]
# ```{admonition} Exercise 2 (code): messages only
# Set $W = 0$. What do all sub-RNNs of one row have in common after one tick,
# and why? Check it.
# ```
#
# ```{admonition} Solution
# :class: dropdown
# With $W = 0$, Eq. 4 reads $s_{abj} \leftarrow \sigma(\sum_{a', i} s_{a'ai} C_{ij})$:
# the right-hand side does not depend on $b$, so every sub-RNN of row $a$ gets
# the same state. The hidden cell below checks whether all rows are
# constant along $b$ after one tick: {glue:text}`ex2_rows_equal`.
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 2
after = rnn.message_rnn_step(s, torch.zeros_like(W), C)
rows_equal = torch.equal(after, after[:, :1].expand_as(after))
print("every row constant along b:", rows_equal)
glue("ex2_rows_equal", "yes, every row" if rows_equal else "no, not every row (a bug to look for)")

# %% [markdown]
# ```{admonition} Exercise 3: why A = B?
# Eq. 4 feeds the message of column $b$ to row $a = b$. What goes wrong when
# $A \ne B$, and how do the stacked layers of {doc}`04_tiny_lstms` get around
# it?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# There are $B$ messages (one per column) and $A$ rows to feed: with
# $A \ne B$ some rows get no message or some messages have no row. Stacking
# layers sends the $B^{(k)}$ column messages of layer $k$ to the rows of the
# *next* layer, which has $A^{(k+1)} = B^{(k)}$ rows, exactly like the outputs
# of one dense layer are the inputs of the next.
# ```
#
# ## Summary
#
# * Eq. 4 connects the $A \cdot B$ sub-RNNs of Eq. 2 with messages summed over
#   a column ({numref}`fig-02-grid`); with $C = 0$ they decouple again
#   (checked above).
# * A perturbation of $s_{cd}$ (row $c$, column $d$) reaches row $d$, fed by
#   the message of column $d$, after one tick (here $s_{0,1}$ reaches row 1)
#   and every sub-RNN soon after ({numref}`fig-02-spread`). The random $V_M$
#   we drew settle into one of {glue:text}`n_end_states` fixed points from
#   every start we tried ({numref}`fig-02-dynamics`).
# * $V_M = (W, C)$ has $2N^2$ numbers however large the grid is.
# * Next, {doc}`03_sparse_shared_rnn` shows that the same computation is one
#   ordinary RNN with a sparse, shared weight matrix (Eq. 5-6, Theorem 1).
#

# %%
print(f"chapter runtime {run.elapsed()} on {run.device}")

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

# %% [markdown]
# # One big sparse shared RNN
#
# COLAB_BADGE
#
# **What this chapter covers in the paper:** Section 3, "VSML as a Meta RNN
# with a sparse shared weight matrix" (Eq. 5-6), Theorem 1 with its proof
# (Appendix A, Eq. 8-15), and Figure 1a of {cite}`kirsch2021vsml`.
# Symbols: {doc}`notation`.
#
# ```{admonition} Learning objectives
# After this chapter you can
# * state Theorem 1 and prove it (Eq. 8-15) with indicator brackets;
# * derive the case table of Eq. 6 from the closed form Eq. 14, and check it entry by entry;
# * read the flattened matrix $\tilde W$ (Figure 1a) and count its zero and shared entries;
# * explain in which sense VSML *is* a Meta RNN, and what makes it a special one.
# ```
#
# **Where we differ from the paper.** Nothing is scaled down. The paper
# states Theorem 1 and derives it in its Appendix A; we re-derive it, check
# every case of Eq. 6 and run both forms side by side at small sizes in
# float64.
#
# The message-passing system of Eq. 4 ({doc}`02_message_passing`) is *one*
# ordinary RNN whose state is all sub-RNN states together,
# $s \in \mathbb{R}^{A \times B \times N}$ with $A = B$ (Eq. 4 feeds the
# message of column $a$ to row $a$, so both axes need the same size), with a
# single weight matrix $\tilde W$ whose entries are zero, copies of entries of
# $W$ or $C$, or sums $C_{ij} + W_{ij}$:
#
# $$s_{abj} \leftarrow \sigma\Big(\sum_{c,d,i} s_{cdi}\,\tilde W_{cdiabj}\Big) \tag{5}$$
#
# $$\tilde W_{cdiabj} = \begin{cases} C_{ij} & d = a \wedge (d \ne b \vee c \ne a)\\
#   W_{ij} & d \ne a \wedge d = b \wedge c = a\\
#   C_{ij} + W_{ij} & d = a = b = c\\
#   0 & \text{otherwise.}\end{cases} \tag{6}$$
#
# Flattening $(c, d, i)$ into a row index and $(a, b, j)$ into a column index
# turns $\tilde W$ into an ordinary $ABN \times ABN$ recurrent matrix and Eq. 5
# into Eq. 1 ({doc}`01_meta_rnns`).

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
import itertools

import matplotlib.pyplot as plt
import torch
from matplotlib.colors import ListedColormap

from vsml import rnn
from vsml.book import chapter_setup, glue

run = chapter_setup(smoke=smoke, device=device, seed=seed,
                    cpu_only="float64 checks of small matrices: nothing for a GPU to do")
num_ticks = 100 if not run.smoke else 10
sizes = [(1, 3), (2, 4), (3, 2), (4, 5), (5, 3), (6, 4), (8, 2)] if not run.smoke else [(1, 3), (2, 4), (3, 2)]

# %% [markdown]
# ## Theorem 1 and its proof
#
# Write $[P]$ for the indicator of a statement $P$ (1 when it holds, 0
# otherwise; the paper writes $x \equiv y$ for $[x = y]$).
#
# ```{admonition} Theorem 1 (Appendix A)
# For all $W, C \in \mathbb{R}^{N \times N}$ and a square grid $A = B$ (as
# Eq. 4 requires), the update of Eq. 4 is the update of a single RNN (Eq. 5)
# with the matrix $\tilde W$ of Eq. 6: for
# every state $s$ and all $a, b, j$,
#
# $$\sigma\Big(\sum_i s_{abi} W_{ij} + \sum_{c,i} s_{cai} C_{ij}\Big)
#   = \sigma\Big(\sum_{c,d,i} s_{cdi} \tilde W_{cdiabj}\Big). \tag{8, 9}$$
# ```
#
# The left side is Eq. 4 with the summation index $a'$ renamed $c$. Both
# sides apply the same $\sigma$, so it suffices to show that the arguments
# agree.
#
# **Split $\tilde W$ into two parts.** For any tensor $\mathcal A$ of the same
# shape (the paper calls it $A$; we write $\mathcal A$ to keep $A$ for the grid
# size),
#
# $$\sum_{c,d,i} s_{cdi} \tilde W_{cdiabj}
#   = \sum_{c,d,i} s_{cdi} \mathcal A_{cdiabj}
#   + \sum_{c,d,i} s_{cdi} (\tilde W - \mathcal A)_{cdiabj}. \tag{10, 11}$$
#
# **The first part gives the recurrent term.** Choose
# $\mathcal A_{cdiabj} = [d = b]\,[c = a]\, W_{ij}$. The brackets keep only
# $c = a$ and $d = b$ in the sum over $c$ and $d$:
#
# $$\sum_{c,d,i} s_{cdi} [d = b][c = a] W_{ij} = \sum_i s_{abi} W_{ij}. \tag{12}$$
#
# **The second part gives the message.** Choose
# $(\tilde W - \mathcal A)_{cdiabj} = [d = a]\, C_{ij}$. The bracket keeps only
# $d = a$; the sum over $c$ (every row of column $a$) stays:
#
# $$\sum_{c,d,i} s_{cdi} [d = a] C_{ij} = \sum_{c,i} s_{cai} C_{ij}. \tag{13}$$
#
# **Solve for $\tilde W$.** Adding the two choices,
#
# $$\tilde W_{cdiabj} = [d = a]\, C_{ij} + [d = b]\,[c = a]\, W_{ij}, \tag{14}$$
#
# and by Eq. 11-13 the argument of Eq. 9 equals that of Eq. 8.
#
# **The case table.** Eq. 14 is a sum of two brackets, so it takes one of four
# values depending on which of them is 1:
#
# * both: $d = a$ and $d = b \wedge c = a$, i.e. $a = b = c = d$: $C_{ij} + W_{ij}$;
# * only the first: $d = a \wedge \neg(d = b \wedge c = a)$, i.e.
#   $d = a \wedge (d \ne b \vee c \ne a)$: $C_{ij}$;
# * only the second: $d \ne a \wedge d = b \wedge c = a$: $W_{ij}$;
# * neither: $0$.
#
# This is Eq. 15, which is Eq. 6. $\square$
#
# Two remarks. The four conditions are mutually exclusive and cover every
# $(c, d, a, b)$, so Eq. 6 defines every entry exactly once; we check this
# below. And the choice is forced: Eq. 5 must hold for *every* state $s$, and
# both arguments are linear in $s$, so the coefficient of each $s_{cdi}$ must
# match (for an injective $\sigma$ such as $\tanh$); $\tilde W$ is unique
# (Exercise 2).
#
# ## The proof, step by step, in numbers
#
# Each equation of the proof is checked in float64 on a random state, with
# $\mathcal A$ and $\tilde W - \mathcal A$ built from the brackets exactly as
# written.

# %%
# NBVAL_CHECK_OUTPUT
gen = torch.Generator().manual_seed(0)
A, N = 3, 2
W = torch.randn(N, N, generator=gen, dtype=torch.float64)
C = torch.randn(N, N, generator=gen, dtype=torch.float64)
s = torch.randn(A, A, N, generator=gen, dtype=torch.float64)
eq = torch.eye(A, dtype=torch.float64)          # eq[x, y] = [x = y]
ones = torch.ones(A, dtype=torch.float64)
A_part = torch.einsum("db,ca,ij->cdiabj", eq, eq, W)           # [d = b][c = a] W_ij
rest = torch.einsum("da,c,b,ij->cdiabj", eq, ones, ones, C)      # [d = a] C_ij, constant in c and b
lhs12 = torch.einsum("cdi,cdiabj->abj", s, A_part)
rhs12 = torch.einsum("abi,ij->abj", s, W)
lhs13 = torch.einsum("cdi,cdiabj->abj", s, rest)
rhs13 = torch.einsum("cai,ij->aj", s, C)[:, None, :].expand(A, A, N)
print("Eq. 12:", torch.allclose(lhs12, rhs12, rtol=0, atol=1e-14),
      "| Eq. 13:", torch.allclose(lhs13, rhs13, rtol=0, atol=1e-14))
W_tilde = A_part + rest                                          # Eq. 14
print("Eq. 14 equals the package's sparse_shared_matrix (consistency check, same einsums):",
      torch.equal(W_tilde, rnn.sparse_shared_matrix(W, C, A)))
arg8 = torch.einsum("abi,ij->abj", s, W) + torch.einsum("cai,ij->aj", s, C)[:, None, :]
arg9 = torch.einsum("cdi,cdiabj->abj", s, W_tilde)
print("Eq. 8 = Eq. 9 (arguments of sigma):", torch.allclose(arg8, arg9, rtol=0, atol=1e-14))

# %% [markdown]
# The comparison with `sparse_shared_matrix` is only a consistency check:
# the package builds $\tilde W$ with the same two einsums, copied from Eq. 14.
# The independent evidence is Eq. 8 = Eq. 9 on a random state, the literal
# case table below, and the triple loop of {doc}`02_message_passing`, which
# checked the vectorised Eq. 4 that the next sections compare with.
#
# ## The case table of Eq. 6, entry by entry
#
# Now the table itself: for every block $(c, d, a, b)$ we evaluate the four
# conditions of Eq. 6 literally, check that exactly one holds, and compare
# every entry of the resulting block with $\tilde W$ from Eq. 14. We also
# count the blocks in each case against closed forms: $d = a$ holds in $A^3$
# blocks, $a = b = c = d$ in $A$, and $d = b \wedge c = a$ in $A^2$.

# %%
# NBVAL_CHECK_OUTPUT
def case_table(W, C, size):
    """Eq. 6 read literally: one of four cases per block (c, d, a, b), and the count of each."""
    table = torch.zeros(size, size, W.shape[0], size, size, W.shape[1], dtype=W.dtype)
    counts, ambiguous = {"C": 0, "W": 0, "C+W": 0, "0": 0}, 0
    for c, d, a, b in itertools.product(range(size), repeat=4):
        cases = {"C": d == a and (d != b or c != a), "W": d != a and d == b and c == a,
                 "C+W": d == a and d == b and c == a}
        cases["0"] = not any(cases.values())
        ambiguous += sum(cases.values()) != 1
        case = next(k for k, v in cases.items() if v)
        counts[case] += 1
        table[c, d, :, a, b, :] = {"C": C, "W": W, "C+W": C + W, "0": torch.zeros_like(W)}[case]
    return table, counts, ambiguous


closed_form = lambda n: {"C": n ** 3 - n, "W": n ** 2 - n, "C+W": n, "0": n ** 4 - n ** 3 - n ** 2 + n}
print(f"{'A=B':>4} {'N':>2} {'blocks C':>9} {'W':>5} {'C+W':>5} {'0':>6} {'= closed form':>14} "
      f"{'one case each':>14} {'entries equal to Eq. 14':>24}")
for size, n_state in [(1, 2), (2, 3), (3, 2), (4, 2), (5, 3)]:
    g = torch.Generator().manual_seed(size)
    W_r = torch.randn(n_state, n_state, generator=g, dtype=torch.float64)
    C_r = torch.randn(n_state, n_state, generator=g, dtype=torch.float64)
    table, counts, ambiguous = case_table(W_r, C_r, size)
    eq14 = rnn.sparse_shared_matrix(W_r, C_r, size)
    equal = int((table == eq14).sum())
    print(f"{size:4d} {n_state:2d} {counts['C']:9d} {counts['W']:5d} {counts['C+W']:5d} {counts['0']:6d} "
          f"{str(counts == closed_form(size)):>14} {str(ambiguous == 0):>14} {equal:>12,d} of {eq14.numel():,}")

# %% [markdown]
# Every entry of the literal table equals Eq. 14 exactly (not just to rounding:
# both copy the same numbers), each block falls into exactly one case, and the
# counts match the closed forms.
#
# ## Theorem 1 over many ticks
#
# For several grid sizes $A = B$ and state sizes $N$, random $W$, $C$ and a
# random initial state, we run Eq. 4 (`message_rnn_step`) and Eq. 5
# (`sparse_rnn_step` with $\tilde W$ from `sparse_shared_matrix`) side by side
# in float64 for many ticks and record the largest absolute difference of the
# states at any tick (`vsml.rnn.check_theorem1`).

# %%
results = []
for trial, (size, n_state) in enumerate(sizes):
    results.append((size, n_state, rnn.check_theorem1(size, n_state, num_ticks=num_ticks, seed=seed + trial,
                                                       batch=(2,))))
print(f"{'A = B':>6} {'N':>3} {'ticks':>6} {'max |Eq.4 - Eq.5|':>18}")
for size, n_state, diff in results:
    print(f"{size:6d} {n_state:3d} {num_ticks:6d} {diff:18.2e}")
glue("thm_ticks", str(num_ticks))
glue("thm_worst", f"{max(d for _, _, d in results):.1e}")


def perturbation_growth(size, n_state, seed, ticks):
    """Largest and final growth of a small state perturbation under Eq. 4, with check_theorem1's W, C and start."""
    gen = torch.Generator().manual_seed(seed)                     # the draws of vsml.rnn.check_theorem1
    W_g = torch.randn(n_state, n_state, generator=gen, dtype=torch.float64) / n_state ** 0.5
    C_g = torch.randn(n_state, n_state, generator=gen, dtype=torch.float64) / (size * n_state) ** 0.5
    s_a = torch.randn(2, size, size, n_state, generator=gen, dtype=torch.float64)
    s_b = s_a + 1e-6 * torch.randn(s_a.shape, generator=gen, dtype=torch.float64)
    start, growth = (s_b - s_a).abs().max().item(), []
    for _ in range(ticks):
        s_a, s_b = rnn.message_rnn_step(s_a, W_g, C_g), rnn.message_rnn_step(s_b, W_g, C_g)
        growth.append((s_b - s_a).abs().max().item() / start)
    return max(growth), growth[-1]


growths = [perturbation_growth(size, n_state, seed + trial, num_ticks) for trial, (size, n_state) in enumerate(sizes)]
print(f"a 1e-6 perturbation of the state grows at most {max(g for g, _ in growths):.1f}-fold over {num_ticks} ticks "
      f"and ends at most {max(f for _, f in growths):.1f} times its start")
glue("pert_max_growth", f"{max(g for g, _ in growths):.0f}")
glue("pert_final", f"{max(f for _, f in growths):.1f}")

# %%
# NBVAL_CHECK_OUTPUT
tolerance = 1e-12
print(f"every size agrees to {tolerance:g}:", all(d < tolerance for _, _, d in results))

# %% [markdown]
# Over {glue:text}`thm_ticks` ticks the two updates never differ by more than
# {glue:text}`thm_worst`, float64 rounding. With these random $W, C$ a
# small perturbation of the state grows at most
# {glue:text}`pert_max_growth`-fold on the way and ends at most
# {glue:text}`pert_final` times its start: bounded growth, so rounding
# differences between the two forms are not amplified without limit tick
# after tick, and the many-tick
# run adds little to the single-tick check of Eq. 8 = Eq. 9 on a random
# state. A check that cannot fail proves
# nothing, so we also break $\tilde W$ on purpose: one structurally-zero
# entry set to a non-zero value must make the two updates disagree (with the
# identity as $\sigma$, so saturation cannot hide it: the difference must be
# exactly that value times $|s_{0,1,0}|$).

# %%
# NBVAL_CHECK_OUTPUT
gen = torch.Generator().manual_seed(0)
W3 = torch.randn(3, 3, generator=gen, dtype=torch.float64)
C3 = torch.randn(3, 3, generator=gen, dtype=torch.float64)
wrong_value = 0.5
broken = rnn.sparse_shared_matrix(W3, C3, 3)
broken[0, 1, 0, 2, 2, 0] = wrong_value  # c=0, d=1, i=0 -> a=2, b=2, j=0: should be zero
s3 = torch.randn(3, 3, 3, generator=gen, dtype=torch.float64)
identity = lambda x: x
diff = (rnn.message_rnn_step(s3, W3, C3, identity) - rnn.sparse_rnn_step(s3, broken, identity)).abs()
print("a wrong W~ is detected:", diff.max().item() > 1e-3)
print("the difference sits in exactly one entry, s[2, 2, 0], and equals wrong_value * |s[0, 1, 0]|:",
      int((diff > 1e-12).sum()) == 1 and abs(diff[2, 2, 0].item() - wrong_value * abs(s3[0, 1, 0].item())) < 1e-12)

# %% [markdown]
# ## The sparsity and sharing pattern (Figure 1a)
#
# {numref}`fig-03-pattern` colours each entry of the flattened $\tilde W$ by
# the case of Eq. 6 it falls into, for $A = B = 3$ and $N = 2$.

# %% tags=["hide-input"]
A_fig, N_fig = 3, 2
W_mark = torch.full((N_fig, N_fig), 1.0, dtype=torch.float64)   # tag W entries with 1
C_mark = torch.full((N_fig, N_fig), 2.0, dtype=torch.float64)   # tag C entries with 2 (C+W -> 3)
pattern = rnn.sparse_shared_matrix(W_mark, C_mark, A_fig).reshape(A_fig * A_fig * N_fig, -1).numpy()
cmap = ListedColormap(["white", "tab:orange", "tab:blue", "tab:purple"])
labels = [f"{x}{y}{z}" for x, y, z in itertools.product(range(A_fig), range(A_fig), range(N_fig))]
fig, ax = plt.subplots(figsize=(8.5, 7.5))
ax.imshow(pattern, cmap=cmap, vmin=-0.5, vmax=3.5)
block = A_fig * N_fig
for k in range(1, A_fig):
    ax.axhline(k * block - 0.5, color="k", lw=1.2)
    ax.axvline(k * block - 0.5, color="k", lw=1.2)
for k in range(1, A_fig * A_fig):
    ax.axhline(k * N_fig - 0.5, color="0.7", lw=0.5)
    ax.axvline(k * N_fig - 0.5, color="0.7", lw=0.5)
ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=11, family="monospace")
ax.set_yticks(range(len(labels)), labels, fontsize=11, family="monospace")
ax.set_xlabel("to $(a, b, j)$")
ax.set_ylabel("from $(c, d, i)$")
handles = [plt.Rectangle((0, 0), 1, 1, fc=cmap(k), ec="black", lw=0.8) for k in range(4)]
ax.legend(handles, ["0", "$W_{ij}$", "$C_{ij}$", "$C_{ij} + W_{ij}$"], loc="upper left",
          bbox_to_anchor=(1.02, 1), title="Eq. 6 case")
fig.tight_layout()
glue("fig_pattern", fig)
plt.close(fig)
stats_fig = rnn.sharing_stats(A_fig, N_fig)
glue("fig_zero_pct", f"{100 * stats_fig['structural_zeros'] / stats_fig['entries']:.0f}")

# %% [markdown]
# ```{glue:figure} fig_pattern
# :name: fig-03-pattern
#
# Figure 1a of the paper: the flattened $\tilde W$ for $A = B = 3$, $N = 2$.
# Row and column labels are the index triples $(c, d, i)$ and $(a, b, j)$
# (from 0); thick lines separate values of $c$ and $a$, thin lines values of
# $d$ and $b$. Each $2 \times 2$ cell is one block $(c, d, a, b)$, a copy of
# $W$, $C$, $C + W$ or zero.
# ```
#
# Reading the figure: each source sub-RNN $(c, d)$ is a band of $N$ rows. Its
# $C$ blocks form one horizontal run of $A$ blocks, the targets $(a, b)$ with
# $a = d$ and any $b$: a sub-RNN of column $d$ sends its message to the whole
# row $a = d$. The run sits in the same columns for every $c$, since
# $[d = a]$ does not depend on $c$. The $W$ blocks lie on the diagonal,
# $(c, d) = (a, b)$: each sub-RNN feeds itself. Where both meet,
# $a = b = c = d$, the entry is $C + W$.
# Here {glue:text}`fig_zero_pct`% of the entries are zero.
#
# ## Counting zero and shared entries
#
# Per $(c, d, a, b)$ block of $N \times N$ entries, $\tilde W$ is non-zero in
# $A^3 + A^2 - A$ of the $A^4$ blocks (the counts checked above). All
# non-zero entries are built from the $2N^2$ numbers in $W$ and $C$: the matrix
# grows as $A^4 N^2$, the meta variables do not. Each $C_{ij}$ appears in the
# $A^3$ blocks with $d = a$, each $W_{ij}$ in the $A^2$ blocks with
# $d = b \wedge c = a$ (the $A$ blocks with $C + W$ count for both). We count
# the uses of each by building $\tilde W$ with $N = 1$ and marking only $C$ or
# only $W$ (the count per entry does not depend on $N$).

# %%
# NBVAL_CHECK_OUTPUT
def uses_per_entry(size):
    """How many entries of W~ each C_ij and each W_ij appears in (N = 1: mark one of the two, count non-zeros)."""
    one, zero = torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    return (int(rnn.sparse_shared_matrix(zero, one, size).count_nonzero()),
            int(rnn.sparse_shared_matrix(one, zero, size).count_nonzero()))


print(f"{'A=B':>4} {'N':>3} {'entries':>14} {'zeros':>14} {'non-zero':>12} {'% zero':>7} {'|V_M|':>6} "
      f"{'uses of each C_ij':>18} {'of each W_ij':>13}")
count_rows = {}
for size, n_state in [(2, 2), (3, 2), (4, 16), (10, 16), (28, 16)]:
    stats = rnn.sharing_stats(size, n_state)
    assert stats["shared_nonzero"] == (size ** 3 + size ** 2 - size) * n_state * n_state
    uses_c, uses_w = uses_per_entry(size)
    assert (uses_c, uses_w) == (size ** 3, size ** 2)
    count_rows[size] = stats | {"uses_C": uses_c, "uses_W": uses_w}
    print(f"{size:4d} {n_state:3d} {stats['entries']:14,d} {stats['structural_zeros']:14,d} "
          f"{stats['shared_nonzero']:12,d} {100 * stats['structural_zeros'] / stats['entries']:7.2f} "
          f"{stats['distinct_parameters']:6d} {uses_c:18,d} {uses_w:13,d}")

# %%
big = count_rows[28]
glue("zero_pct_28", f"{100 * big['structural_zeros'] / big['entries']:.1f}")
glue("uses_C_28", f"{big['uses_C']:,}")
glue("uses_W_28", f"{big['uses_W']:,}")

# %% [markdown]
# For a $28 \times 28$ grid of sub-RNNs with $N = 16$ (a square grid chosen
# for illustration: Eq. 4 needs $A = B$, so it is not MNIST's $784 \times 10$
# layer), {glue:text}`zero_pct_28`%
# of $\tilde W$ is zero. Each of the $N^2$ entries of $C$ is used
# {glue:text}`uses_C_28` times and each of the $N^2$ entries of $W$
# {glue:text}`uses_W_28` times.
#
# ## Exercises
#
# ```{admonition} Exercise 1 (code): averaged messages
# Appendix C averages messages instead of summing them:
# $\vec m_b = \frac{1}{A} \sum_{a'} f_{\vec m}(s_{a'b})$. What is $\tilde W$ for
# this variant of Eq. 4? Check your answer numerically against Eq. 4 with
# the sum over $a'$ replaced by a mean.
# ```
#
# ```{admonition} Solution
# :class: dropdown
# The message term is linear in $C$, so averaging scales it by $1/A$:
# $\tilde W_{cdiabj} = [d = a]\, C_{ij} / A + [d = b][c = a]\, W_{ij}$, i.e.
# `sparse_shared_matrix(W, C / A, A)`. The hidden cell below compares it with
# Eq. 4 using a mean over the column, to float64 rounding:
# {glue:text}`ex1_mean_ok`.
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 1
mean_update = torch.tanh(s @ W + (s.mean(dim=0) @ C).unsqueeze(-2))      # messages averaged over a'
sparse_update = rnn.sparse_rnn_step(s, rnn.sparse_shared_matrix(W, C / A, A))
ex1_ok = torch.allclose(mean_update, sparse_update, rtol=0, atol=1e-14)
print("averaged messages = sparse RNN with C / A:", ex1_ok)
glue("ex1_mean_ok", "they agree" if ex1_ok else "they do NOT agree (a bug to look for)")

# %% [markdown]
# ```{admonition} Exercise 2: uniqueness
# Show that for $\sigma = \tanh$ no other $\tilde W$ than Eq. 14 makes Eq. 5
# equal to Eq. 4 for every state $s$.
# ```
#
# ```{admonition} Solution
# :class: dropdown
# $\tanh$ is injective, so the arguments must agree for all $s$:
# $\sum_{c,d,i} s_{cdi} (\tilde W_{cdiabj} - \tilde W^{14}_{cdiabj}) = 0$ for all $s$.
# Setting $s$ to a unit vector $s_{cdi} = 1$ (all other entries 0) gives
# $\tilde W_{cdiabj} = \tilde W^{14}_{cdiabj}$ for that $(c, d, i)$ and every
# $(a, b, j)$.
# ```
#
# ```{admonition} Exercise 3: how sparse in the limit?
# Show that the fraction of zero entries of $\tilde W$ is
# $1 - (A^3 + A^2 - A)/A^4$, independent of $N$, and find its limit as
# $A \to \infty$. Which of the cases of Eq. 6 supplies most of the non-zero
# blocks as $A$ grows, and why?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# Every block has $N^2$ entries and the non-zero blocks number
# $A^3 + A^2 - A$ of $A^4$, so $N$ cancels; the fraction tends to 1 like
# $1 - 1/A$. The $A^3$ message blocks dominate: each of the $A^2$ target
# sub-RNNs receives from a whole column of $A$ sources, plus itself.
# ```
#
# ## Summary
#
# * The minimal VSML (Eq. 4) is one RNN with a sparse, shared matrix
#   $\tilde W$ (Eq. 5-6). We proved Theorem 1 (Eq. 8-15), checked each step
#   and every entry of the case table against Eq. 14, and the two updates
#   agree to float64 rounding over many ticks; a single wrong entry is
#   detected.
# * Most of $\tilde W$ is zero, and all of the rest is tied to $2N^2$ numbers
#   ({numref}`fig-03-pattern`): VSML is a Meta RNN with a very particular
#   weight-sharing and sparsity pattern. Section 3 lists three views of VSML:
#   (A) one Meta RNN with a sparse shared weight matrix (this chapter), (B)
#   sub-RNNs passing messages ({doc}`02_message_passing`), and (C) complex
#   neurons whose weights are sub-RNN states ({doc}`04_tiny_lstms`).
# * Next, {doc}`04_tiny_lstms` replaces the vanilla sub-RNNs by tiny LSTMs
#   with forward and backward messages, which turns the grid into the weights
#   of a neural network (Eq. 7).
#

# %%
print(f"chapter runtime {run.elapsed()} on {run.device}")

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

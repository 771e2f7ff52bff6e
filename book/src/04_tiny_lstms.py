# %% [markdown]
# # Weights as tiny LSTMs
#
# COLAB_BADGE
#
# **What this chapter covers in the paper:** Section 3, "VSML as complex
# neurons with learned updates" and "Stacking VSML RNNs and feeding inputs"
# (Eq. 7, Figures 1c, 2 and 3), Appendix C ("LSTM implementation", Eq. 16)
# and Algorithm 2 (meta testing) of {cite}`kirsch2021vsml`. Symbols:
# {doc}`notation`.
#
# ```{admonition} Learning objectives
# After this chapter you can
# * read a VSML layer as a dense layer whose every weight is a tiny LSTM, with forward and backward messages (Eq. 7);
# * count the shared $|V_M|$ of the sub-LSTM and the $|V_L|$ of any network built from it;
# * trace one online step of Algorithm 2: where $x$, $\hat y$ and the error $e$ enter and leave, and when;
# * say which properties hold for *any* $V_M$ (causality, permutation invariance) and which need meta learning.
# ```
#
# **Where we differ from the paper.** The sections below explain each point.
#
# * Messages are averaged, as the paper's Appendix C reports doing, where
#   Eq. 3-4 and 7 sum them.
# * The prediction is read from the second slot of the last forward message,
#   as in the authors' code {cite}`kirsch2021vsmlcode`.
# * The initial states. Appendix C.2 says "States are initialized randomly
#   from independent standard normals". The package, like the authors' code,
#   starts every $h$ at zero and draws only the first half of each $c$ (8 of
#   its 16 entries), from a normal with standard deviation $1/\sqrt{A}$
#   truncated at two standard deviations; the other half of $c$ starts at
#   zero (`VSMLConfig.init_rand_proportion`, `VSMLNetwork.init_state`).
# * The constant gate offsets ($+5$ on the forget gate, $-5$ on the input
#   gate) come from the authors' code; the paper does not mention them.
#
# The networks here are untrained and small; meta-trained $V_M$s come in
# chapters {doc}`06_cloning` and {doc}`07_meta_learning`.
#
# Replace every weight $w_{ab}$ of a dense layer with $A$ inputs and $B$
# outputs by a tiny LSTM {cite}`hochreiter1997lstm,gers2000forget` with state
# $s_{ab} = (h_{ab}, c_{ab}) \in \mathbb{R}^{2N}$
# ({numref}`fig-04-neurons`). All LSTMs of all layers share one set of
# parameters $V_M$. Each receives a forward message from its input $a$ and a
# backward message from its output $b$; layer $k$ is updated by
#
# $$s^{(k)}_{ab} \leftarrow f_{\text{RNN}}\big(s^{(k)}_{ab}, \vec m^{(k)}_a, \overleftarrow m^{(k)}_b\big),
# \tag{7}$$
#
# with the messages, as Section 3 defines them, *summed* over the sub-LSTMs
# of a column or a row:
#
# $$\vec m^{(k+1)}_b = \sum_{a'} f_{\vec m}\big(s^{(k)}_{a'b}\big), \qquad
# \overleftarrow m^{(k-1)}_a = \sum_{b'} f_{\overleftarrow m}\big(s^{(k)}_{ab'}\big).$$
#
# Appendix C ("LSTM implementation") reports that *averaging* instead of
# summing stabilises meta-training,
#
# $$\vec m^{(k)}_b = \frac{1}{A^{(k-1)}} \sum_{a'} f_{\vec m}\big(s^{(k-1)}_{a'b}\big), \qquad
# \overleftarrow m^{(k)}_a = \frac{1}{B^{(k+1)}} \sum_{b'} f_{\overleftarrow m}\big(s^{(k+1)}_{ab'}\big),$$
#
# and the package does that. For Eq. 4 with a fixed number of inputs $A$,
# averaging only rescales the message weights ($C$ becomes $C / A$, Exercise
# 1 of {doc}`03_sparse_shared_rnn`), so Theorem 1 still applies to it; a
# network of another width gets another rescaling (Exercise 3 below).
#
# **Ticks and micro-ticks.** One *micro-tick* is one application of the
# sub-LSTM update above to every sub-LSTM of a layer. Per example, the
# layers run in order $1, \dots, K$ (Section 3, "to mimic sequential layer
# execution"), each for a few micro-ticks on the same incoming messages: two
# in the paper's meta-learning experiments ("two ticks per input", Appendix
# C.2), `VSMLConfig.num_micro_ticks` in the package.
#
# **Where data enter and leave (Algorithm 2).** Slots are the components of a
# message; the paper numbers them from 1, the code from 0.
#
# * Before the first example, $V_L$ starts as described above: $h = 0$, the
#   first half of each $c$ random with standard deviation $1/\sqrt{A}$, the
#   rest zero; the backward messages start at zero, so the first example
#   meets no error.
# * The input $x$ goes into the first slot of layer 1's forward messages,
#   $\vec m^{(1)}_{a1} := x_a$ (index 0 in the package).
# * The error $e = \nabla_{\hat y} L = \mathrm{softmax}(\hat y) - \mathrm{onehot}(y)$
#   goes into the first slot of the last layer's backward messages,
#   $\overleftarrow m^{(K)}_{b1} := e_b$ (index 0).
# * The prediction: the paper reads $\hat y_a := \vec m^{(K+1)}_{a1}$, the
#   *first* slot of the last forward message. The authors' published code reads
#   the *second* slot, and so does the package (index 1,
#   `VSMLConfig.output_slot`, which refuses slot 0). We follow the code, which
#   is what the paper's numbers come from. For the single-layer networks of
#   the paper's meta-learning experiments this is a convention: relabelling
#   the outputs of $f_{\vec m}$ turns one choice into the other. In deeper
#   networks it need not be, since one layer's forward messages are the next
#   layer's inputs. The cloned networks of chapter {doc}`06_cloning`, written
#   by us rather than ported, read the paper's first slot (index 0).
#   In `VSMLNetwork`, the network of this chapter and of meta learning, the
#   slot's value $y$ is then bounded as in Appendix C.2 ("outputs are
#   squashed between ± 100 using tanh"): the prediction is
#   $\hat y = 100 \tanh(y / 100)$ (`VSMLConfig.output_bound`).

# %% tags=["parameters"]
smoke = False
device = "auto"
seed = 0

# %%
# Colab: install the book's release of the package (and what this chapter imports besides).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "vsml @ git+REPO_URL@BOOK_RELEASE",
                    "scikit-learn"], check=True)

# %%
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown

from vsml import SubLSTMConfig, VSMLConfig, VSMLNetwork, data, param_count, schematics, tasks
from vsml.book import chapter_setup, glue
from vsml.lstm import param_shapes

run = chapter_setup(smoke=smoke, device=device, seed=seed,
                    cpu_only="a 64x10 network on one episode: kernel launches would cost a GPU more than the work")
num_examples = 60 if not run.smoke else 12

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1, 1.1]})
schematics.weights_as_lstms(axes[0], (2, 2), errors=False, title="(a) Figure 1c: two inputs, two outputs, four weights")
schematics.weights_as_lstms(axes[1], (3, 2), title="(b) Figure 2: forward and backward messages")
fig.tight_layout()
glue("fig_neurons", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_neurons
# :name: fig-04-neurons
#
# A layer whose weights are sub-LSTMs. (a) Figure 1c of the paper: each
# weight $w_{ab}$ between input neuron $a$ and output neuron $b$ is a
# sub-LSTM with state $s_{ab}$; all share $V_M$. (b) Figure 2: inputs $x_a$
# enter as forward messages $\vec m$ (blue), the prediction $\hat y_b$ leaves
# as one, and the error $e_b$ enters as a backward message $\overleftarrow m$
# (red). Indices from 0.
# ```
#
# ## The shared sub-LSTM and its parameter count
#
# With state size $N = 16$ and messages of size $N' = N'' = 8$ (Section 4.2):
# the gates come from one affine map of $[\vec m_a, \overleftarrow m_b, h]$
# ($8 + 8 + 16 \to 4 \cdot 16$, gate order $i, g, f, o$), and
# $f_{\vec m}, f_{\overleftarrow m}$ are affine maps $16 \to 8$:
#
# $$c \leftarrow \mathrm{sigm}(f + 5) \odot c + \mathrm{sigm}(i - 5) \odot \tanh(g), \qquad h \leftarrow \mathrm{sigm}(o) \odot \tanh(c).$$
#
# The constant offsets ($+5$ on the forget gate, $-5$ on the input gate) make
# memory persist and writes slow. They come from the authors' code
# {cite}`kirsch2021vsmlcode`; the paper does not mention them.

# %%
# NBVAL_CHECK_OUTPUT
cfg = SubLSTMConfig()
for name, shape in param_shapes(cfg).items():
    print(f"{name:7s} {str(shape):10s} {torch.Size(shape).numel():5d}")
print(f"|V_M| = {param_count(cfg):,}  (the paper: 'about 2,400')")
print(f"with LayerNorm on the outgoing messages (an option of the authors' code; chapter 07's BPTT runs): "
      f"|V_M| = {param_count(SubLSTMConfig(layer_norm=True)):,}")

# %%
glue("vm", f"{param_count(cfg):,}")
glue("vm_ln", f"{param_count(SubLSTMConfig(layer_norm=True)):,}")
glue("vl_mnist", f"{VSMLConfig(layer_sizes=(784, 10)).num_learned():,}")
# Section 4's "about 257,200" against our states plus the message buffers the authors' code keeps (our guess)
with_buffers = VSMLConfig(layer_sizes=(784, 10)).num_learned() + 784 * cfg.fwd_size + 10 * cfg.bwd_size
glue("vl_with_buffers", f"{with_buffers:,}")
glue("vl_buffers_gap", f"{abs(with_buffers - 257_200):,}")

# %% [markdown]
# $|V_M| =$ {glue:text}`vm`, the paper's "about 2,400". The $V_M$s that
# {doc}`07_meta_learning` meta-trains by BPTT add a LayerNorm (a scale and an
# offset per slot) to each sub-LSTM's *outgoing* message contribution: after
# $f_{\vec m}$ or $f_{\overleftarrow m}$, before the average over the column
# or row (`vsml.lstm.dense_messages`). That makes {glue:text}`vm_ln`. The
# LayerNorm is an option of the authors' code, off by default there, and not
# in the paper; the ES configuration of chapter 07 (`cpu_es`) has none.
#
# ## One V_M, many networks
#
# The same {glue:text}`vm` numbers run the single-layer MNIST network of
# Section 4.2 ($784 \times 10$, $|V_L| =$ {glue:text}`vl_mnist`) and deeper
# ones; only $V_L$, the states, grows.
#
# Our $|V_L|$ counts $h$ and $c$ of every sub-LSTM, $784 \cdot 10 \cdot 2N$.
# Section 4 quotes "about 257,200", a little more, and does not say what it
# counts ({doc}`01_meta_rnns` reports our own count). Our guess: the states
# plus the incoming message buffers that the authors' code keeps with each
# layer's state, $784 \cdot 8$ forward and $10 \cdot 8$ backward numbers;
# that sum is {glue:text}`vl_with_buffers`, within
# {glue:text}`vl_buffers_gap` of the paper's figure.

# %%
# NBVAL_CHECK_OUTPUT
for sizes in [(784, 10), (784, 32, 10), (784, 160, 10), (64, 10)]:
    net = VSMLNetwork(VSMLConfig(layer_sizes=sizes))
    print(net)

# %% [markdown]
# ## Running an *untrained* V_M online (Algorithm 2)
#
# To see the mechanics, we run a freshly initialised $V_M$ on a real dataset
# that ships with scikit-learn: the {glue:text}`n_digits` training images of
# the **8x8 digits** (64 inputs, 10 classes; a small stand-in for MNIST,
# which later chapters use). As in {doc}`05_datasets`, `vsml.data` loads
# them and `vsml.tasks.online_episodes` draws one episode, standardised
# with the dataset's statistics. Each step the network predicts $x_t$ *before* its
# label is seen; the error then enters with $x_{t+1}$. An untrained $V_M$ does
# not learn anything useful: this section only shows what flows where.

# %%
digits = data.load("digits", "train")
glue("n_digits", f"{len(digits):,}")
x_ep, y_ep = tasks.online_episodes(digits, 1, num_examples, seed=seed)   # one episode: [P=1, T, 64]

net = VSMLNetwork(VSMLConfig(layer_sizes=(64, 10)))
params = net.init_params(seed=seed)
state = net.init_state(1, torch.Generator().manual_seed(seed))
records = []
with torch.inference_mode():
    for t in range(num_examples):
        c_before = state.c[0].clone()
        logits, loss, state = net.online_step(params, state, x_ep[:, t], y_ep[:, t])
        records.append(dict(t=t, label=int(y_ep[0, t]), pred=int(logits.argmax()), loss=float(loss),
                            logit_range=float(logits.max() - logits.min()),
                            state_change=float((state.c[0] - c_before).norm()),
                            error_in=state.bwd_in[-1][0, :, 0].clone()))
print(f"{'t':>3} {'label':>5} {'pred':>4} {'loss':>7} {'logit range':>11} {'|dc|':>8}")
for r in records[:8]:
    print(f"{r['t']:3d} {r['label']:5d} {r['pred']:4d} {r['loss']:7.3f} {r['logit_range']:11.4f} {r['state_change']:8.4f}")
print("error fed back after step 0 (slot 0 of the backward messages):", records[0]["error_in"].numpy().round(3))
mean_loss, chance_loss = sum(r["loss"] for r in records) / len(records), math.log(10)
glue("loss_mean", f"{mean_loss:.2f}")
glue("chance_loss", f"{chance_loss:.2f}")
# Our reading of "at chance": the episode's mean loss within 0.1 of ln 10 (a uniform guess).
at_chance = abs(mean_loss - chance_loss) < 0.1
glue("untrained_reading", "stays at chance (its mean within 0.1 of ln 10)" if at_chance else
     "is not at chance (its mean is more than 0.1 from ln 10, a surprise for an untrained V_M)")
glue("untrained_verdict", Markdown("the states move, but not in a direction that helps" if at_chance else
                                   "the loss is not at chance, which an untrained $V_M$ should not manage: look "
                                   "at the figure"))

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharex=True)
steps = [r["t"] for r in records]
axes[0].plot(steps, [r["loss"] for r in records])
axes[0].axhline(chance_loss, color="0.4", ls=":", label="chance, $\\ln 10$")
axes[0].set(xlabel="example $t$", ylabel="cross-entropy", title="(a) loss of each online prediction")
axes[0].legend()
axes[1].plot(steps, [r["state_change"] for r in records], color="C1")
axes[1].set(xlabel="example $t$", ylabel="$\\|\\Delta c\\|$ over all sub-LSTMs",
            title="(b) how much the states move", ylim=(0, None))
for ax in axes:
    ax.grid(alpha=0.3)
fig.tight_layout()
glue("fig_untrained", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_untrained
# :name: fig-04-untrained
#
# An untrained $V_M$ run online on one episode of 8x8 digits ($64 \times 10$
# layer). (a) The loss of each prediction, made before its label is seen,
# {glue:text}`untrained_reading`. (b) The cell states, which play the role of the weights,
# change at every step.
# ```
#
# The mean loss over the episode is {glue:text}`loss_mean`, chance level is
# $\ln 10 =$ {glue:text}`chance_loss` ({numref}`fig-04-untrained`):
# {glue:md}`untrained_verdict`. Making them move usefully is the job of
# meta learning.
#
# ## The prediction never sees its own label
#
# Changing the label $y_t$ must leave every prediction up to and including
# step $t$ unchanged, and change later ones (the error reaches the states with
# $x_{t+1}$). This holds for *any* $V_M$: it is a property of Algorithm 2.

# %%
# NBVAL_CHECK_OUTPUT
big = {k: 3 * v for k, v in params.items()}   # larger weights so that the error visibly matters
y_changed = y_ep.clone()
y_changed[0, 3] = (y_ep[0, 3] + 1) % 10
with torch.inference_mode():
    a = net.run_episode(big, x_ep[:, :8], y_ep[:, :8], generator=torch.Generator().manual_seed(1))
    b = net.run_episode(big, x_ep[:, :8], y_changed[:, :8], generator=torch.Generator().manual_seed(1))
print("predictions for t <= 3 unchanged:", torch.equal(a.logits[:, :4], b.logits[:, :4]))
print("predictions for t > 3 changed:   ", bool((a.logits[:, 4:] - b.logits[:, 4:]).abs().max() > 0))

# %% [markdown]
# ## Permutation invariance
#
# All sub-LSTMs share $V_M$, and the messages combine over rows and columns
# by an order-free reduction (a mean here; a sum would do as well), so the
# network does not care about the order of its inputs or outputs (Section
# 4.3): permuting the input pixels together with the rows of the state
# (including the random initial states) gives the same predictions, and
# permuting the classes (columns of the state, and the labels) permutes the
# predictions. Averaging rather than summing matters only when the number of
# inputs changes (Exercise 3).

# %%
# NBVAL_CHECK_OUTPUT
gen = torch.Generator().manual_seed(2)
state0 = net.init_state(1, gen)
pix = torch.randperm(64, generator=gen)
cls = torch.randperm(10, generator=gen)
inverse_cls = torch.argsort(cls)
with torch.inference_mode():
    ref = net.run_episode(big, x_ep[:, :10], y_ep[:, :10], state=state0.clone())
    s_pix = state0.clone()
    s_pix.h[0], s_pix.c[0] = state0.h[0][:, pix], state0.c[0][:, pix]
    by_pixels = net.run_episode(big, x_ep[:, :10, pix], y_ep[:, :10], state=s_pix)
    s_cls = state0.clone()
    s_cls.h[0], s_cls.c[0] = state0.h[0][:, :, cls], state0.c[0][:, :, cls]
    by_classes = net.run_episode(big, x_ep[:, :10], inverse_cls[y_ep[:, :10]], state=s_cls)
print("input permutation leaves predictions unchanged:",
      torch.allclose(ref.logits, by_pixels.logits, atol=1e-5))
print("class permutation permutes predictions:       ",
      torch.allclose(ref.logits[..., cls], by_classes.logits, atol=1e-5))

# %% [markdown]
# ## Two layers (Figure 3)
#
# Stacking layers keeps one $V_M$ but gives each layer its own states
# ({numref}`fig-04-layers`). Layer $k$'s forward message feeds layer $k+1$
# immediately; its backward message reaches layer $k-1$ with the next example.

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(12, 5))
schematics.weights_as_lstms(ax, (3, 3, 2), layer_labels=True)
fig.tight_layout()
glue("fig_layers", fig)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig_layers
# :name: fig-04-layers
#
# Figure 3 of the paper: two stacked VSML layers ($3 \times 3$, then
# $3 \times 2$) with the same $V_M$ and distinct states $s^{(1)}$ and
# $s^{(2)}$. The forward messages of layer 1 are the inputs of layer 2; the
# backward messages of layer 2 reach layer 1.
# ```
#
# A $64 \times 32 \times 10$ network on the same episode:

# %%
# NBVAL_CHECK_OUTPUT
deep = VSMLNetwork(VSMLConfig(layer_sizes=(64, 32, 10)))
with torch.inference_mode():
    res = deep.run_episode(params, x_ep[:, :5], y_ep[:, :5], generator=torch.Generator().manual_seed(0))
print(deep)
print("state shapes per layer:", [tuple(h.shape) for h in res.state.h])
print("backward message into layer 1 (from layer 2):", tuple(res.state.bwd_in[0].shape),
      "| error message into layer 2:", tuple(res.state.bwd_in[1].shape))
print("predictions:", tuple(res.logits.shape))

# %% [markdown]
# ## Exercises
#
# ```{admonition} Exercise 1 (code): count V_M for cloning
# Count $|V_M|$ by hand for $N = 16$, $N' = N'' = 8$ from the shapes above,
# then for the sub-LSTM used to clone backpropagation in {doc}`06_cloning`
# ($N = 64$, same message sizes), and check with `param_count`.
# ```
#
# ```{admonition} Solution
# :class: dropdown
# The gate map takes $N' + N'' + N$ inputs to $4N$ gates, plus $4N$ biases;
# each message map is $N \times 8$ plus 8 biases:
# $|V_M| = 4N(N' + N'' + N) + 4N + 2(8N + 8)$. For $N = 16$:
# $2048 + 64 + 2 \cdot 136$, which is {glue:text}`vm`. For $N = 64$:
# {glue:text}`vm_64` (hidden cell below).
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 1
by_hand = lambda n, fw=8, bw=8: 4 * n * (fw + bw + n) + 4 * n + (n * fw + fw) + (n * bw + bw)
for n in (16, 64):
    print(f"N = {n}: by hand {by_hand(n):,}, param_count {param_count(SubLSTMConfig(state_size=n)):,}")
glue("vm_64", f"{param_count(SubLSTMConfig(state_size=64)):,}")

# %% [markdown]
# ```{admonition} Exercise 2 (code): which predictions can a label change?
# Change the label of step 5 instead of step 3 in the two-layer network
# `deep`. Which predictions change? Is the answer different from the
# single-layer network?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# Predictions $t \le 5$ cannot change: the label of step 5 enters only after
# prediction 5. From $t = 6$ on they can: the error enters layer 2 together
# with $x_6$, so layer 2's states, and with them prediction 6, already
# differ; layer 1 hears of it one example later, through layer 2's backward
# message. The hidden cell finds the first changed step:
# {glue:text}`ex2_first`.
#
# So the answer is no different from the single-layer network: there too,
# predictions up to and including the labelled step are unchanged and the
# next one already changes, because the error enters the layer that makes
# the prediction. Only the route inside differs: with two layers, layer 1
# learns of the change one example after layer 2.
# ```

# %% tags=["hide-cell"]
# Solution to Exercise 2
deep_params = {k: 3 * v for k, v in params.items()}
y5 = y_ep.clone()
y5[0, 5] = (y_ep[0, 5] + 1) % 10
with torch.inference_mode():
    r0 = deep.run_episode(deep_params, x_ep[:, :10], y_ep[:, :10], generator=torch.Generator().manual_seed(1))
    r1 = deep.run_episode(deep_params, x_ep[:, :10], y5[:, :10], generator=torch.Generator().manual_seed(1))
changed_steps = [t for t in range(10) if not torch.equal(r0.logits[:, t], r1.logits[:, t])]
print("steps whose prediction changed:", changed_steps)
glue("ex2_first", f"step {changed_steps[0]}" if changed_steps else "none changed")

# %% [markdown]
# ```{admonition} Exercise 3: why average?
# The same $V_M$ is meta-trained on 7x7 images (49 inputs) and meta-tested on
# 28x28 (784 inputs) in {doc}`07_meta_learning`. What would happen to the
# forward messages of a $V_M$ trained on 49 inputs if messages were *summed*
# (as in the sums after Eq. 7) and it then met 784 inputs?
# ```
#
# ```{admonition} Solution
# :class: dropdown
# A summed message grows with the number of terms $A$: like $A$ if the
# contributions are correlated (for instance, if they share a non-zero
# mean), like $\sqrt A$ if they are independent with zero mean. Going from
# 49 to 784 inputs multiplies it by 16 or by 4. In the single-layer networks
# of {doc}`07_meta_learning` the summed forward message of a column *is* the
# prediction $\hat y_b$ (before its bound), so the predictions, and with them
# the errors fed back, would be 4 to 16 times larger than in meta-training;
# each sub-LSTM's own pixel input is unchanged. In a deeper network the next
# layer's sub-LSTMs would also see inputs far outside what they saw in
# meta-training. An average keeps the message's scale independent of $A$, so
# the same $V_M$ transfers across input sizes.
# ```
#
# ## Summary
#
# * A VSML layer is an $A \times B$ grid of LSTMs sharing $V_M$
#   ({glue:text}`vm` numbers); forward messages play the role of activations,
#   backward messages carry errors, and the LSTM states play the role of
#   weights (Eq. 7, {numref}`fig-04-neurons`, {numref}`fig-04-layers`).
# * The paper reads the prediction from the first slot of the last forward
#   message; the authors' code and the package read the second.
# * The same $V_M$ runs networks of any shape, is invariant to input and
#   output order, and never sees a label before predicting it: properties of
#   the architecture, true for any $V_M$.
# * An untrained $V_M$ does not learn ({numref}`fig-04-untrained`).
#   {doc}`05_datasets` introduces the data; {doc}`06_cloning` puts
#   backpropagation into $V_M$ by regression, and {doc}`07_meta_learning`
#   meta learns $V_M$ from scratch (Algorithm 1).
#

# %%
print(f"chapter runtime {run.elapsed()} on {run.device}")

# %% [markdown]
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

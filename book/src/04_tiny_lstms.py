# %% [markdown]
# # Weights as tiny LSTMs
#
# COLAB_BADGE
#
# **What this chapter covers in the paper:** Section 3, "VSML as complex
# neurons with learned updates" and "Stacking VSML RNNs and feeding inputs"
# (Eq. 7, Figures 2-3), Appendix C ("LSTM implementation", Eq. 16) and
# Algorithm 2 (meta testing) of {cite}`kirsch2021vsml`.
#
# Replace every weight $w_{ab}$ of a dense layer with $A$ inputs and $B$
# outputs by a tiny LSTM {cite}`hochreiter1997lstm,gers2000forget` with state
# $s_{ab} = (h_{ab}, c_{ab}) \in \mathbb{R}^{2N}$. All LSTMs of all layers
# share one set of parameters $V_M$. Each receives a forward message from its
# input $a$ and a backward message from its output $b$:
#
# $$s^{(k)}_{ab} \leftarrow f_{\text{RNN}}\big(s^{(k)}_{ab}, \vec m^{(k)}_a, \overleftarrow m^{(k)}_b\big), \quad
# \vec m^{(k+1)}_b = \frac{1}{A}\sum_{a'} f_{\vec m}\big(s^{(k)}_{a'b}\big), \quad
# \overleftarrow m^{(k-1)}_a = \frac{1}{B}\sum_{b'} f_{\overleftarrow m}\big(s^{(k)}_{ab'}\big). \tag{7}$$
#
# The input $x$ goes into slot 0 of layer 1's forward messages, the prediction
# is read from slot 1 of the last forward message, and the error
# $e = \nabla_{\hat y} L = \mathrm{softmax}(\hat y) - \mathrm{onehot}(y)$ goes
# into slot 0 of the last layer's backward messages (Algorithm 2). The paper
# found that *averaging* rather than summing messages stabilises
# meta-training (Appendix C), which is what we do.

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
from sklearn.datasets import load_digits

from vsml import SubLSTMConfig, VSMLConfig, VSMLNetwork, param_count
from vsml.book import chapter_setup
from vsml.lstm import param_shapes

run = chapter_setup(smoke=smoke, device=device, seed=seed)
num_examples = 60 if not run.smoke else 8

# %% [markdown]
# ## The shared sub-LSTM and its parameter count
#
# With state size $N = 16$ and messages of size $N' = N'' = 8$ (Section 4.2):
# the gates come from one affine map of $[\vec m_a, \overleftarrow m_b, h]$
# ($32 \to 64$, gate order $i, g, f, o$), and $f_{\vec m}, f_{\overleftarrow m}$
# are affine maps $16 \to 8$:
#
# $$c \leftarrow \sigma(f + 5) \odot c + \sigma(i - 5) \odot \tanh(g), \qquad h \leftarrow \sigma(o) \odot \tanh(c).$$
#
# The constant offsets (+5 on the forget gate, -5 on the input gate) make
# memory persist and writes slow, as in the authors' implementation.

# %%
# NBVAL_CHECK_OUTPUT
cfg = SubLSTMConfig()
for name, shape in param_shapes(cfg).items():
    print(f"{name:7s} {str(shape):10s} {torch.Size(shape).numel():5d}")
print(f"|V_M| = {param_count(cfg):,}  (the paper: 'about 2,400')")

# %% [markdown]
# ## One V_M, many networks
#
# The same 2,384 numbers run the single-layer MNIST network of Section 4.2
# ($784 \times 10$) and deeper ones; only $V_L$, the states, grows.

# %%
# NBVAL_CHECK_OUTPUT
for sizes in [(784, 10), (784, 32, 10), (784, 160, 10), (64, 10)]:
    net = VSMLNetwork(VSMLConfig(layer_sizes=sizes))
    print(net)

# %% [markdown]
# ## Running an *untrained* V_M online (Algorithm 2)
#
# To see the mechanics, we run a freshly initialised $V_M$ on a real dataset
# that ships with scikit-learn: the 1,797 **8x8 digits** (64 inputs, 10
# classes; a small stand-in for MNIST, which the later chapters use). Each
# step the network predicts $x_t$ *before* its label is seen; the error then
# enters with $x_{t+1}$. An untrained $V_M$ does not learn anything useful:
# this cell only shows what flows where.

# %%
digits = load_digits()
x_all = torch.tensor(digits.data, dtype=torch.float32) / 16.0
x_all = (x_all - x_all.mean()) / x_all.std()
y_all = torch.tensor(digits.target)
order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(seed))[:num_examples]
x_ep, y_ep = x_all[order][None], y_all[order][None]          # one episode: [P=1, T, 64]

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

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].plot([r["loss"] for r in records])
axes[0].set_xlabel("example t")
axes[0].set_ylabel("cross-entropy")
axes[0].set_title("untrained V_M: no learning (expected)")
axes[1].plot([r["state_change"] for r in records])
axes[1].set_xlabel("example t")
axes[1].set_ylabel("$\\|\\Delta c\\|$ over all sub-LSTMs")
axes[1].set_title("the states (the 'weights') move every step")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The prediction never sees its own label
#
# Changing the label $y_t$ must leave every prediction up to and including
# step $t$ unchanged, and change later ones (the error reaches the states with
# $x_{t+1}$).

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
# All sub-LSTMs share $V_M$ and messages are averaged, so the network does not
# care about the order of its inputs or outputs (Section 4.3): permuting the
# input pixels together with the rows of the state gives the same predictions,
# and permuting the classes (columns of the state, and the labels) permutes
# the predictions.

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
# Stacking layers keeps one $V_M$ but gives each layer its own states. Layer
# $k$'s forward message feeds layer $k+1$ immediately; its backward message
# reaches layer $k-1$ with the next example. Here a $64 \times 32 \times 10$
# network on the same episode:

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
# ## Summary
#
# * A VSML layer is an $A \times B$ grid of LSTMs sharing $V_M$ (2,384 numbers);
#   forward messages play the role of activations, backward messages carry
#   errors, and the LSTM states play the role of weights (Eq. 7, Figure 2).
# * The same $V_M$ runs networks of any shape, is invariant to input and
#   output order, and never sees a label before predicting it.
# * An untrained $V_M$ does not learn. Meta learning it from scratch
#   (Algorithm 1) is the subject of a later chapter.
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```

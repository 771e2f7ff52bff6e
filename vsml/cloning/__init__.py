"""Learning algorithm cloning: teach the shared sub-LSTM to *be* backpropagation.

Paper: Section 3.2 (Figure 4), Section 4.1 (Figure 5), Appendix B.1 (Figure 10,
the curriculum, Figure 11), Appendix C ("LSTM implementation", "Bounded
states in LSTMs") and C.1 ("General training remarks", "Batching", "Stability
during meta testing") of Kirsch & Schmidhuber (2021). The authors published no
code for this part; every choice below is ours and is stated with its reason.

What is cloned (Figure 4). Every sub-LSTM ``(a, b)`` of a dense layer plays one
weight ``w`` and one bias ``b`` of a standard network and must

1. keep ``w`` and ``b`` in two designated state dimensions,
2. forward: send ``y = tanh(x) w + b`` (its forward-message output),
3. backward: change ``w`` and ``b`` as SGD would, ``dw = -lr e tanh(x)`` and
   ``db = -lr e``, and send the backpropagated error
   ``e' = e w (1 - tanh(x)^2)`` (its backward-message output; ``w`` is the
   weight *before* the update, as in backpropagation).

Design decisions (D1-D10)
-------------------------
D1  State layout. ``w / 4`` and ``b / 4`` live in the *cell* state
    ``c[0]``, ``c[1]`` (Appendix C, "Bounded states": scale 4). The cell is
    the LSTM's memory: with the constant forget-gate offset +5 it persists and
    changes additively (``c <- sig(f) c + sig(i) tanh(g)``), which is what an
    accumulating weight needs; ``h`` is re-squashed every tick. ``|c| <= 1``
    covers ``|w|, |b| <= 4``; the meta-test clip ``c in [-4, 4]`` (C.1) then
    bounds ``|w| <= 16``.
D2  Messages. ``x`` enters slot 0 of the forward message, ``e`` slot 0 of the
    backward message, every other input dimension is zero (C.1). ``y`` is read
    from slot 0 of the forward-message output and ``e'`` from slot 0 of the
    backward-message output, so layer ``k``'s output slot feeds layer
    ``k+1``'s input slot directly.
D3  What persists (C.1: "During the backward pass, we only retain two state
    dimensions"). Between steps a sub-LSTM's state is exactly
    ``h = 0, c = (w/4, b/4, 0, ..., 0)``. The forward pass runs
    ``num_ticks`` micro-ticks from that state and the state is then discarded
    (C.1: "we freeze the LSTM state"); the backward pass runs ``num_ticks``
    micro-ticks from the *same* state and only ``c[0], c[1]`` are kept. So the
    cloned rule is a memoryless function of ``(x, e, w, b)``: nothing but the
    two designated numbers can drift, and random ``(x, e, w, b)`` cover every
    state the network can be in.
D4  Feeding activations back. The paper's simpler choice (Section 3.2): the
    backward pass receives the forward pass's input ``x`` again in forward
    slot 0 (with ``e`` in backward slot 0). Layers run forward ``1..K`` with
    error input zero (the state is frozen, so no update happens), then
    backward ``K..1``.
D5  Averaged messages change the network (Appendix C averages instead of
    Eq. 7's sums). The network the sub-LSTMs implement is the *mean* MLP
    ``z^k_b = mean_a(tanh(z^{k-1}_a) w^k_ab + b^k_ab)`` and the backward
    message is ``eps^{k-1}_a = mean_b e'_ab``. With the local rule above this
    is exactly gradient descent on that MLP with per-layer learning rates:
    for ``logits = G z^K``, cross-entropy ``L`` and the top error
    ``e^K = softmax(logits) - onehot = (1/G) dL/dz^K``,
    ``e^k = (s_k / G) dL/dz^k`` with ``s_K = 1``, ``s_k = s_{k+1} A_{k+1}/B_{k+1}``, and
    ``dw^k = -lr (A_k s_k / G) dL/dw^k`` (``db`` likewise). ``shadow_step``
    computes the targets this way; ``tests/test_cloning.py`` checks them
    against autograd to float precision.
D6  Logit gain ``G = 30`` (``CloningConfig.logit_gain``). With mean
    aggregation over 784 pixels and ``|w| <= 4`` (D1) the logits of the plain
    mean MLP stay within about +-2: too flat for a confident softmax. Reading
    the prediction as ``G * z^K`` (outside the sub-LSTMs, like the package's
    output bound) restores the range; a shadow-network sweep (G in {10, 30},
    lr in {0.1, 0.3, 1, 3}, |w| clipped to 4) chose ``G = 30, lr = 1``.
D7  Inner learning rate ``lr = 1`` (``CloningConfig.lr``): per batch of 64 a
    weight moves by at most ``lr * mean|e tanh x|`` (well below 1) while its
    useful range is about +-4, and in the sweep it learned fastest without
    diverging. One learning rate for all layers; D5 says what it means per layer.
    Revisited by :mod:`vsml.cloning.shadow_sweep` (the shipped clones keep
    D6, D7): with ``db = -lr e`` on every synapse the bias outpaces the
    weights and exact backprop's loss jumps early; a bias scale of 0.01 and
    ``G = 100`` learn without the jump (``WELL_CONDITIONED``).
    ``CloningConfig.bias_scale`` (``db = -bias_scale lr e``, default 1) and
    ``w_init`` (default 3) make that setting clonable; the named configs
    ``configs/well_conditioned_shallow.yaml`` and ``..._deep.yaml`` hold it
    (with ``state_scale = 8`` for D1, since the deep network's weights reach
    about 12). The shipped re-clones ``cloned_wc_shallow`` and ``cloned_wc_deep``
    were made from them and are the ones chapter 06 and the reproduction
    report meta-test; the first clones ``cloned_shallow`` and ``cloned_deep``
    (D6, D7 as above) stay shipped for comparison.
D8  Training data for the regression (Section 3.2, C.1): per step a batch of
    random ``(x, e, w, b)``, ``(w, b)`` partly drawn from a buffer of states
    that the sub-LSTM itself produced (C.1: sample a batch from the buffer,
    append one of the new states), plus tuples read off shadow networks
    trained on MNIST by the exact rule (their activations, errors, weights and
    updates; fresh shadow networks every ``shadow_reset`` steps so that early
    and late training are both seen). Forward and backward passes are
    regressed separately (the forward sees ``e = 0``). Loss: mean squared
    error of ``y``, ``e'``, ``dw``, ``db``, each divided by its target variance
    under the random distribution, so no output dominates by scale.
D9  Curriculum (B.1). Stage ``shallow``: tuples from random data and a
    784-10 shadow network. Stage ``deep``: continue from a shallow run and add
    tuples from a 784-32-10 shadow network whose hidden-layer inputs and
    errors come (a) from the ground-truth shadow network and (b) from the
    VSML network's own intermediate outputs (the paper's "use the RNN's
    intermediate predictions"); the targets are always the exact rule applied
    to the inputs the sub-LSTM actually receives. Because of D3 every stage is
    a regression on single sub-LSTMs; no backpropagation through whole
    networks is needed.
D10 Meta-test (Section 4.1, C.1): a VSML network of ``DenseTick`` layers
    driven by the cloned ``V_M`` learns with no autograd
    (``torch.inference_mode``); each step runs a batch of 64 examples, each
    with its own sub-LSTM copies, and the retained ``w, b`` are averaged over
    the batch (C.1 "Batching"); the cell state is clipped to [-4, 4] in every
    tick. The reference is the same mean MLP trained by exact SGD
    (``shadow_step``, equal to autograd by D5).

Modules: ``config`` (CloningConfig, the state layout), ``rule`` (the rule,
the sub-LSTM on single synapses, the shadow network), ``network`` (the cloned
network and its fast passes), ``kernel`` (fused C++ passes of a cloned layer,
the meta-test default; D3 makes them possible), ``step_timing`` (their speed,
``python -m vsml.bench --cloned``), ``trainer`` (training tuples, loss, buffer,
trainer), ``run`` (checkpoints, export, loading), ``meta_test`` (Figures 5,
11), ``shadow_sweep`` (which shadow-network settings learn), ``cli``.

Command line::

    python -m vsml.cloning train --out runs/clone_shallow [--stage shallow|deep] [--steps N] [--resume]
    python -m vsml.cloning train --config well_conditioned_shallow --out runs/clone_wc_shallow  # configs/*.yaml
    python -m vsml.cloning export --run runs/clone_shallow --name my_clone   # -> the user folder
    python -m vsml.cloning metatest --name cloned_wc_shallow --steps 500 --seeds 6
    python -m vsml.cloning.shadow_sweep --out vsml/results/shadow_sweep/shadow_sweep.json   # ~25 min, 1 core
"""
from ..runio import SHIPPED_DIR as PRETRAINED_DIR
from ..runloop import CHECKPOINT, METRICS
from .cli import main
from .config import (B_DIM, E_SLOT, EPREV_SLOT, FORMAT, TARGETS, W_DIM, W_INIT, X_SLOT, Y_SLOT,
                     CloningConfig, config_names, load_config)
from .meta_test import final_test_accuracy, load_metatest, metatest, save_metatest
from .network import ClonedNetwork, fast_layer_backward, fast_layer_forward
from .rule import (Layers, clone_backward, clone_forward, clone_outputs, cloning_errors, init_layers,
                   initial_state, local_targets, shadow_forward, shadow_loss, shadow_step, sub_lstm_ticks,
                   top_error)
from .run import export, load_cloned, load_run, train
from .trainer import (CloningTrainer, ShadowStream, StateBuffer, cloning_loss, random_tuples, target_scales,
                      tuples_from_network)

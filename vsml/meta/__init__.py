"""Meta-training (Algorithm 1): learn V_M by ES or by backpropagation through time.

Paper: Section 3.1 and Algorithm 1 ("VSML: Meta Training"), Section 4.2 and
Appendix C.2. The meta-loss of a parameter vector is the mean cross-entropy
over all online predictions of an episode (500 examples, batch size 1, the
prediction for ``x_t`` made before ``y_t`` is seen), starting from fresh
random LSTM states. Two sources of the meta-gradient:

* ``method: es`` -- OpenAI-ES (:mod:`vsml.es`) as in the paper: 1,024
  antithetic pairs, sigma 0.05, Adam 0.025, 10k generations. The whole
  population runs as one batched forward pass with per-member parameters
  ``[2 * num_pairs, D]`` under ``torch.inference_mode``; both members of a
  pair see the same episode and the same initial state; every generation
  draws fresh episodes and states.
* ``method: bptt`` -- the gradient through the whole episode, a meta-batch of
  episodes with shared parameters, Adam and global-norm clipping (Appendix C.2
  mentions "distributed gradient descent ... with gradient clipping").

``model: vsml`` meta-trains the VSML RNN (:mod:`vsml.network`); ``model:
metarnn`` the Meta RNN baseline (:mod:`vsml.metarnn`), ``hebbian`` and
``fwmemory`` the fast-weight baselines (:mod:`vsml.hebbian`,
:mod:`vsml.fwmemory`), with either method. ``tasks:`` replaces ``dataset``
by a mixture of tasks (:mod:`vsml.task_mixture`).

Determinism: every random draw of step ``s`` (noise, episodes, initial states)
comes from generators seeded by ``(seed, s, ...)``, and each episode's data
and state from its own ``(seed, s, index)``. So a resumed run is bit-identical
on CPU to an uninterrupted one, and an ES run gives the same parameters with
1 or 2 processes (eager CPU; ``torch.compile`` may change the last bits
between population sizes).

Scale-out with ``torchrun`` (``torch.distributed``: NCCL on GPU, gloo on CPU):
ES -- every rank draws the same full noise, evaluates its slice of pairs,
all-gathers the losses and applies the same ``tell``. BPTT -- the meta-batch
is split and gradients are averaged with an all-reduce; this is NOT
bit-identical across process counts (the reduction order changes).

Modules: ``config`` (MetaConfig, YAML configs), ``episodes`` (episodes and
their seeds), ``models`` (VSML and Meta RNN as functions of a flat vector),
``estimators`` with ``es_estimator`` and ``bptt_estimator`` (one meta-gradient
each, one interface), ``trainer`` (the outer loop), ``distributed``
(torchrun), ``run`` (checkpoints, resume, signals), ``pretrained`` (export, any layer size), ``cli``.

Command line (configs in ``vsml/configs/``: paper, cpu_bptt, cpu_es, smoke, ...)::

    python -m vsml.meta train --config cpu_bptt --out runs/bptt [--steps N] [--resume] [--set lr=3e-4]
    torchrun --nproc_per_node 8 -m vsml.meta train --config paper --out runs/paper
    python -m vsml.meta export --run runs/bptt --name my_bptt   # -> the user folder (vsml.runio.user_dir)
    python -m vsml.meta list
"""
from .. import es
from ..lstm import flatten_params, param_shapes, unflatten_params
from ..network import NetworkState, VSMLConfig, VSMLNetwork
from ..plots import plot_metrics
from ..runio import SHIPPED_DIR as PRETRAINED_DIR
from ..runio import check_export_name, load_pretrained, pretrained_names, read_metrics, write_export
from ..runloop import CHECKPOINT, METRICS, NonFiniteError, RunInterrupted
from .bptt_estimator import BPTTEstimator
from .cli import main
from .config import (CONFIG_DIR, EPISODE_KINDS, METARNN_OPTIONS, METHODS, MODELS, RESUMABLE_CHANGES, MetaConfig,
                     config_names, config_path, load_config)
from .distributed import Distributed
from .episodes import (dataset_info, derive_seed, load_dataset, make_episode_segment, make_episodes,
                       make_few_shot_episodes, scored)
from .es_estimator import ESEstimator
from .estimators import Estimator
from .pretrained import export, pretrained_network
from .models import MetaRNNModel, VSMLModel, build_model
from .run import TrainResult, check_resumable, load_checkpoint, train
from .trainer import ESTIMATORS, MetaTrainer, checkpoint_params, initial_params

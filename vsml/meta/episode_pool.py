"""Long-horizon meta-training: truncated BPTT over a persistent pool of episodes in progress.

Paper: Appendix B.2 ("Short horizon bias", Figure 19).
An LA meta-trained on episodes of ``T`` examples only ever sees states from
example 0 to ``T``; past ``T`` it may unlearn (short-horizon bias). The paper
names a fix and leaves it to future work: "resuming from previous states
(learning progress) similar to a persistent population". This module is that
fix for the BPTT path of Algorithm 1:

* **segments**: an episode longer than the backpropagation window
  (``segment_length``) is cut into segments; the state ``V_L`` is carried from
  one segment to the next, detached, and each segment gives one meta-update;
* **a persistent pool**: each of the ``meta_batch_size`` slots continues its
  own episode across meta-updates and restarts (fresh data, fresh random
  ``V_L``) after a length drawn per episode, log-uniform in
  ``[episode_length, episode_length_max]`` and rounded up to whole segments,
  so the slots desynchronise and one meta-batch mixes states from example 0
  out to ``episode_length_max``.

Every random choice derives from ``(config.seed, slot, episode number)``, so a
run is reproducible, and the pool's tensors are part of the trainer's
checkpoint, so a resumed run continues bit-identically.
"""
from __future__ import annotations

import math

import torch

from .episodes import derive_seed, make_episode_segment


class EpisodePool:
    """The episodes in progress of meta-batch slots ``slots`` (a range of global slot ids)."""

    def __init__(self, config, model, dataset, slots: range, device):
        seg = config.segment_length or config.episode_length
        if config.episode_length % seg:
            raise ValueError(f"episode_length {config.episode_length} must be a multiple of "
                             f"segment_length {seg}")
        self.config, self.model, self.data, self.device = config, model, dataset, device
        self.slots, self.segment_length = slots, seg
        n = len(slots)
        self.position = torch.zeros(n, dtype=torch.long)   # examples already seen in the current episode
        self.length = torch.zeros(n, dtype=torch.long)     # length of the current episode (0: not started)
        self.episode = torch.full((n,), -1, dtype=torch.long)  # episode number of each slot
        self.state = None

    # ---------------------------------------------------------------- episodes
    def episode_seed(self, slot: int, episode: int) -> int:
        return derive_seed(self.config.seed, "pool", slot, episode)

    def episode_length(self, seed: int) -> int:
        """Fixed ``episode_length``, or log-uniform up to ``episode_length_max``; whole segments."""
        c, seg = self.config, self.segment_length
        lo, hi = c.episode_length, c.episode_length_max or c.episode_length
        if hi > lo:
            u = float(torch.rand((), generator=torch.Generator().manual_seed(derive_seed(seed, "length"))))
            lo = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        return int(math.ceil(lo / seg) * seg)

    def _restart(self, i: int) -> None:
        slot = self.slots[i]
        self.episode[i] += 1
        seed = self.episode_seed(slot, int(self.episode[i]))
        self.length[i] = self.episode_length(seed)
        self.position[i] = 0
        fresh = self.model.initial_state([seed], self.device)
        if self.state is None:
            return
        for ours, new in zip((self.state.h, self.state.c, self.state.bwd_in), (fresh.h, fresh.c, fresh.bwd_in)):
            for t, f in zip(ours, new):
                t[i] = f[0]

    # ---------------------------------------------------------------- one step
    def next_segment(self):
        """Restart finished episodes, then the next segment of every slot: ``x [n, S, D], y [n, S], state``."""
        if self.state is None:
            seeds = []
            for i in range(len(self.slots)):
                self._restart(i)
                seeds.append(self.episode_seed(self.slots[i], int(self.episode[i])))
            self.state = self.model.initial_state(seeds, self.device)
        else:
            for i in range(len(self.slots)):
                if self.position[i] >= self.length[i]:
                    self._restart(i)
        xs, ys = [], []
        for i in range(len(self.slots)):
            seed = self.episode_seed(self.slots[i], int(self.episode[i]))
            start = int(self.position[i])
            x, y = make_episode_segment(self.config, self.data, seed, int(self.length[i]), start,
                                      start + self.segment_length)
            xs.append(x)
            ys.append(y)
        return torch.cat(xs).to(self.device), torch.cat(ys).to(self.device), self.state

    def advance(self, new_state) -> None:
        """Carry the state after the segment (detached: the next segment's gradient stops here)."""
        self.state = type(new_state)(*[[t.detach().clone() for t in ts]
                                       for ts in (new_state.h, new_state.c, new_state.bwd_in)])
        self.position += self.segment_length

    def stats(self) -> dict:
        """Where the slots are in their episodes (for the metrics log)."""
        pos = self.position.float()
        return {"pool_position_mean": float(pos.mean()), "pool_position_max": int(self.position.max())}

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        out = {"position": self.position.clone(), "length": self.length.clone(), "episode": self.episode.clone()}
        if self.state is not None:
            out.update(h=[t.cpu() for t in self.state.h], c=[t.cpu() for t in self.state.c],
                       bwd_in=[t.cpu() for t in self.state.bwd_in])
        return out

    def load_state_dict(self, saved: dict) -> None:
        if tuple(saved["position"].shape) != (len(self.slots),):
            raise ValueError(f"the checkpoint's episode pool has {saved['position'].shape[0]} slots, "
                             f"this run has {len(self.slots)}")
        self.position, self.length, self.episode = (saved["position"].clone(), saved["length"].clone(),
                                                    saved["episode"].clone())
        self.state = None
        if "h" in saved:
            from ..network import NetworkState
            move = lambda ts: [t.to(self.device) for t in ts]  # noqa: E731
            self.state = NetworkState(move(saved["h"]), move(saved["c"]), move(saved["bwd_in"]))

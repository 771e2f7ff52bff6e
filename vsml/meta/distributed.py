"""Scale-out of Algorithm 1 with ``torchrun`` (``torch.distributed``: NCCL on GPU, gloo on CPU).

Paper: Section 3.1 / Appendix C.2 (the authors ran ES on 128 GPUs). ES --
every rank draws the same full noise, evaluates its slice of pairs,
all-gathers the losses and applies the same update. BPTT -- the meta-batch is
split and gradients are averaged with an all-reduce (NOT bit-identical across
process counts: the reduction order changes). One process needs none of this.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..device import resolve_device


@dataclass
class Distributed:
    """This process's place among the ``torchrun`` processes (rank 0 of 1 without ``torchrun``)."""

    rank: int = 0
    world_size: int = 1
    owns_group: bool = False  # True when train() created the process group (and destroys it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_kind: str) -> Distributed:
    """Join (or, under ``torchrun``, create) the process group: NCCL for ``"cuda"``, gloo otherwise."""
    import torch.distributed as dist
    if not dist.is_available():
        return Distributed()
    if dist.is_initialized():
        return Distributed(dist.get_rank(), dist.get_world_size())
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
        return Distributed(dist.get_rank(), dist.get_world_size(), owns_group=True)
    return Distributed()


def resolve_run_device(name: str, dist_info: Distributed) -> torch.device:
    """The device ``name`` resolves to; with several processes, plain ``cuda`` becomes this rank's GPU."""
    dev = resolve_device(name)
    if dev.type == "cuda" and dev.index is None and dist_info.world_size > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", dist_info.rank)) % torch.cuda.device_count())
    return dev


def all_gather(t: torch.Tensor, dist_info: Distributed) -> torch.Tensor:
    """Every rank's ``t`` concatenated along dim 0, in rank order (``t`` itself with one process)."""
    if dist_info.world_size == 1:
        return t
    import torch.distributed as dist
    parts = [torch.empty_like(t) for _ in range(dist_info.world_size)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def all_reduce_mean(t: torch.Tensor, dist_info: Distributed) -> torch.Tensor:
    """The mean of ``t`` over ranks, written IN PLACE into ``t`` (which is returned)."""
    if dist_info.world_size > 1:
        import torch.distributed as dist
        dist.all_reduce(t)
        t /= dist_info.world_size
    return t


def any_rank(flag: bool, dist_info: Distributed, device=None) -> bool:
    """True on every rank when ``flag`` is true on any (all ranks stop at the same step)."""
    if dist_info.world_size == 1:
        return flag
    import torch.distributed as dist
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())

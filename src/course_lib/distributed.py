"""Step 6, scaled out: training on several processes (GPUs or CPU cores) with ``torchrun``.

Data parallelism: every process holds a full copy of the model, takes its share of each
global batch, computes gradients, and :class:`~torch.nn.parallel.DistributedDataParallel`
averages the gradients across processes before the optimiser step, so all copies stay
identical. Launch with ``torchrun``, which starts the processes and sets ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` for them::

    torchrun --nproc_per_node=4 -m course_lib.cli train --corpus tatoeba --out runs/big
    # several machines: add --nnodes=2 --node_rank=0|1 --master_addr=HOST --master_port=29500

The backend is ``nccl`` on CUDA and ``gloo`` on the CPU. Only rank 0 prints progress and
writes checkpoints. The batch split is deterministic: process ``r`` of ``W`` takes rows
``r, r + W, r + 2W, ...`` of each global batch, and the loss is normalised by the global
token count, so W processes compute the same update as one process on the same batch.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from course_lib.errors import CourseLibError
from course_lib.runtime import select_device


def launched_by_torchrun() -> bool:
    """True when the environment says this process is one of several (``WORLD_SIZE`` > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


@dataclass
class DistributedContext:
    """Which process this is and how to talk to the others.

    Attributes:
        rank: this process's index, 0 .. world_size - 1 (0 is the "main" process).
        world_size: number of processes.
        local_rank: index on this machine (selects the GPU).
        device: the device this process trains on.
        backend: ``"gloo"``, ``"nccl"`` or ``None`` for a single process.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None = None

    @classmethod
    def single(cls, device: torch.device | str = "cpu") -> DistributedContext:
        """One process, no communication."""
        return cls(0, 1, 0, torch.device(device), None)

    @classmethod
    def from_env(cls, device: str = "auto", timeout_minutes: float = 30.0) -> DistributedContext:
        """Join the process group that ``torchrun`` described in the environment (``env://``).

        Without ``WORLD_SIZE`` > 1 this is :meth:`single` on the chosen device. With CUDA,
        process ``LOCAL_RANK`` uses GPU ``LOCAL_RANK`` and the ``nccl`` backend; otherwise
        the CPU and ``gloo``.
        """
        chosen = select_device(device)
        if not launched_by_torchrun():
            return cls.single(chosen)
        try:
            rank = int(os.environ["RANK"])
            world_size = int(os.environ["WORLD_SIZE"])
            local_rank = int(os.environ.get("LOCAL_RANK", rank))
        except (KeyError, ValueError) as error:
            raise CourseLibError(
                f"WORLD_SIZE is set but {error} is missing or not a number: launch with "
                f"torchrun, which sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT"
            ) from None
        if chosen.type == "cuda":
            if local_rank >= torch.cuda.device_count():
                raise CourseLibError(
                    f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPUs here; "
                    f"use --nproc_per_node={torch.cuda.device_count()} or fewer"
                )
            chosen = torch.device("cuda", local_rank)
            torch.cuda.set_device(chosen)
            backend = "nccl"
        else:
            backend = "gloo"
        if not dist.is_initialized():
            dist.init_process_group(
                backend,
                init_method="env://",
                rank=rank,
                world_size=world_size,
                timeout=datetime.timedelta(minutes=timeout_minutes),
            )
        return cls(rank, world_size, local_rank, chosen, backend)

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def wrap(self, model: nn.Module) -> nn.Module:
        """``DistributedDataParallel(model)`` when there are several processes, else ``model``."""
        if not self.distributed:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def all_reduce_sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of ``value`` over all processes (a new tensor; unchanged for one process)."""
        if not self.distributed:
            return value
        total = value.detach().clone().to(self.device)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total.to(value.device)

    def agree_max(self, value: float) -> float:
        """The largest ``value`` over all processes (so every process sees one clock)."""
        if not self.distributed:
            return value
        tensor = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return float(tensor.item())

    def agree_any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is true on any (stop together)."""
        return bool(self.agree_max(1.0 if flag else 0.0) > 0.5)

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group (call once, at the end)."""
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def shard(indices: list[int], rank: int, world_size: int) -> list[int]:
    """Process ``rank``'s share of a global batch: rows ``rank, rank + W, ...``.

    ``shard([10, 11, 12, 13, 14, 15], 1, 2)`` -> ``[11, 13, 15]``.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise CourseLibError(f"shard: need 0 <= rank < world_size, got rank {rank}, {world_size}")
    return list(indices)[rank::world_size]


__all__ = ["DistributedContext", "launched_by_torchrun", "shard"]

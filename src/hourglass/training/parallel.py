"""Where training runs: the device, and this process's place in a torchrun group.

Under ``torchrun --nproc-per-node N -m hourglass train ...`` every process builds the same
global batch (same permutation, same noise: they share the run's seed) and trains on its own
rows of it; DistributedDataParallel averages the gradients and BatchNorm normalises over the
global batch (models/layers/sync_norm.py), so N processes compute what one process would. Rank 0
alone writes the run directory.
"""

from __future__ import annotations

import json
import os
import sys
from typing import NoReturn

import torch
import torch.distributed as dist

from hourglass.core.errors import UserError

DEVICES = ("auto", "cpu", "cuda")
_joined = False  # this process joined a torchrun group (see exit_process)


def resolve_device(name: str) -> torch.device:
    """auto: this process's GPU when CUDA has one, else the CPU."""
    if name not in DEVICES and not name.startswith("cuda:"):
        raise UserError(f"--device {name!r}: choose auto, cpu, cuda or cuda:N")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA GPU is visible to PyTorch here; use "
                        "--device auto or cpu")
    if name.startswith("cuda:"):
        return torch.device(name)
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def slow_bf16(device: torch.device) -> bool:
    """Whether bfloat16 matmuls here fall back to PyTorch's reference kernels: a CPU without
    AVX-512 BF16 or AMX (an AVX2 EPYC ran a 256-768-256 FFN step 12x slower than in fp32)."""
    return device.type == "cpu" and not (torch.cpu._is_avx512_bf16_supported()
                                         or torch.cpu._is_amx_tile_supported())


def join_group(device: torch.device) -> None:
    """Join torchrun's process group when this process was launched by it with N > 1
    (gloo on the CPU, NCCL on GPUs); a no-op otherwise."""
    global _joined
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        _joined = True


def leave_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def exit_process(code: int) -> NoReturn:
    """End the process with ``code``. After a torchrun group, skip the interpreter's
    teardown: DistributedDataParallel's reducer keeps the gloo group and its threads alive past
    destroy_process_group (pytorch/pytorch#107298), and tearing them down with the interpreter
    aborts the process now and then ("terminate called without an active exception"), after
    its work is written, failing the whole torchrun job."""
    if _joined:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)


def world() -> tuple[int, int]:
    """(rank, number of processes): (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def shard(t: torch.Tensor) -> torch.Tensor:
    """This process's rows of a global batch."""
    rank, size = world()
    return t.tensor_split(size)[rank] if size > 1 else t


def all_sum(t: torch.Tensor) -> torch.Tensor:
    if world()[1] > 1:
        dist.all_reduce(t)
    return t


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


def _comm_device() -> torch.device:
    """NCCL moves only GPU tensors; gloo takes CPU ones."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def same_everywhere(value: int, what: str) -> None:
    """Fail on every rank when ranks disagree (e.g. one cannot see the run directory)."""
    if world()[1] == 1:
        return
    lo, hi = (torch.tensor([v], device=_comm_device()) for v in (value, -value))
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MIN)
    if int(lo) != -int(hi):
        raise UserError(f"the processes disagree on {what}; under torchrun the run directory "
                        "must be on a filesystem every process sees")


def broadcast_json(obj: object) -> object:
    """Rank 0's JSON-able ``obj`` on every rank (as JSON text, never pickled)."""
    if world()[1] == 1:
        return obj
    data = json.dumps(obj).encode() if is_main() else b""
    size = torch.tensor([len(data)], device=_comm_device())
    dist.broadcast(size, 0)
    buf = torch.zeros(int(size), dtype=torch.uint8, device=_comm_device())
    if is_main():
        buf.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buf, 0)
    return json.loads(buf.cpu().numpy().tobytes().decode())

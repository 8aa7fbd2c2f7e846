"""Step 6c: where and how training runs - seeds, random-number states, device, precision.

A run is reproducible when every random-number generator starts from the same seed
(:func:`seed_everything`) and a resumed run continues from the saved generator states
(:func:`get_rng_state` / :func:`set_rng_state`, written into checkpoints).
"""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch

from course_lib.errors import CourseLibError


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise CourseLibError(f"seed must be an integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_rng_state() -> dict[str, Any]:
    """The states of Python's ``random``, NumPy's global generator and torch (CPU, CUDA),
    as tensors and plain data (loadable with ``weights_only=True``)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [
            kind,
            torch.from_numpy(keys.astype(np.int64)),
            int(pos),
            int(has_gauss),
            float(cached),
        ],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned (missing parts are left as they are)."""
    if not isinstance(state, dict):
        raise CourseLibError(f"rng state must be a dict, got {type(state).__name__}")
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
    if "numpy" in state:
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; ``"cuda"``, ``"mps"``,
    ``"cpu"`` (or ``"cuda:1"``) are checked to exist."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise CourseLibError(
            f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {type(device).__name__}"
        )
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    kind = device.split(":")[0]
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise CourseLibError(
                f"device {device!r} requested but CUDA is not available "
                f"(torch {torch.__version__}); use --device cpu or auto"
            )
        return torch.device(device)
    if kind == "mps":
        if not mps_ok:
            raise CourseLibError(
                "device 'mps' requested but Apple's MPS backend is not available here; "
                "use --device cpu or auto"
            )
        return torch.device("mps")
    raise CourseLibError(f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {device!r}")


def cpu_has_bf16_instructions() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AVX512-BF16 or AMX, as on
    recent AMD EPYC and Intel Xeon). There, bf16 matrix products are faster than float32
    ones; elsewhere PyTorch emulates them, which is slower."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch >= 2.1
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: ``"auto"`` is bf16 on a GPU that supports it, else fp16 on CUDA;
    bf16 on a CPU with bfloat16 instructions (:func:`cpu_has_bf16_instructions`), else
    full float32 (None), as on MPS. ``"fp32"``, ``"bf16"``, ``"fp16"`` force it. Autocast
    runs matrix products in the low precision; weights, optimiser and loss stay float32."""
    options = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision == "auto":
        if device.type == "cpu":
            return torch.bfloat16 if cpu_has_bf16_instructions() else None
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision not in options:
        raise CourseLibError(f"precision must be auto, fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type == "cpu":
        raise CourseLibError("precision fp16 needs a GPU; use fp32 or bf16 on the CPU")
    return options[precision]


def mixed_precision(device_type: str, dtype: torch.dtype | None) -> AbstractContextManager:
    """The context a forward pass runs in for the autocast ``dtype`` that
    :func:`resolve_precision` chose: ``torch.autocast(device_type, dtype=dtype)``, or one
    that changes nothing for None (full float32)."""
    if not isinstance(device_type, str):
        raise CourseLibError(f"device_type must be a string such as 'cpu', got {device_type!r}")
    if dtype is None:
        return nullcontext()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise CourseLibError(f"dtype must be a floating torch dtype or None, got {dtype!r}")
    return torch.autocast(device_type, dtype=dtype)


__all__ = [
    "cpu_has_bf16_instructions",
    "get_rng_state",
    "mixed_precision",
    "resolve_precision",
    "seed_everything",
    "select_device",
    "set_rng_state",
]

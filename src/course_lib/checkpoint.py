"""Step 6: checkpoints - everything needed to use a trained model, or to continue training.

A checkpoint is ONE file (:data:`course_lib.files.CHECKPOINT_FILE`) holding only tensors and plain Python data
(dicts, lists, strings, numbers), so it loads with ``torch.load(weights_only=True)``,
which never unpickles arbitrary objects (loading a checkpoint cannot run code):

* ``config``: the model's :class:`~course_lib.config.TransformerConfig` as a dict;
* ``src_tokenizer`` / ``tgt_tokenizer``: the vocabularies (``to_dict()``);
* ``model``: the weights (float32, or float16 to halve a shipped file's size);
* ``optimizer``, ``scheduler``, ``scaler``: their ``state_dict()`` (optional);
* ``rng``: the random-number generators' states (Python, NumPy, torch CPU and GPUs);
* ``training``: step, epoch, position in the data, settings and history;
* ``metrics`` and ``metadata`` (e.g. the command that produced it).

Files are written atomically (:func:`course_lib.files.atomic_write`), so a crash
mid-write never leaves a half-written checkpoint where a good one was. The random-number
generators' states come from :mod:`course_lib.runtime`.
"""

from __future__ import annotations

import importlib.resources
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from course_lib import __version__
from course_lib.config import TransformerConfig
from course_lib.errors import CourseLibError
from course_lib.files import BUNDLED_FILE, CHECKPOINT_FILE, atomic_torch_save
from course_lib.model import Transformer
from course_lib.runtime import get_rng_state
from course_lib.tokenize import tokenizer_from_dict

FORMAT = "course_lib.checkpoint"
FORMAT_VERSION = 1
REQUIRED_ENTRIES = ("config", "src_tokenizer", "tgt_tokenizer", "model")


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        model: the :class:`~course_lib.model.Transformer`, weights loaded, in eval mode.
        src_tokenizer, tgt_tokenizer: the English and French tokenizers.
        config: the model's :class:`~course_lib.config.TransformerConfig`.
        metadata: plain data: ``step``, ``metrics``, ``course_lib_version``, ``path`` and
            whatever the writer added (``command``, ``corpus`` ...).
        optimizer, scheduler, scaler: saved states (plain dicts) or None.
        rng: saved random-number generator states or None.
        training: the trainer's position (step, epoch, batch, settings, history) or {}.
    """

    model: nn.Module
    src_tokenizer: Any
    tgt_tokenizer: Any
    config: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    optimizer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    scaler: dict[str, Any] | None = None
    rng: dict[str, Any] | None = None
    training: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------
# Saving
# ----------------------------------------------------------------------------------------


def _plain(value: Any, where: str) -> Any:
    """Check ``value`` is made of tensors and plain Python data only."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise CourseLibError(
        f"save_checkpoint: {where} is a {type(value).__name__}; a checkpoint holds only "
        f"tensors and plain data (dict, list, str, int, float, bool, None)"
    )


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    save_rng: bool = True,
    weights_dtype: torch.dtype = torch.float32,
) -> Path:
    """Write a checkpoint atomically; returns its path.

    ``path`` is a file, or a directory (then ``DIR/checkpoint.pt``). Pass ``optimizer``,
    ``scheduler`` (and ``scaler``) to be able to resume training; leave them out for a
    small file that is only for translating. ``weights_dtype=torch.float16`` halves the
    size (loading converts back to float32).
    """
    if not isinstance(model, Transformer):
        raise CourseLibError(
            f"save_checkpoint needs a course_lib Transformer, got {type(model).__name__}"
        )
    if weights_dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise CourseLibError(
            f"weights_dtype must be float32, float16 or bfloat16, got {weights_dtype}"
        )
    for name, tokenizer in (("src_tokenizer", src_tokenizer), ("tgt_tokenizer", tgt_tokenizer)):
        if not hasattr(tokenizer, "to_dict"):
            raise CourseLibError(f"save_checkpoint: {name} must be a tokenizer with to_dict()")
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    weights = {
        k: (v.detach().to("cpu", weights_dtype) if v.is_floating_point() else v.detach().cpu())
        for k, v in model.state_dict().items()
    }
    training = dict(training or {})
    state = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "course_lib_version": __version__,
        "config": model.config.to_dict(),
        "src_tokenizer": src_tokenizer.to_dict(),
        "tgt_tokenizer": tgt_tokenizer.to_dict(),
        "model": weights,
        "weights_dtype": str(weights_dtype).replace("torch.", ""),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": get_rng_state() if save_rng else None,
        "training": training,
        "step": int(training.get("step", 0)),
        "metrics": dict(metrics or {}),
        "metadata": dict(metadata or {}),
    }
    return atomic_torch_save(_plain(state, "checkpoint"), path)


# ----------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------


def resolve_checkpoint_path(path: str | Path) -> Path:
    """The checkpoint file behind ``path``: the file itself, or ``DIR/checkpoint.pt``.

    Raises:
        CourseLibError: not a str or Path, a folder without a checkpoint, or no such file.
    """
    if not isinstance(path, (str, Path)):
        raise CourseLibError(f"checkpoint path must be a str or Path, got {type(path).__name__}")
    path = Path(path).expanduser()
    if path.is_dir():
        inside = path / CHECKPOINT_FILE
        if not inside.is_file():
            raise CourseLibError(f"no {CHECKPOINT_FILE} in the directory {path}")
        return inside
    if not path.exists():
        raise CourseLibError(f"checkpoint not found: {path}")
    return path


def _read(path: Path) -> dict[str, Any]:
    if path.stat().st_size == 0:
        raise CourseLibError(f"checkpoint {path} is empty (0 bytes): an interrupted copy?")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if "Unsupported global" in str(error) or "GLOBAL" in str(error):
            raise CourseLibError(
                f"checkpoint {path} contains Python objects that are not plain data; refusing "
                f"to unpickle them (weights_only=True). Was it written by save_checkpoint?"
            ) from None
        reason = str(error).split("WeightsUnpickler error:")[-1].strip().splitlines()
        detail = reason[0][:100] if reason else first[:100]
        raise CourseLibError(
            f"checkpoint {path} is corrupt or truncated and cannot be read ({detail})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CourseLibError(
            f"checkpoint {path} is corrupt or truncated and cannot be read ({first[:120]})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CourseLibError(
            f"{path} is not a course_lib checkpoint (no 'format': {FORMAT!r} entry); "
            f"checkpoints come from save_checkpoint or `course-lib train`"
        )
    version = state.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CourseLibError(
            f"checkpoint {path} has format version {version!r}; this course_lib reads "
            f"version {FORMAT_VERSION} (upgrade course-lib, or retrain)"
        )
    missing = [k for k in REQUIRED_ENTRIES if k not in state]
    if missing:
        raise CourseLibError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    return state


def _mismatch(model: nn.Module, weights: dict[str, torch.Tensor]) -> str:
    """A short description of how ``weights`` differ from what ``model`` expects."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and weights[k].shape != v.shape
    ]
    parts = []
    if wrong:
        parts.append(f"shape mismatch (checkpoint vs config) {wrong[:3]}")
    if missing:
        parts.append(f"missing weights {missing[:3]}")
    if unexpected:
        parts.append(f"unexpected weights {unexpected[:3]}")
    return "; ".join(parts) or "the weights do not fit the model"


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (a file or a run directory).

    Uses ``torch.load(weights_only=True)`` only. The model is rebuilt from the saved config,
    its weights loaded (converted to float32), moved to ``device`` and put in eval mode.
    Raises :class:`CourseLibError` naming the file for a missing, empty, truncated,
    corrupt, foreign or newer-format checkpoint, and for one whose config, vocabularies and
    weights do not match each other.
    """
    path = resolve_checkpoint_path(path)
    state = _read(path)
    try:
        config = TransformerConfig.from_dict(state["config"])
        src_tokenizer = tokenizer_from_dict(state["src_tokenizer"])
        tgt_tokenizer = tokenizer_from_dict(state["tgt_tokenizer"])
    except (CourseLibError, TypeError) as error:
        raise CourseLibError(
            f"checkpoint {path} has an invalid config or tokenizer: {error}"
        ) from None
    for side, tokenizer, size in (
        ("source", src_tokenizer, config.src_vocab_size),
        ("target", tgt_tokenizer, config.tgt_vocab_size),
    ):
        if tokenizer.vocab_size != size:
            raise CourseLibError(
                f"checkpoint {path} is inconsistent: the {side} tokenizer has "
                f"{tokenizer.vocab_size} tokens but the config says {side} vocab size {size}"
            )
    weights = state["model"]
    if not isinstance(weights, dict) or not all(
        isinstance(v, torch.Tensor) for v in weights.values()
    ):
        raise CourseLibError(f"checkpoint {path}: 'model' must be a dict of tensors")
    model = Transformer(config)
    floats = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
    try:
        # strict: every weight present with the shape the config implies (the model also
        # converts older layouts, e.g. separate q/k/v projections, on the way in)
        model.load_state_dict(floats)
    except RuntimeError:
        raise CourseLibError(
            f"checkpoint {path} does not match its config: {_mismatch(model, weights)}"
        ) from None
    model.to(device)
    model.eval()
    metadata = dict(state.get("metadata") or {})
    metadata.update(
        step=state.get("step", 0),
        metrics=dict(state.get("metrics") or {}),
        course_lib_version=state.get("course_lib_version"),
        weights_dtype=state.get("weights_dtype", "float32"),
        path=str(path),
    )
    return Checkpoint(
        model=model,
        src_tokenizer=src_tokenizer,
        tgt_tokenizer=tgt_tokenizer,
        config=config,
        metadata=metadata,
        optimizer=state.get("optimizer"),
        scheduler=state.get("scheduler"),
        scaler=state.get("scaler"),
        rng=state.get("rng"),
        training=dict(state.get("training") or {}),
    )


def restore_training_state(
    checkpoint: Checkpoint,
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
    scaler: Any = None,
) -> dict[str, Any]:
    """Load the optimiser, schedule and scaler states; return the ``training`` dict.

    Raises :class:`CourseLibError` when the checkpoint was saved without them (a
    translation-only checkpoint such as the bundled one cannot be resumed).
    """
    path = checkpoint.metadata.get("path", "checkpoint")
    if checkpoint.optimizer is None or (scheduler is not None and checkpoint.scheduler is None):
        raise CourseLibError(
            f"checkpoint {path} has no optimizer/scheduler state, so training cannot resume "
            f"from it (it was saved for translation only)"
        )
    try:
        # Which Adam kernel runs (fused or not) is this machine's choice, not the saver's.
        kernels = [{k: g.get(k) for k in ("fused", "foreach")} for g in optimizer.param_groups]
        optimizer.load_state_dict(checkpoint.optimizer)
        for group, kernel in zip(optimizer.param_groups, kernels):
            group.update(kernel)
        if scheduler is not None:
            scheduler.load_state_dict(checkpoint.scheduler)
        if scaler is not None and checkpoint.scaler is not None:
            scaler.load_state_dict(checkpoint.scaler)
    except (ValueError, KeyError, RuntimeError) as error:
        raise CourseLibError(
            f"checkpoint {path}: cannot restore the optimizer state ({error})"
        ) from None
    return dict(checkpoint.training)


def bundled_path() -> Path:
    """Where the bundled checkpoint lives inside the installed package."""
    return Path(str(_bundled_resource()))


def _bundled_resource() -> Any:
    return importlib.resources.files("course_lib") / "assets" / BUNDLED_FILE


def load_bundled(device: str | torch.device = "cpu") -> Checkpoint:
    """The small model trained on the bundled corpus, shipped with the package.

    Returns a :class:`Checkpoint` (``.model`` in eval mode, ``.src_tokenizer``,
    ``.tgt_tokenizer``, ``.config``, ``.metadata`` with the command that made it and its
    test metrics). See ``course_lib/assets/README.md`` to reproduce it.
    """
    with importlib.resources.as_file(_bundled_resource()) as path:
        if not path.is_file():
            raise CourseLibError(
                f"the bundled checkpoint {BUNDLED_FILE} is missing from the installed package "
                f"({path}); reinstall course-lib or train one with `course-lib train`"
            )
        return load_checkpoint(path, device)


__all__ = [
    "Checkpoint",
    "bundled_path",
    "load_bundled",
    "load_checkpoint",
    "resolve_checkpoint_path",
    "restore_training_state",
    "save_checkpoint",
]

"""Plain data across the sandbox wall: values to JSON and back, never pickles.

The grader sends case inputs into the sandbox and receives the student's outputs back
as JSON text. Only these kinds of values cross:

* ``None``, ``bool``, ``int``, ``float`` (NaN and infinities included), ``str``;
* ``list``, ``tuple`` and ``dict`` (any of these keys) of plain values;
* ``torch.Tensor`` (and numpy arrays, which come back as tensors): dtype, shape and the raw
  little-endian bytes in base64, so floats round-trip exactly;
* ``torch.dtype``;
* dataclass instances, as their qualified type name and fields. Inside the sandbox
  (``objects="build"``) they are rebuilt by importing the type; on the grader's side
  (``objects="dict"``) they become plain dicts with a ``"__type__"`` key, so nothing named
  by untrusted data is ever imported there.

Every non-JSON value is a one-key object whose key starts with ``$``, so decoding is
unambiguous. :func:`loads` is written for hostile input: size, depth and element caps,
a dtype allow-list, byte counts checked against shapes; any violation raises
:class:`PlainDataError` and the grader counts that case as failed.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import math
from typing import Any

import torch

from course_lib.errors import CourseLibError

MAX_DEPTH = 64
MAX_TENSOR_ELEMENTS = 50_000_000

_DTYPES: dict[str, torch.dtype] = {
    "bool": torch.bool,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}
_DTYPE_NAMES = {dtype: name for name, dtype in _DTYPES.items()}


class PlainDataError(CourseLibError):
    """A value cannot cross the sandbox wall, or received data is malformed."""


def encode(value: Any, where: str = "value") -> Any:
    """Turn ``value`` into JSON-ready data (see the module docstring for what is allowed).

    Raises:
        PlainDataError: naming the position (``where``) and type of an unsupported value.
    """
    return _encode(value, where, 0)


def _encode(value: Any, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise PlainDataError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"$float": repr(float(value))}
    if isinstance(value, torch.dtype):
        if value not in _DTYPE_NAMES:
            raise PlainDataError(f"{where}: dtype {value} is not supported")
        return {"$dtype": _DTYPE_NAMES[value]}
    if isinstance(value, torch.Tensor):
        return {"$tensor": _encode_tensor(value, where)}
    if type(value).__module__ == "numpy":
        return _encode_numpy(value, where, depth)
    if isinstance(value, list):
        return [_encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return {
            "$dict": [
                [_encode(k, f"{where} key", depth + 1), _encode(v, f"{where}[{k!r}]", depth + 1)]
                for k, v in value.items()
            ]
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        fields = {
            f.name: _encode(getattr(value, f.name), f"{where}.{f.name}", depth + 1)
            for f in dataclasses.fields(value)
        }
        return {"$object": {"type": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}}
    raise PlainDataError(
        f"{where}: a value of type {type(value).__name__} cannot be sent as plain data "
        f"(use tensors, numbers, strings, lists, tuples, dicts or dataclasses)"
    )


def _encode_tensor(tensor: torch.Tensor, where: str) -> dict[str, Any]:
    if tensor.dtype not in _DTYPE_NAMES:
        raise PlainDataError(f"{where}: tensors of dtype {tensor.dtype} are not supported")
    if tensor.layout != torch.strided:
        raise PlainDataError(f"{where}: only dense tensors are supported, got {tensor.layout}")
    if tensor.numel() > MAX_TENSOR_ELEMENTS:
        raise PlainDataError(f"{where}: tensor has {tensor.numel()} elements, too many")
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    raw = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
    return {
        "dtype": _DTYPE_NAMES[tensor.dtype],
        "shape": list(tensor.shape),
        "b64": base64.b64encode(raw).decode("ascii"),
    }


def _encode_numpy(value: Any, where: str, depth: int) -> Any:
    if hasattr(value, "shape") and hasattr(value, "dtype") and getattr(value, "ndim", 0) > 0:
        try:
            tensor = torch.from_numpy(value.copy())
        except TypeError as error:
            raise PlainDataError(f"{where}: numpy array of dtype {value.dtype}: {error}") from None
        return {"$tensor": _encode_tensor(tensor, where)}
    if hasattr(value, "item"):
        return _encode(value.item(), where, depth)
    raise PlainDataError(f"{where}: numpy value of type {type(value).__name__} is not supported")


def decode(data: Any, objects: str = "dict") -> Any:
    """Rebuild a value from :func:`encode`'s output.

    Args:
        data: parsed JSON.
        objects: ``"dict"`` turns dataclasses into dicts with a ``"__type__"`` key (use this
            for anything that came out of a sandbox); ``"build"`` imports and rebuilds them
            (only for data the grader produced itself).

    Raises:
        PlainDataError: on anything that :func:`encode` would not have produced.
    """
    if objects not in ("dict", "build"):
        raise PlainDataError(f"objects must be 'dict' or 'build', got {objects!r}")
    return _decode(data, objects, 0, "value")


def _decode(data: Any, objects: str, depth: int, where: str) -> Any:
    if depth > MAX_DEPTH:
        raise PlainDataError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if data is None or isinstance(data, (bool, int, str)):
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [_decode(v, objects, depth + 1, f"{where}[{i}]") for i, v in enumerate(data)]
    if not isinstance(data, dict) or len(data) != 1:
        raise PlainDataError(f"{where}: malformed plain data ({type(data).__name__})")
    ((tag, body),) = data.items()
    if tag == "$float":
        if body not in ("nan", "inf", "-inf"):
            raise PlainDataError(f"{where}: bad special float {body!r}")
        return float(body)
    if tag == "$dtype":
        if body not in _DTYPES:
            raise PlainDataError(f"{where}: unknown dtype {body!r}")
        return _DTYPES[body]
    if tag == "$tensor":
        return _decode_tensor(body, where)
    if tag == "$tuple" and isinstance(body, list):
        return tuple(_decode(v, objects, depth + 1, f"{where}[{i}]") for i, v in enumerate(body))
    if tag == "$dict" and isinstance(body, list):
        result: dict[Any, Any] = {}
        for pair in body:
            if not isinstance(pair, list) or len(pair) != 2:
                raise PlainDataError(f"{where}: malformed dict entry")
            key = _decode(pair[0], objects, depth + 1, f"{where} key")
            try:
                result[key] = _decode(pair[1], objects, depth + 1, f"{where}[{key!r}]")
            except TypeError:  # an unhashable key such as a list
                raise PlainDataError(f"{where}: unhashable dict key") from None
        return result
    if tag == "$object" and isinstance(body, dict):
        return _decode_object(body, objects, depth, where)
    raise PlainDataError(f"{where}: unknown plain-data tag {str(tag)[:40]!r}")


def _decode_tensor(body: Any, where: str) -> torch.Tensor:
    if not isinstance(body, dict) or set(body) != {"dtype", "shape", "b64"}:
        raise PlainDataError(f"{where}: malformed tensor")
    dtype = _DTYPES.get(body["dtype"]) if isinstance(body["dtype"], str) else None
    if dtype is None:
        raise PlainDataError(f"{where}: tensor dtype {str(body['dtype'])[:40]!r} not allowed")
    shape = body["shape"]
    if (
        not isinstance(shape, list)
        or len(shape) > 32
        or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_TENSOR_ELEMENTS
            for n in shape
        )
    ):
        raise PlainDataError(f"{where}: malformed tensor shape")
    numel = math.prod(shape)
    if numel > MAX_TENSOR_ELEMENTS:
        raise PlainDataError(f"{where}: tensor has {numel} elements, too many")
    if not isinstance(body["b64"], str):
        raise PlainDataError(f"{where}: malformed tensor data")
    try:
        raw = base64.b64decode(body["b64"].encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise PlainDataError(f"{where}: tensor data is not valid base64") from None
    storage_dtype = torch.uint8 if dtype == torch.bool else dtype
    itemsize = torch.empty((), dtype=storage_dtype).element_size()
    if len(raw) != numel * itemsize:
        raise PlainDataError(
            f"{where}: tensor data has {len(raw)} bytes, shape {shape} needs {numel * itemsize}"
        )
    if numel == 0:
        return torch.empty(shape, dtype=dtype)
    flat = torch.frombuffer(bytearray(raw), dtype=storage_dtype).clone()
    if dtype == torch.bool:
        flat = flat != 0
    return flat.reshape(shape)


def _decode_object(body: dict[str, Any], objects: str, depth: int, where: str) -> Any:
    name, fields = body.get("type"), body.get("fields")
    if not isinstance(name, str) or not isinstance(fields, dict) or set(body) != {"type", "fields"}:
        raise PlainDataError(f"{where}: malformed object")
    values = {str(k): _decode(v, objects, depth + 1, f"{where}.{k}") for k, v in fields.items()}
    if objects == "dict":
        return {"__type__": name, **values}
    module_name, _, qualname = name.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    if not dataclasses.is_dataclass(target):
        raise PlainDataError(f"{where}: {name} is not a dataclass")
    init = {f.name: values[f.name] for f in dataclasses.fields(target) if f.init}
    obj = target(**init)
    for f in dataclasses.fields(target):
        if not f.init and f.name in values:
            object.__setattr__(obj, f.name, values[f.name])
    return obj


def dumps(value: Any, where: str = "value") -> str:
    """:func:`encode` then compact JSON text (strict JSON: no NaN tokens)."""
    return json.dumps(encode(value, where), separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes, objects: str = "dict", max_chars: int = 64_000_000) -> Any:
    """Parse JSON text written by :func:`dumps`, defensively (see :func:`decode`)."""
    if len(text) > max_chars:
        raise PlainDataError(f"plain data is {len(text)} characters, more than {max_chars}")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise PlainDataError(f"not valid JSON: {str(error)[:200]}") from None
    try:
        return decode(data, objects)
    except RecursionError:
        raise PlainDataError("plain data nested too deeply") from None


def normalise(value: Any, where: str = "value") -> Any:
    """``value`` as the grader will see it after a trip through the sandbox wall.

    References are normalised this way so that they compare like-for-like with received
    outputs (dataclasses become dicts, numpy arrays become tensors).
    """
    return decode(encode(value, where), objects="dict")

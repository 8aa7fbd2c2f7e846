"""Plain data across the sandbox wall: exact round trips, and hostile input rejected."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

import pytest
import torch

from course_lib.exercises import compare
from course_lib.grading import plaindata
from course_lib.grading.plaindata import PlainDataError


@dataclass
class Point:
    x: int
    label: str


def roundtrip(value, objects="dict"):
    return plaindata.loads(plaindata.dumps(value), objects=objects)


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float32,
        torch.float64,
        torch.float16,
        torch.bfloat16,
        torch.int64,
        torch.int32,
        torch.int8,
        torch.uint8,
        torch.bool,
        torch.complex64,
    ],
)
def test_tensors_round_trip_exactly(dtype):
    torch.manual_seed(0)
    tensor = (torch.randn(3, 4) * 10).to(dtype)
    back = roundtrip(tensor)
    assert back.dtype == dtype and back.shape == tensor.shape
    assert torch.equal(back, tensor)


def test_non_contiguous_empty_and_scalar_tensors():
    tensor = torch.arange(12.0).reshape(3, 4).t()
    assert torch.equal(roundtrip(tensor), tensor)
    assert roundtrip(torch.empty(0, 5)).shape == (0, 5)
    assert roundtrip(torch.tensor(3.5)).item() == 3.5


def test_nested_containers_keep_their_types():
    value = {"ids": [1, 2, (3, 4)], 7: None, ("a", 1): [True, 2.5, "x"]}
    back = roundtrip(value)
    assert back == value
    assert isinstance(back["ids"][2], tuple)


def test_special_floats_and_strict_json():
    text = plaindata.dumps([math.nan, math.inf, -math.inf, 1.5])
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON {name}"))
    back = plaindata.loads(text)
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf


def test_dataclasses_are_rebuilt_only_when_asked():
    point = Point(3, "pizza")
    assert roundtrip(point, objects="build") == point
    as_dict = roundtrip(point)
    assert as_dict == {"__type__": f"{__name__}:Point", "x": 3, "label": "pizza"}


def test_dtype_values_and_numpy_arrays():
    import numpy as np

    assert roundtrip(torch.float16) is torch.float16
    assert torch.equal(roundtrip(np.arange(4)), torch.arange(4))
    assert roundtrip(np.float64(2.5)) == 2.5


def test_normalise_matches_what_comes_back():
    reference = (torch.ones(2), Point(1, "a"))
    assert compare(plaindata.normalise(reference), roundtrip(reference)) is None


def test_unsupported_values_name_where_they_are():
    with pytest.raises(PlainDataError, match=r"out\[1\]\['k'\]: a value of type object"):
        plaindata.encode([1, {"k": object()}], "out")
    with pytest.raises(PlainDataError, match="set"):
        plaindata.encode({1, 2})
    with pytest.raises(PlainDataError, match="sparse|dense"):
        plaindata.encode(torch.eye(2).to_sparse())


def tensor_record(dtype="float32", shape=(2,), raw=b"\0" * 8):
    return {
        "$tensor": {"dtype": dtype, "shape": list(shape), "b64": base64.b64encode(raw).decode()}
    }


@pytest.mark.parametrize(
    "data, message",
    [
        (tensor_record(raw=b"\0" * 7), "needs 8"),
        (tensor_record(dtype="object"), "not allowed"),
        (tensor_record(shape=(-1,)), "shape"),
        (tensor_record(shape=(10**9, 10**9)), "shape|too many"),
        ({"$tensor": {"dtype": "float32", "shape": [1], "b64": "!!!"}}, "base64"),
        ({"$tensor": {"dtype": "float32", "shape": [1]}}, "malformed tensor"),
        ({"$pickle": "gASV"}, "unknown plain-data tag"),
        ({"a": 1, "b": 2}, "malformed"),
        ({"$float": "1e400"}, "special float"),
        ({"$dict": [[[1], 2]]}, "unhashable"),
        ({"$object": {"type": "os:system", "fields": {}}}, None),
    ],
)
def test_hostile_data_is_rejected(data, message):
    if message is None:  # objects from a sandbox never import anything
        assert plaindata.decode(data) == {"__type__": "os:system"}
        return
    with pytest.raises(PlainDataError, match=message):
        plaindata.decode(data)


def test_bool_tensor_bytes_are_normalised():
    back = plaindata.decode(tensor_record(dtype="bool", shape=(3,), raw=bytes([0, 1, 7])))
    assert back.tolist() == [False, True, True]


def test_deep_nesting_and_size_are_capped():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(PlainDataError):
        plaindata.loads(deep)
    with pytest.raises(PlainDataError, match="more than"):
        plaindata.loads("[1]", max_chars=2)
    with pytest.raises(PlainDataError, match="nested"):
        value: list = []
        for _ in range(100):
            value = [value]
        plaindata.encode(value)


def test_decode_rejects_an_unknown_objects_mode():
    with pytest.raises(PlainDataError, match="objects must be"):
        plaindata.decode(1, objects="pickle")

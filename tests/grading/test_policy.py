"""The static check for names an exercise forbids."""

from __future__ import annotations

import pytest

from course_lib.grading.policy import forbidden_uses

SOFTMAX = ("torch.softmax", "torch.nn.functional.softmax", "torch.Tensor.softmax")


@pytest.mark.parametrize(
    "source, found",
    [
        ("import torch\ndef f(x): return torch.softmax(x, -1)", ["torch.softmax"]),
        (
            "import torch.nn.functional as F\ndef f(x): return F.softmax(x, -1)",
            ["torch.nn.functional.softmax"],
        ),
        (
            "from torch.nn.functional import softmax as s\ndef f(x): return s(x, -1)",
            ["torch.nn.functional.softmax"],
        ),
        ("from torch import *\ndef f(x): return softmax(x, -1)", ["torch.softmax"]),
        ("def f(x): return x.softmax(-1)", ["softmax"]),
        ("def f(x): return getattr(x, 'softmax')(-1)", ["softmax"]),
        ("import torch\ndef f(x):\n    e = (x - x.max()).exp()\n    return e / e.sum()", []),
        (
            'def f(x):\n    """Like torch.softmax, by hand."""\n    return x.exp() / x.exp().sum()',
            [],
        ),
        ("def f(x) return", []),  # does not parse: the sandbox reports it
        ("def f(x):\n    raise ValueError('softmax needs a 2-D input')", []),
        (
            "import importlib\nm = importlib.import_module('torch.nn.functional')\n"
            "f = getattr(m, 'softmax')",
            ["softmax"],
        ),
    ],
)
def test_forbidden_uses(source, found):
    assert forbidden_uses(source, SOFTMAX) == found


def test_library_reference_imported_from_course_lib():
    forbidden = ["course_lib.attention.scaled_dot_product_attention"]
    source = (
        "import course_lib.attention as attention\n"
        "def scaled_dot_product_attention(q, k, v):\n"
        "    return attention.scaled_dot_product_attention(q, k, v)\n"
    )
    assert forbidden_uses(source, forbidden) == forbidden
    own = "def scaled_dot_product_attention(q, k, v):\n    return q @ k.transpose(-2, -1) @ v\n"
    assert forbidden_uses(own, forbidden) == []


def test_nothing_forbidden_means_nothing_found():
    assert forbidden_uses("import torch\ntorch.softmax", ()) == []

"""The stubbed copies of course_lib that student code imports in the sandbox."""

from __future__ import annotations

import shutil

import pytest

from course_lib.exercises import Case, Exercise, all_exercises
from course_lib.grading import plaindata
from course_lib.grading.isolation import BUBBLEWRAP, PROCESS_ONLY
from course_lib.grading.jobs import Limits
from course_lib.grading.names import UnknownName
from course_lib.grading.sandbox import Sandbox
from course_lib.grading.stubs import Stage, build_stage, stub_source
from course_lib.masks import padding_mask

NO_ARGS = [{"args": plaindata.encode(()), "kwargs": plaindata.encode({})}]

SOURCE = '''
import torch

def keep(x):
    return x

def masked(x, y=1):
    """Doc."""
    return x + y

class Layer:
    scale = 2
    def __init__(self):
        self.a = 1
    def forward(self, x):
        return x

class Other:
    def split(self, x):
        return x
    def join(self, x):
        return x
'''


def test_stub_source_replaces_functions_classes_and_methods():
    text, stubbed = stub_source(
        SOURCE, "course_lib.demo",
        ["course_lib.demo.masked", "course_lib.demo.Layer", "course_lib.demo.Other.split"],
    )  # fmt: skip
    assert stubbed == {
        "course_lib.demo.masked", "course_lib.demo.Layer", "course_lib.demo.Layer.__init__",
        "course_lib.demo.Layer.forward", "course_lib.demo.Other.split",
    }  # fmt: skip
    assert "return x + y" not in text and "self.a = 1" not in text
    assert "ForbiddenUse('course_lib.demo.masked')" in text
    assert "def keep(x):\n    return x" in text and "scale = 2" in text
    assert "def join(self, x):\n        return x" in text
    assert stub_source(SOURCE, "course_lib.demo", []) == (SOURCE, set())


def test_reference_functions_are_always_stubbed(tmp_path):
    build_stage(tmp_path / "stage", {"a": ["course_lib.masks.causal_mask"], "b": []})
    for folder in ("base", "ex/0", "ex/1"):
        exercises = tmp_path / "stage" / folder / "course_lib" / "exercises"
        for module in exercises.glob("ch*.py"):
            text = module.read_text()
            assert "def reference_" not in text or "ForbiddenUse" in text, module
    masks = lambda f: (tmp_path / "stage" / f / "course_lib" / "masks.py").read_text()  # noqa: E731
    assert "ForbiddenUse" in masks("base") and "ForbiddenUse" in masks("ex/0")
    assert "ForbiddenUse" not in masks("ex/1")
    assert not list((tmp_path / "stage").rglob("__pycache__"))


def _exercise(forbidden: tuple) -> Exercise:
    return Exercise(
        "t_pad", 2, "pad", "pad", lambda x: x, lambda: [Case("one", (1,))], forbidden=forbidden
    )


def test_stage_checks_names_at_once_and_adds_the_other_paths_to_the_same_object(tmp_path):
    stage = Stage({"t_pad": _exercise((padding_mask, "torch.softmax"))})
    forbidden = stage.forbidden("t_pad")
    assert forbidden[0] == "course_lib.masks.padding_mask"
    assert "course_lib.batching.padding_mask" in forbidden and "torch.softmax" in forbidden
    try:
        folder = stage.path() / "ex" / stage.folder("t_pad") / "course_lib"
        assert "ForbiddenUse" in (folder / "masks.py").read_text()
    finally:
        stage.remove()
    assert not folder.exists()
    with pytest.raises(UnknownName, match="course_lib.masks.no_such_mask"):
        Stage({"t_pad": _exercise(("course_lib.masks.no_such_mask",))})
    with pytest.raises(TypeError, match="forbidden entries"):
        _exercise((42,))


def probe_source(reference: str) -> str:
    module, _, name = reference.rpartition(".")
    pieces = [module[i : i + 4] for i in range(0, len(module), 4)]
    return f"""
import gc, importlib, types
def f():
    found = {{}}
    module = importlib.import_module({" + ".join(map(repr, pieces))})
    try:
        getattr(module, {name!r})()
        found["call"] = "ran"
    except Exception as error:
        found["call"] = type(error).__name__
    found["unstubbed"] = sorted(
        o.__qualname__ for o in gc.get_objects()
        if isinstance(o, types.FunctionType) and o.__name__.startswith("reference_")
        and "ForbiddenUse" not in o.__code__.co_names
    )
    import os, course_lib
    stage = os.path.dirname(os.path.dirname(os.path.dirname(course_lib.__file__)))
    try:
        found["other copies"] = os.listdir(os.path.join(stage, "ex"))
    except OSError as error:
        found["other copies"] = type(error).__name__
    return found
"""


@pytest.mark.parametrize("isolation", [BUBBLEWRAP, PROCESS_ONLY])
def test_a_reference_is_a_stub_and_its_code_is_nowhere_in_memory(isolation, tmp_path):
    if isolation == BUBBLEWRAP and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    references = [
        f"{e.reference.__module__}.{e.reference.__name__}"
        for e in all_exercises().values()
        if e.reference.__name__.startswith("reference_")
    ]
    if not references:
        pytest.skip("no reference_* function in the registry")
    stage = tmp_path / "stage"
    folders = build_stage(stage, {"x": [], "y": []})
    sandbox = Sandbox.start(isolation, Limits(timeout=120, memory_mb=1536))
    job = {"exercises": [{"id": "x", "function": "f", "source": probe_source(references[0]),
                          "cases": NO_ARGS, "stub_folder": folders["x"]}]}  # fmt: skip
    run = sandbox.run(job, stage)
    record = next(r for r in run.records if r.get("event") == "exercise")
    found = plaindata.decode(record["cases"][0]["output"])
    assert found["call"] == "ForbiddenUse"
    assert found["unstubbed"] == []
    assert record["forbidden"] == [references[0]]
    if isolation == BUBBLEWRAP:
        assert record["copy"] == "private-mount"
        assert found["other copies"] == []  # this exercise's copy only
    else:
        assert record["copy"].startswith("search-path")

"""Where a dotted course_lib name is defined: read from a package's source, following
re-exports, never from a list of file names."""

from __future__ import annotations

import pytest

from course_lib.exercises import all_exercises
from course_lib.grading.names import PackageIndex, UnknownName
from course_lib.grading.stubs import package_dir, stubbed_names


@pytest.fixture
def index(tmp_path):
    """A small package laid out like course_lib: a module, a sub-package re-exporting its
    modules' names (absolute and relative imports), and a module using an alias."""
    (tmp_path / "data").mkdir()
    files = {
        "__init__.py": '"""Top."""\n',
        "masks.py": "def padding_mask(x):\n    return x\n\nclass Layer:\n    def forward(self):\n        pass\n",
        "batching.py": "from course_lib.masks import padding_mask\nfrom course_lib.masks import Layer as L\n",
        "data/__init__.py": "from .splits import word_counts\nfrom course_lib.data.toy import toy_pair\n",
        "data/splits.py": "def word_counts(s):\n    return {}\n",
        "data/toy.py": "from . import splits\n\ndef toy_pair():\n    return ()\n",
    }  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return PackageIndex(tmp_path)


def test_resolve_follows_re_exports_to_the_defining_module(index):
    assert index.resolve("course_lib.masks.padding_mask") == "course_lib.masks.padding_mask"
    assert index.resolve("course_lib.batching.padding_mask") == "course_lib.masks.padding_mask"
    assert index.resolve("course_lib.data.word_counts") == "course_lib.data.splits.word_counts"
    assert index.resolve("course_lib.data.toy_pair") == "course_lib.data.toy.toy_pair"
    assert index.resolve("course_lib.batching.L.forward") == "course_lib.masks.Layer.forward"
    assert index.resolve("course_lib.data.splits") == "course_lib.data.splits"  # a module


@pytest.mark.parametrize(
    "name",
    ["course_lib.train.noam_schedule", "course_lib.masks.causal_mask", "course_lib.data.nope"],
)
def test_a_name_no_module_defines_is_an_error(index, name):
    with pytest.raises(UnknownName, match="moved or renamed"):
        index.resolve(name)


def test_aliases_are_every_path_to_the_same_object(index):
    assert index.aliases("course_lib.masks.padding_mask") == {
        "course_lib.masks.padding_mask",
        "course_lib.batching.padding_mask",
    }
    assert "course_lib.data.word_counts" in index.aliases("course_lib.data.splits.word_counts")


def test_resolve_all_skips_other_packages_and_names_every_unknown(index):
    names = ["course_lib.batching.padding_mask", "torch.softmax", "sacrebleu"]
    assert index.resolve_all(names) == {"course_lib.masks.padding_mask"}
    with pytest.raises(UnknownName, match="course_lib.a.b, course_lib.c.d"):
        index.resolve_all(["course_lib.c.d", "course_lib.a.b"])


def test_every_name_the_registry_stubs_is_defined_in_course_lib():
    """A forbidden name (or a reference) that moved would otherwise be left unprotected."""
    index = PackageIndex(package_dir())
    for exercise in all_exercises().values():
        index.resolve_all(stubbed_names(exercise))

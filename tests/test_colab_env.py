"""The Colab-like test harness (``scripts/colab_env.py``, ``make colab-test``) and what it records.

The run itself takes minutes and is ``make colab-test``; here: the setup cell's install line
is taken as written and only its URL is pointed at the local snapshot, a change to a
preinstalled package is found, the versions written in ``book/setup.md`` are those of
``scripts/colab-runtime.txt``, and the problem-report template asks for ``course-lib doctor``.
"""

from __future__ import annotations

import re

import yaml
from conftest import ROOT

from scripts import colab_env, sync_install_cells

URL = "https://github.com/org/repo"


def test_install_line_is_the_cells_own_with_a_local_url(tmp_path):
    source = sync_install_cells.setup_source(URL, "v1.2.3")
    command = colab_env.install_command(source, URL, tmp_path)
    assert command == ["install", "-q", f"course-lib @ git+{tmp_path.as_uri()}@v1.2.3"]


def test_a_cell_installing_from_elsewhere_is_refused(tmp_path):
    source = '%pip install -q "course-lib @ git+https://example.org/other"'
    try:
        colab_env.install_command(source, URL, tmp_path)
    except SystemExit as error:
        assert "does not install from" in str(error)
    else:
        raise AssertionError("a setup cell that installs from elsewhere must be refused")


def test_changes_finds_added_changed_and_removed_packages():
    before = {"numpy": "2.0.2", "ipywidgets": "7.7.1", "tqdm": "4.67.1"}
    after = {"numpy": "2.0.2", "ipywidgets": "8.1.9", "sacrebleu": "2.6.0"}
    added, changed, removed = colab_env.changes(before, after)
    assert added == {"sacrebleu": "2.6.0"}
    assert changed == {"ipywidgets": ("7.7.1", "8.1.9")}
    assert removed == ["tqdm"]


def test_every_allowed_change_has_a_reason():
    for name, reason in colab_env.ALLOWED_CHANGES.items():
        assert len(reason.split()) >= 3, f"{name}: say why the course needs to change it"


def test_setup_page_records_the_colab_versions():
    setup = (ROOT / "book" / "setup.md").read_text(encoding="utf-8")
    begin, end = setup.index(colab_env.DOCS_BEGIN), setup.index(colab_env.DOCS_END)
    section = setup[begin:end]
    pins = colab_env.runtime_pins()
    assert {"torch", "numpy", "matplotlib", "ipywidgets", "ipykernel"} <= set(pins)
    for name, version in pins.items():
        if name != "pip":
            assert f"| {name} | {version}" in section, (
                f"book/setup.md does not record {name} {version}: run make colab-test UPDATE_DOCS=1"
            )
    assert re.search(r"Preinstalled packages the install changed: \*\*none\*\*", section) or all(
        name in section for name in colab_env.ALLOWED_CHANGES
    )


def test_problem_report_template_asks_for_doctor_output():
    template = ROOT / ".github" / "ISSUE_TEMPLATE" / "learner-problem.yml"
    form = yaml.safe_load(template.read_text(encoding="utf-8"))
    labels = " | ".join(item.get("attributes", {}).get("label", "") for item in form["body"])
    assert "course-lib doctor" in labels
    options = [o for item in form["body"] for o in item.get("attributes", {}).get("options", [])]
    assert "Google Colab" in options and "CPU" in options and any("GPU" in o for o in options)
    assert "course-lib doctor" in (ROOT / "book" / "setup.md").read_text(encoding="utf-8")

"""No page types a measured figure by hand (issue 15: one source for every number).

A figure that comes from a run (BLEU, chrF, exact match, a loss, a parameter count, steps,
seconds, a speed-up...) drifts from the run that produced it as soon as someone re-runs
anything. So prose never types one: it is printed by the cell next to it, glued from the
notebook (``{glue:text}`ch6_final_loss```) or filled in from the benchmark results through a
substitution (``{{ bench_real_bleu_10min }}``, see ``book/_ext/bench_numbers.py``).

What is checked: every markdown cell of every chapter, every page ``book/*.md`` (the generated
``book/performance.md`` included: ``benchmarks/report.py`` writes substitutions, not digits)
and ``README.md`` (GitHub cannot fill in substitutions, so the README states no measured
figure at all and links to the performance page).

The rule, sentence by sentence: a sentence fails when it contains a **figure literal** -- a
decimal number (``28.73``), a number with thousands separators (``3,443``) or a percentage
(``16.4%``) -- and a **metric word** (BLEU, chrF, exact match, accuracy, loss, perplexity,
parameters, steps, seconds/``s``/``ms``, minutes, hours, speed-up, faster/slower, a ``4×``
ratio, tokens per second, throughput). A table row is read together with its header row,
so a column headed "BLEU" counts.

Not prose, so not checked: fenced code blocks, inline code, math (formulas and their
constants: ``$\\sqrt{d_k} = 8$``; a bare number in math such as ``$3.52$`` is still checked),
URLs, HTML comments, directive options (``:width: 80%``), substitutions and glue roles.

Not figures: integers (``6 layers``, ``d_k = 64``, ``400 warm-up steps``), version numbers
(``2.13.0``), section/table/figure/chapter numbers (``§3.2``, ``Table 2``, ``Figure 3.2``),
and settings named right before their value (``dropout 0.1``, ``label smoothing = 0.1``,
``β2 = 0.98``, ``lr_scale=0.3``).

Anything else that must stay a literal goes into :data:`ALLOWED` below: an exact phrase, the
files it may appear in, and the reason (for example a figure quoted from the paper, with the
table or section it comes from). Keep it short; every entry must still be used.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, chapter_paths

# (files as a glob relative to the repository root, exact phrase, why it may stay a literal)
ALLOWED: list[tuple[str, str, str]] = [
    (
        "*",
        "27.3 BLEU",
        "the paper's base model on WMT 2014 English-German, quoted as the paper's "
        "(Vaswani et al., 2017, Table 2)",
    ),
    (
        "*",
        "100,000 steps",
        "the paper's training length for the base model (Vaswani et al., 2017, §5.2)",
    ),
    (
        "*",
        "4.5 million sentence pairs",
        "the size of WMT 2014 English-German as the paper gives it (Vaswani et al., 2017, §5.1)",
    ),
]

METRIC_WORDS = re.compile(
    r"""
    \b(?:bleu|chrf\+*|exact[\s-]match(?:es)?|accurac(?:y|ies)|loss(?:es)?|perplexit(?:y|ies)
       |param(?:eter)?s?|steps?|seconds?|secs?|minutes?|mins?|hours?|ms|milliseconds?
       |speed[\s-]?ups?|faster|slower|throughput|tokens?\s*(?:/\s*s|per\s+second)|it/s)\b
    | \d\s*(?:s|ms)\b          # "1.15 s", "40 ms"
    | \d\s*[×x](?![\w×])       # a ratio: "4.4×", "3x faster"
    """,
    re.IGNORECASE | re.VERBOSE,
)

# A number as written in prose: digits, optional thousands groups, decimals, a percent sign.
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)*(?:\s?%)?(?=[x×]?(?:\W|$))")
THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$")
# Words right before a number that make it a reference, not a figure: "§3.2", "Table 2".
REFERENCE = re.compile(
    r"(?:§+|\b(?:sections?|sec\.|tables?|figures?|fig\.|chapters?|ch\.|eq\.|equations?"
    r"|appendix|listing|version|v|python|torch|pytorch|release)\s*)$",
    re.IGNORECASE,
)
# A setting named right before its value: "dropout 0.1", "label smoothing = 0.1", "β2 = 0.98",
# "lr_scale=0.3". (A metric name before "=" is not a setting: "loss = 3.52" still counts.)
SETTING = re.compile(
    r"(?:\b(?:dropout|smoothing|epsilon|eps|beta\d?|alpha|temperature|top-p|p|lr|learning\s+rate"
    r"|clip(?:\s+norm)?|scaled?(?:\s+by)?|weight\s+decay|momentum)|[εϵβαγλ]\w*"
    r"|\b[a-z]+_[a-z_0-9]+)"
    r"\s*(?:=|:|of|is)?\s*$",
    re.IGNORECASE,
)
# After a reference, "3.2 and 3.3" / "3.2–3.4" continue it.
CONTINUATION = re.compile(r"^\s*(?:,|and|or|to|–|-)\s*$")


def figures_in(sentence: str) -> list[str]:
    """The figure literals of one sentence of prose (whether or not a metric word is near)."""
    found: list[str] = []
    previous_was_reference = False
    last_end = 0
    for match in NUMBER.finditer(sentence):
        text = match.group().strip()
        before = sentence[: match.start()]
        gap = sentence[last_end : match.start()]
        is_reference = bool(REFERENCE.search(before)) or (
            previous_was_reference and bool(CONTINUATION.match(gap))
        )
        previous_was_reference, last_end = is_reference, match.end()
        if is_reference or text.count(".") >= 2:  # "§3.2.2", a version "2.13.0"
            continue
        digits = text.rstrip("%").strip()
        is_figure = text.endswith("%") or "." in digits or bool(THOUSANDS.match(digits))
        if is_figure and not SETTING.search(before):
            found.append(text)
    return found


def is_violation(sentence: str) -> list[str]:
    """The figure literals that make ``sentence`` fail (empty when it passes)."""
    figures = figures_in(sentence)
    return figures if figures and METRIC_WORDS.search(sentence) else []


# --- from Markdown to sentences of prose ------------------------------------------------------

CODE_DIRECTIVES = {
    "code",
    "code-block",
    "code-cell",
    "sourcecode",
    "literalinclude",
    "math",
    "bibliography",
    "raw",
    "mermaid",
}
FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*(\{[^}]*\})?(.*)$")
ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
SUBSTITUTION = re.compile(r"\{\{[^{}]*\}\}")


def _inline(text: str) -> str:
    """Prose only: substitutions, roles, inline code, math, links, tags and URLs removed."""
    text = SUBSTITUTION.sub(" (value) ", text)
    # {term}`BLEU` keeps its words; every other role ({glue:text}, {numref}, {cite}...) goes.
    text = ROLE.sub(lambda m: m.group(2) if m.group(1) == "term" else " ", text)
    text = re.sub(r"``[^`]*``|`[^`]*`", " ", text)
    text = re.sub(
        r"\$\$(.+?)\$\$|\$([^$]+)\$",
        lambda m: m.group(2) if m.group(2) and re.fullmatch(r"[\d.,\s%]+", m.group(2)) else " ",
        text,
    )
    text = re.sub(r"\\\((.+?)\\\)", " ", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](url) -> text
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"<[^>\n]+>", " ", text)
    return text


def prose_lines(markdown: str) -> list[tuple[int, str]]:
    """(line number, line) of the prose in ``markdown``: code, math blocks, comments and
    directive options removed, directive bodies (notes, admonitions, figures) kept."""
    markdown = re.sub(
        r"<!--.*?-->", lambda m: "\n" * m.group().count("\n"), markdown, flags=re.DOTALL
    )
    kept: list[tuple[int, str]] = []
    stack: list[str] = []  # fences of the directives we are inside
    code_fence: str | None = None
    in_math = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        stripped = line.strip()
        if code_fence is not None:
            if stripped and set(stripped) == {code_fence[0]} and len(stripped) >= len(code_fence):
                code_fence = None
            continue
        if stripped.startswith("$$"):
            one_line = stripped.endswith("$$") and len(stripped) > 4
            if not one_line:
                in_math = not in_math
            continue
        if in_math:
            continue
        fence = FENCE.match(line)
        if fence:
            marks, directive, rest = fence.groups()
            if directive is None and not rest.strip() and stack and stack[-1] == marks:
                stack.pop()  # the end of a directive
                continue
            name = (directive or "").strip("{}").strip()
            if directive is None and marks[0] in "`~":
                code_fence = marks  # a code block
                continue
            if name in CODE_DIRECTIVES:
                code_fence = marks
                continue
            stack.append(marks)
            if rest.strip() and name not in {"figure", "image", "glossary"}:
                kept.append((number, rest))  # an admonition's title is prose
            continue
        if re.match(r"^\s*:[\w-]+:", line):  # a directive option, ":width: 80%"
            continue
        kept.append((number, line))
    return kept


@dataclass
class Sentence:
    line: int
    text: str


def sentences(markdown: str) -> list[Sentence]:
    """The sentences of ``markdown``'s prose. A paragraph is joined before it is split into
    sentences; a heading or a list item starts a new one; a table row is one sentence,
    read together with the table's header row."""
    out: list[Sentence] = []
    block: list[tuple[int, str]] = []
    header: str | None = None

    def flush() -> None:
        if block:
            text = " ".join(_inline(line).strip() for _, line in block)
            for part in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(\[*_])", text):
                if part.strip():
                    out.append(Sentence(block[0][0], part.strip()))
            block.clear()

    for number, line in prose_lines(markdown):
        stripped = line.strip()
        if stripped.startswith("|"):
            flush()
            if re.fullmatch(r"\|?[\s:|-]+\|?", stripped):
                continue  # the |---|---| separator
            if header is None:
                header = _inline(stripped)
                out.append(Sentence(number, header))
            else:
                out.append(Sentence(number, f"{_inline(stripped)} [header: {header}]"))
            continue
        header = None
        if not stripped:
            flush()
            continue
        if re.match(r"^(#{1,6}\s|[-*+]\s|\d+[.)]\s)", stripped):
            flush()
        block.append((number, line))
    flush()
    return out


# --- what is checked --------------------------------------------------------------------------


@dataclass
class Source:
    """One piece of Markdown: a page, or one markdown cell of a chapter."""

    path: str  # relative to the repository root
    cell: int | None
    markdown: str

    def where(self, line: int) -> str:
        return (
            f"{self.path}, cell {self.cell}, line {line}"
            if self.cell is not None
            else (f"{self.path}, line {line}")
        )


def book_pages() -> list[Path]:
    return sorted((ROOT / "book").glob("*.md")) + [ROOT / "README.md"]


def sources_of(path: Path) -> list[Source]:
    relative = path.relative_to(ROOT).as_posix()
    if path.suffix == ".ipynb":
        notebook = nbformat.read(path, as_version=4)
        return [
            Source(relative, index, cell.source)
            for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "markdown"
        ]
    return [Source(relative, None, path.read_text(encoding="utf-8"))]


def allowed_phrases(path: str) -> list[str]:
    return [phrase for pattern, phrase, _ in ALLOWED if fnmatch.fnmatch(path, pattern)]


def violations(source: Source) -> list[str]:
    """One line per sentence of ``source`` that types a metric figure."""
    found = []
    phrases = allowed_phrases(source.path)
    for sentence in sentences(source.markdown):
        text = sentence.text
        for phrase in phrases:
            text = text.replace(phrase, " (allowed) ")
        figures = is_violation(text)
        if figures:
            found.append(
                f'{source.where(sentence.line)}: {", ".join(figures)} in "{sentence.text[:300]}"'
            )
    return found


FILES = chapter_paths() + book_pages()


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_no_measured_figure_is_typed_in_prose(path):
    problems = [line for source in sources_of(path) for line in violations(source)]
    assert not problems, (
        "Measured figures typed as literals (insert them from where they are computed: the "
        "output printed by the cell, {glue:text}`chN_name`, or {{ bench_... }}; a quoted "
        "constant goes into ALLOWED in tests/test_prose_numbers.py with its reason):\n  "
        + "\n  ".join(problems)
    )


def test_every_allowed_phrase_has_a_reason_and_is_used():
    texts = {
        p.relative_to(ROOT).as_posix(): "\n".join(s.markdown for s in sources_of(p)) for p in FILES
    }
    for pattern, phrase, reason in ALLOWED:
        assert len(reason) > 20, f"{phrase!r}: say why it may stay a literal"
        assert any(
            fnmatch.fnmatch(path, pattern) and phrase in text for path, text in texts.items()
        ), f"{phrase!r} ({pattern}) is allowed but no longer used: remove it from ALLOWED"


# --- the rule itself, on sentences made up for the purpose -------------------------------------

CAUGHT = [
    "The course recipe reaches BLEU 28.73 on Tatoeba.",
    "It gets 16.4% exact match on the test split.",
    "Training ran for 3,443 steps.",
    "Grading takes 1.15 s per submission.",
    "After training the loss is 1.87.",
    "The cache gives a 4.4× speed-up.",
    "The model has 2,919,608 parameters.",
    "Perplexity falls to 6.5 after two epochs.",
    "It decodes 1,200 tokens per second.",
    "We beat nn.Transformer by 9.5 BLEU.",
    "The cached decoder is 4.42x faster.",
    "Accuracy reaches 97% on held-out pairs.",
    "The final loss = 3.52 is close to the floor.",
    "| course | 28.73 | 50.66 |",  # judged with its header, below
    "Chapter 6 says the loss is 2.5 at the end.",
    "It took 12.5 minutes.",
    "A step takes 168.0 ms.",
]

PASSED = [
    "The course recipe reaches {{ bench_real_bleu_10min }} BLEU on Tatoeba.",
    "It gets {glue:text}`ch7_exact_match` exact match.",
    "Each stack has 6 layers.",
    "In the paper d_k = 64 and d_model = 512.",
    "The warm-up lasts 400 steps.",
    "The paper's label smoothing of 0.1 raises perplexity but improves BLEU (§5.4).",
    "The loss uses dropout 0.1 and label smoothing ε_ls = 0.1.",
    "Adam with β2 = 0.98 keeps the loss stable.",
    "The learning rate is scaled by 0.5 for the first steps.",
    "See §3.2.2 for the loss and Section 5.3 for the steps.",
    "Figure 3.2 shows the loss against the steps.",
    "Install torch 2.13.0 to reproduce the seconds printed above.",
    "The output above shows the loss falling below `2.5`.",
    "The loss is $-\\log p = 0.69$ for a coin flip.",
    "The batch is 64x20 tokens and each step takes the time printed above.",
    "Python 3.11 runs every chapter in minutes.",
    "We hold out 10% of the verb-noun pairs.",  # no metric word
    "The original model reached 27.3 BLEU (Vaswani et al., 2017, Table 2).",  # allowed
]


@pytest.mark.parametrize("sentence", CAUGHT)
def test_rule_catches_typed_figures(sentence):
    if sentence.startswith("|"):
        markdown = f"| model | BLEU | chrF |\n|---|---|---|\n{sentence}\n"
    else:
        markdown = sentence
    source = Source("book/example.md", None, markdown)
    assert violations(source), f"not caught: {sentence!r}"


@pytest.mark.parametrize("sentence", PASSED)
def test_rule_passes_constants_and_inserted_figures(sentence):
    source = Source("book/example.md", None, sentence)
    assert violations(source) == [], sentence


def test_code_math_comments_and_directive_options_are_not_prose():
    markdown = "\n".join(
        [
            "Some prose about the loss.",
            "",
            "```python",
            "loss = 3.52  # BLEU 28.73",
            "```",
            "",
            "````{note}",
            "The note's prose is checked: BLEU 12.5.",
            "```text",
            "BLEU 99.9",
            "```",
            "````",
            "",
            "```{figure} images/x.png",
            ":width: 80%",
            ":alt: A plot of the loss.",
            "",
            "The caption is prose: the loss ends at 1.25.",
            "```",
            "",
            "$$",
            "\\mathrm{lrate} = d^{-0.5} \\cdot \\min(\\mathrm{step}^{-0.5}, \\ldots)",
            "$$",
            "",
            "<!-- BLEU 28.73 in a comment -->",
        ]
    )
    found = violations(Source("book/example.md", None, markdown))
    assert len(found) == 2, found
    assert "12.5" in found[0] and "line 8" in found[0]
    assert "1.25" in found[1]


def test_failure_message_names_file_cell_and_sentence(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("print(1)"),
        nbformat.v4.new_markdown_cell("Fine.\n\nThe model reaches BLEU 29.9 here."),
    ]
    path = ROOT / "chapters" / "example.ipynb"
    found = violations(Source("chapters/example.ipynb", 2, notebook.cells[2].source))
    assert found == [
        'chapters/example.ipynb, cell 2, line 3: 29.9 in "The model reaches BLEU 29.9 here."'
    ], (found, path)

"""Score a checkpoint with BLEU, chrF (sacrebleu) and exact match.

Examples:
  course-lib evaluate --checkpoint bundled --corpus toy
  course-lib evaluate --checkpoint runs/tatoeba --corpus tatoeba --beam 4 --json
  course-lib evaluate --checkpoint runs/tatoeba --corpus my_test.tsv --limit 500

Corpora:
  toy      the bundled corpus's held-out test pairs (verb-noun combinations never seen
           in training, "I hate pizza" among them)
  tatoeba  the test split of the Tatoeba English-French corpus (downloaded and cached;
           the same split by English sentence as `course-lib train --corpus tatoeba`)
  PATH     a UTF-8 TSV file of English<TAB>French lines; an English sentence repeated on
           several lines is scored against all its French translations (references)

Scores follow the one evaluation path, course_lib.evaluate (the same function writes
`course-lib train`'s metrics.json): repeated English sentences are translated once and
scored against all their French translations; a sentence longer than the model's maximum
length is truncated to it (and will likely be scored as wrong), not skipped; a word outside
the French vocabulary comes out as <unk> and never matches. A progress bar goes to standard
error; with --json the last line printed on standard output is one JSON object with bleu,
chrf (0-100), exact_match (0-1), n and the sacrebleu signature.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from course_lib import data
from course_lib.commands import train as train_command
from course_lib.errors import CourseLibError
from course_lib.evaluate import evaluate
from course_lib.translate import Translator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--checkpoint",
        default="bundled",
        metavar="DIR|bundled",
        help="checkpoint written by `course-lib train`, or 'bundled' (the default)",
    )
    parser.add_argument(
        "--corpus",
        default="toy",
        metavar="toy|tatoeba|PATH",
        help="what to score on (default: toy, the bundled corpus's held-out test pairs)",
    )
    parser.add_argument("--beam", type=int, default=1, metavar="K", help="beam size (1 = greedy)")
    parser.add_argument(
        "--max-len",
        type=int,
        default=None,
        metavar="N",
        help="most French tokens to generate per sentence (default: 2 x source + 10)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="score only the first N sentences"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, metavar="B", help="sentences per batch (64)"
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=5,
        metavar="N",
        help="print N mistranslated sentences (default 5; 0 for none)",
    )
    parser.add_argument(
        "--json", action="store_true", help="end with one line of JSON holding the scores"
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device to run on (cpu, cuda, mps; default cpu)"
    )


def load_corpus(corpus: str) -> tuple[list[tuple[str, str]], str]:
    """``(pairs, description)``: the test split of ``toy`` or ``tatoeba``, or a whole TSV file.

    ``toy`` and ``tatoeba`` are split exactly as ``course-lib train`` splits them (the same
    function makes both), so a trained checkpoint is scored on the pairs it never saw.
    """
    if corpus in ("toy", "tatoeba"):
        split = train_command.load_corpus(corpus)
        if corpus == "toy":
            return split["test"], "bundled corpus, held-out test pairs"
        return split["test"], f"Tatoeba test split ({split['split']})"
    path = Path(corpus).expanduser()
    if not path.exists():
        raise CourseLibError(
            f"corpus not found: {corpus!r} is neither 'toy', 'tatoeba' nor an existing file"
        )
    return data.read_pairs_tsv(path), f"{path}"


def run(args: argparse.Namespace) -> int:
    for name in ("beam", "limit", "max_len", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CourseLibError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.examples < 0:
        raise CourseLibError(f"--examples must be 0 or more, got {args.examples}")
    translator = Translator.load(args.checkpoint, device=args.device)
    pairs, description = load_corpus(args.corpus)
    result = evaluate(
        translator,
        pairs,
        max_sentences=args.limit,
        beam_size=args.beam,
        max_new_tokens=args.max_len,
        batch_size=args.batch_size,
        progress=True,
    )
    decoding = "greedy" if args.beam == 1 else f"beam {args.beam}"
    print(f"checkpoint: {args.checkpoint} | corpus: {description} | decoding: {decoding}")
    mistakes = result.mistakes()
    for source, hypothesis, references in mistakes[: args.examples]:
        print(f"  EN  {source}\n  MT  {hypothesis}\n  REF {' | '.join(references)}")
    print(f"sentences:   {result.n}")
    print(f"BLEU:        {result.bleu:.2f}")
    print(f"chrF:        {result.chrf:.2f}")
    print(f"exact match: {100 * result.exact_match:.2f}% ({result.n - len(mistakes)}/{result.n})")
    print(f"signature:   {result.signature}")
    if args.json:
        print(result.to_json())
    return 0

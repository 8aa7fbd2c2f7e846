"""Translate English sentences with a trained checkpoint.

Examples:
  course-lib translate --checkpoint bundled "I hate pizza" "She loves cheese"
  echo "I hate pizza" | course-lib translate --checkpoint runs/toy --beam 4

With no sentences (or "-") the sentences are read from standard input, one per line.
Each translation is printed on its own line, in order; an empty line gives an empty line.
"""

from __future__ import annotations

import argparse
import sys

from course_lib.errors import CourseLibError
from course_lib.translate import Translator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "sentences",
        nargs="*",
        metavar="SENTENCE",
        help='English sentences; none or "-" reads lines from standard input',
    )
    parser.add_argument(
        "--checkpoint",
        default="bundled",
        metavar="DIR|bundled",
        help="checkpoint directory or file written by `course-lib train`, or 'bundled' "
        "(the small model shipped with the package; the default)",
    )
    parser.add_argument(
        "--beam", type=int, default=1, metavar="K", help="beam size (1 = greedy, the default)"
    )
    parser.add_argument(
        "--max-len",
        type=int,
        default=None,
        metavar="N",
        help="most French tokens to generate per sentence (default: 2 x source + 10)",
    )
    parser.add_argument(
        "--length-penalty",
        type=float,
        default=0.6,
        metavar="ALPHA",
        help="beam search length penalty exponent (default 0.6)",
    )
    parser.add_argument(
        "--truncate",
        action="store_true",
        help="cut sentences longer than the model's maximum length instead of failing",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device to run on (cpu, cuda, mps; default cpu)"
    )


def read_sentences(sentences: list[str]) -> list[str]:
    """The sentences from the command line, or the lines of standard input for none or "-"."""
    if not sentences or sentences == ["-"]:
        if sys.stdin is None:
            raise CourseLibError("no sentences given and no standard input to read")
        return [line.rstrip("\r\n") for line in sys.stdin]
    if "-" in sentences:
        raise CourseLibError('"-" (read standard input) cannot be mixed with sentences')
    return list(sentences)


def run(args: argparse.Namespace) -> int:
    if args.beam < 1:
        raise CourseLibError(f"--beam must be at least 1, got {args.beam}")
    if args.max_len is not None and args.max_len < 1:
        raise CourseLibError(f"--max-len must be at least 1, got {args.max_len}")
    sentences = read_sentences(args.sentences)
    translator = Translator.load(args.checkpoint, device=args.device)
    if not sentences:
        return 0
    translations = translator.translate(
        sentences,
        beam_size=args.beam,
        max_new_tokens=args.max_len,
        length_penalty=args.length_penalty,
        truncate=args.truncate,
    )
    for line in translations:
        print(line, flush=False)
    sys.stdout.flush()
    return 0

"""The ``course-lib`` command line.

Each sub-command lives in its own module under ``course_lib.commands`` and provides
``add_arguments(parser)`` and ``run(args) -> int``. Errors the user can fix
(:class:`~course_lib.errors.CourseLibError`, missing files) are printed as one line
and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from course_lib import __version__
from course_lib.commands import (
    canvas,
    doctor,
    evaluate,
    export,
    grade,
    gradescope,
    release,
    train,
    translate,
)
from course_lib.errors import CourseLibError

COMMANDS: dict[str, tuple[ModuleType, str]] = {
    "train": (train, "train a model and write checkpoints"),
    "translate": (translate, "translate sentences with a checkpoint"),
    "evaluate": (evaluate, "score a checkpoint with BLEU/chrF"),
    "release": (release, "write student copies of chapters"),
    "grade": (grade, "grade a folder of submissions"),
    "gradescope": (gradescope, "build a Gradescope autograder package"),
    "canvas": (canvas, "write a gradebook as a Canvas import CSV"),
    "doctor": (doctor, "check this installation (paste it in bug reports)"),
    "export": (export, "export a checkpoint to ONNX for the website"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course-lib",
        description="The Transformer, Step by Step: train, translate, evaluate, release, grade.",
    )
    parser.add_argument("--version", action="version", version=f"course-lib {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CourseLibError as error:
        print(f"course-lib {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
        print(f"course-lib {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"course-lib {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

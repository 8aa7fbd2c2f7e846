"""Export a checkpoint for the browser: ONNX graphs, vocabularies, tokenizer rules, manifest.

Examples:
  course-lib export --checkpoint bundled --out _build/site-static/translator
  course-lib export --checkpoint runs/toy --out web/ --no-web

The folder then holds encoder.onnx, decoder.onnx, vocab.json, tokenizer.json,
manifest.json and (unless --no-web) the translator page's JavaScript. The website's
"Try the translator" page loads it with onnxruntime-web. Needs the `onnx` and `onnxruntime`
packages (pip install "course-lib[export]").
"""

from __future__ import annotations

import argparse
import importlib.util

from course_lib.errors import CourseLibError
from course_lib.export import export_translator
from course_lib.onnx_translator import OnnxTranslator
from course_lib.translate import Translator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--checkpoint",
        default="bundled",
        metavar="DIR|bundled",
        help="checkpoint directory or file written by `course-lib train`, or 'bundled' "
        "(the default)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    parser.add_argument(
        "--no-web", action="store_true", help="do not copy the page's JavaScript files"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="afterwards, translate 'I hate pizza' with onnxruntime and with PyTorch and "
        "compare the two",
    )


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("onnx") is None:  # optional (the `export` extra); torch needs it
        raise CourseLibError('exporting needs the onnx package: pip install "course-lib[export]"')
    manifest = export_translator(args.checkpoint, args.out, web=not args.no_web)
    sizes = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in manifest["bytes"].items())
    print(f"exported {manifest['checkpoint']['name']} to {args.out}: {sizes}")
    if args.check:
        sentence = "I hate pizza"
        onnx_text = OnnxTranslator.load(args.out)(sentence).translation
        torch_text = Translator.load(args.checkpoint)(sentence)
        print(f"{sentence!r}: onnxruntime {onnx_text!r}, PyTorch {torch_text!r}")
        if onnx_text != torch_text:
            raise CourseLibError("the exported model and PyTorch disagree")
    return 0

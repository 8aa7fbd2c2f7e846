"""Translate with an exported model and onnxruntime: the Python twin of the page's JavaScript.

:func:`course_lib.export.export_translator` writes two ONNX graphs; this module drives them
with the same greedy loop as ``web/translator.js`` (and as chapter 5's ``decode_loop``,
batch of one):

    ids = tokenize_en(sentence) -> vocabulary ids             src (1, src_len)
    memory = encoder(src)                                     (1, src_len, d_model)
    tokens = [<start>]
    repeat at most min(max_len - 1, 2 * src_len + 10) times:
        logits, attention = decoder(tokens, memory, src)      (1, V), (1, layers, heads, src_len)
        logits[<pad>] = logits[<start>] = -inf
        next = argmax(logits); tokens.append(next)            (the first maximum on ties)
        stop after <end>

It exists so that the tests can check the exported graphs against PyTorch on the whole toy
test split without a browser, and so that the JavaScript has a readable reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_lib.errors import CourseLibError
from course_lib.export import FILES, MANIFEST
from course_lib.tokenize import END, PAD, START, UNK, WordTokenizer
from course_lib.translate import default_max_new_tokens


@dataclass
class OnnxTranslation:
    """One translation: the French text, its ids (``<end>`` included when produced), the
    tokens on both sides and the cross-attention map ``(len(target_tokens), src_len)``
    averaged over layers and heads (the last row is the ``<end>`` step)."""

    translation: str
    ids: list[int]
    source_tokens: list[str]
    target_tokens: list[str]
    attention: np.ndarray
    unknown_words: list[str]


class OnnxTranslator:
    """``OnnxTranslator.load(folder)("I hate pizza").translation``."""

    def __init__(self, folder: Path, encoder, decoder, src: WordTokenizer, tgt: WordTokenizer):
        self.folder = folder
        self.encoder, self.decoder = encoder, decoder
        self.src_tokenizer, self.tgt_tokenizer = src, tgt
        self.manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        self.max_len = int(self.manifest["config"]["max_len"])

    @classmethod
    def load(cls, folder: str | Path) -> OnnxTranslator:
        """Read a folder written by ``course-lib export`` (one onnxruntime thread)."""
        import onnxruntime  # optional: the [export] extra, only for exported translators

        folder = Path(folder)
        for name in (MANIFEST, *FILES.values()):
            if not (folder / name).is_file():
                raise CourseLibError(f"{folder} is not an exported translator: no {name}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1

        def session(name: str):
            return onnxruntime.InferenceSession(
                str(folder / FILES[name]), options, providers=["CPUExecutionProvider"]
            )

        vocab = json.loads((folder / FILES["vocab"]).read_text(encoding="utf-8"))
        src, tgt = WordTokenizer.from_dict(vocab["src"]), WordTokenizer.from_dict(vocab["tgt"])
        return cls(folder, session("encoder"), session("decoder"), src, tgt)

    def encode(self, src_ids: list[int]) -> np.ndarray:
        """``(1, src_len)`` ids -> memory ``(1, src_len, d_model)``."""
        return self.encoder.run(None, {"src": np.array([src_ids], dtype=np.int64)})[0]

    def step(
        self, tokens: list[int], memory: np.ndarray, src_ids: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Logits ``(V,)`` of the next word and cross-attention ``(layers, heads, src_len)``."""
        feeds = {
            "tgt": np.array([tokens], dtype=np.int64),
            "memory": memory,
            "src": np.array([src_ids], dtype=np.int64),
        }
        logits, attention = self.decoder.run(None, feeds)
        return logits[0], attention[0]

    def translate(self, sentence: str) -> OnnxTranslation:
        """Greedy translation of one non-empty sentence of at most ``max_len`` tokens."""
        words = self.src_tokenizer.tokenize(sentence)
        if not words:
            raise CourseLibError("the sentence is empty: type an English sentence")
        if len(words) > self.max_len:
            raise CourseLibError(
                f"the sentence has {len(words)} tokens, more than max_len={self.max_len}"
            )
        src_ids = self.src_tokenizer.vocab.encode(words)
        memory = self.encode(src_ids)
        tokens, rows = [START], []
        for _ in range(default_max_new_tokens(len(src_ids), self.max_len)):
            logits, attention = self.step(tokens, memory, src_ids)
            logits[[PAD, START]] = -np.inf
            tokens.append(int(np.argmax(logits)))
            rows.append(attention.mean(axis=(0, 1)))  # mean over layers and heads
            if tokens[-1] == END:
                break
        ids = tokens[1:]
        itos = self.tgt_tokenizer.vocab.itos
        return OnnxTranslation(
            translation=self.tgt_tokenizer.decode(ids),
            ids=ids,
            source_tokens=[self.src_tokenizer.vocab.itos[i] for i in src_ids],
            target_tokens=[itos[i] for i in ids],
            attention=np.stack(rows),
            unknown_words=[w for w, i in zip(words, src_ids) if i == UNK],
        )

    __call__ = translate

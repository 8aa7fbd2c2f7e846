"""Step 2d: from many sentences of different lengths to rectangular batches.

Sentences in a batch must have the same length to form one tensor, so shorter ones are
filled with ``<pad>`` (id 0) and a **padding mask** tells attention to ignore those
positions. Padding is wasted compute; **bucketing** puts sentences of similar length in
the same batch so there is little of it.

* :func:`pad_sequences` - lists of ids -> ``(batch, max_len)`` LongTensor;
* :func:`padding_mask` - the same function as :func:`course_lib.masks.padding_mask`
  (re-exported here, one source of truth): ``(batch, seq_len)`` -> ``(batch, 1, 1, seq_len)``;
* :class:`PairDataset`, :class:`BucketBatchSampler`, :func:`make_dataloader` - a
  :class:`torch.utils.data.DataLoader` of ``(src, tgt)`` batches;
* :func:`padding_fraction` - how much of a loader's batches is padding.

Batches hold the sentences' tokens only: ``<start>``/``<end>`` are added by the training
step (teacher forcing, chapter 6).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from course_lib.errors import CourseLibError, ShapeError
from course_lib.masks import padding_mask
from course_lib.tokenize import PAD


def pad_sequences(
    seqs: Sequence[Sequence[int]], pad_id: int = PAD, max_len: int | None = None
) -> torch.Tensor:
    """Pad lists of token ids with ``pad_id`` on the right into one tensor.

    ``[[5, 6, 7], [8]]`` -> ``tensor([[5, 6, 7], [8, 0, 0]])``.

    Args:
        seqs: ``batch`` lists of ints (an empty list is allowed: all padding).
        pad_id: the filler id.
        max_len: the width of the result; default the longest sequence. A sequence
            longer than ``max_len`` raises (nothing is cut silently).

    Returns:
        LongTensor of shape ``(batch, max_len)``.
    """
    if isinstance(seqs, (str, bytes, torch.Tensor)) or not isinstance(seqs, Sequence):
        raise CourseLibError(
            f"pad_sequences: expected a list of id lists, got {type(seqs).__name__}"
        )
    if len(seqs) == 0:
        raise CourseLibError("pad_sequences: got an empty batch (no sequences)")
    rows: list[list[int]] = []
    for i, seq in enumerate(seqs):
        if isinstance(seq, torch.Tensor):
            seq = seq.tolist() if seq.dim() == 1 and not seq.is_floating_point() else None
        if not isinstance(seq, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in seq
        ):
            raise CourseLibError(
                f"pad_sequences: sequence {i} must be a list of int ids, got {seq!r:.60}"
            )
        rows.append(list(seq))
    longest = max(len(r) for r in rows)
    if max_len is None:
        max_len = longest
    elif isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 0:
        raise CourseLibError(f"pad_sequences: max_len must be None or an int >= 0, got {max_len!r}")
    elif longest > max_len:
        which = next(i for i, r in enumerate(rows) if len(r) == longest)
        raise ShapeError(
            f"pad_sequences: sequence {which} has {longest} tokens, more than max_len={max_len}"
        )
    out = torch.full((len(rows), max_len), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


class PairDataset(Dataset):
    """Sentence pairs encoded once: item ``i`` is ``(src_ids, tgt_ids)``, two lists of ints
    without ``<start>``/``<end>``.

    ``max_len`` (optional) leaves out pairs with more tokens than that on either side;
    how many were left out is in ``skipped``.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str, str]],
        src_tokenizer: Any,
        tgt_tokenizer: Any,
        max_len: int | None = None,
    ):
        if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence) or not pairs:
            raise CourseLibError(
                f"PairDataset: pairs must be a non-empty list of (source, target) strings, "
                f"got {type(pairs).__name__} of length {len(pairs) if hasattr(pairs, '__len__') else '?'}"
            )
        self.src: list[list[int]] = []
        self.tgt: list[list[int]] = []
        self.skipped = 0
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise CourseLibError(
                    f"PairDataset: pair {i} must be (source, target), got {pair!r:.60}"
                )
            try:
                src, tgt = src_tokenizer.encode(pair[0]), tgt_tokenizer.encode(pair[1])
            except CourseLibError as error:
                raise CourseLibError(f"PairDataset: pair {i} {pair!r:.80}: {error}") from None
            if max_len is not None and max(len(src), len(tgt)) > max_len:
                self.skipped += 1
                continue
            self.src.append(src)
            self.tgt.append(tgt)
        if not self.src:
            raise CourseLibError(f"PairDataset: every pair is longer than max_len={max_len}")

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, index: int) -> tuple[list[int], list[int]]:
        return self.src[index], self.tgt[index]

    @property
    def lengths(self) -> list[tuple[int, int]]:
        """``(source length, target length)`` per item: the key bucketing sorts by."""
        return [(len(s), len(t)) for s, t in zip(self.src, self.tgt)]


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose items have similar lengths.

    Each epoch: shuffle all indices, cut them into chunks of ``batch_size * chunk_batches``,
    sort each chunk by length, cut it into batches, shuffle the order of the batches.
    Batches are still random (a batch can come from anywhere in the data), but the
    sentences inside one batch have nearly the same length, so there is little padding.

    Deterministic: the order depends only on ``seed`` and the epoch. The epoch advances
    by one each time the sampler is iterated; :meth:`set_epoch` sets it explicitly.
    With ``shuffle=False`` the indices keep their order before the chunked sort.
    """

    def __init__(
        self,
        lengths: Sequence[Any],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        chunk_batches: int = 50,
    ):
        if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
            raise CourseLibError(
                "BucketBatchSampler: lengths must be a non-empty list (one per item)"
            )
        for name, value in (("batch_size", batch_size), ("chunk_batches", chunk_batches)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseLibError(
                    f"BucketBatchSampler: {name} must be an int >= 1, got {value!r}"
                )
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.chunk_batches = chunk_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` on the next iteration."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(f"{self.seed}-{self.epoch}")
        self.epoch += 1
        indices = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(indices)
        chunk = self.batch_size * self.chunk_batches
        batches: list[list[int]] = []
        for start in range(0, len(indices), chunk):
            part = sorted(indices[start : start + chunk], key=self.lengths.__getitem__)
            batches += [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        full_chunks, rest = divmod(len(self.lengths), self.batch_size * self.chunk_batches)
        tail = rest // self.batch_size if self.drop_last else math.ceil(rest / self.batch_size)
        return full_chunks * self.chunk_batches + tail


def collate_pairs(
    batch: Sequence[tuple[list[int], list[int]]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """``[(src_ids, tgt_ids), ...]`` -> ``(src (B, S), tgt (B, T))`` LongTensors padded with PAD."""
    return pad_sequences([s for s, _ in batch]), pad_sequences([t for _, t in batch])


def make_dataloader(
    pairs: Sequence[tuple[str, str]],
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    bucket: bool = True,
    drop_last: bool = False,
    max_len: int | None = None,
) -> DataLoader:
    """A DataLoader of ``(src, tgt)`` batches: LongTensors ``(B, S)`` and ``(B, T)``, padded
    with ``PAD``, without ``<start>``/``<end>``.

    ``bucket=True`` groups sentences of similar length (:class:`BucketBatchSampler`);
    ``bucket=False`` draws plain random batches (the comparison in chapter 2).
    Seeded: the same arguments give the same batches, epoch after epoch.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise CourseLibError(f"make_dataloader: batch_size must be an int >= 1, got {batch_size!r}")
    dataset = PairDataset(pairs, src_tokenizer, tgt_tokenizer, max_len=max_len)
    if bucket:
        sampler = BucketBatchSampler(
            dataset.lengths, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_pairs)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=generator,
        collate_fn=collate_pairs,
    )


def padding_fraction(loader: Any) -> float:
    """The fraction of positions in all ``(src, tgt)`` batches of ``loader`` that are padding
    (0.0 = no waste). Iterates the loader once."""
    pads = total = 0
    for batch in loader:
        if not isinstance(batch, (tuple, list)):
            raise CourseLibError(
                f"padding_fraction: expected (src, tgt) batches, got {type(batch).__name__}"
            )
        for ids in batch:
            pads += int((ids == PAD).sum())
            total += ids.numel()
    if total == 0:
        raise CourseLibError("padding_fraction: the loader produced no batches")
    return pads / total


__all__ = [
    "BucketBatchSampler",
    "PairDataset",
    "collate_pairs",
    "make_dataloader",
    "pad_sequences",
    "padding_fraction",
    "padding_mask",
]

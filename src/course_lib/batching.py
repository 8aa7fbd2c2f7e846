"""Step 2d: from many sentences of different lengths to rectangular batches.

Sentences in a batch must have the same length to form one tensor, so shorter ones are
filled with ``<pad>`` (id 0) and a **padding mask** tells attention to ignore those
positions. Padding is wasted compute; **bucketing** puts sentences of similar length in
the same batch so there is little of it.

* :func:`pad_sequences` - lists of ids -> ``(batch, max_len)`` LongTensor;
* :func:`padding_mask` - the same function as :func:`course_lib.masks.padding_mask`
  (re-exported here, one source of truth): ``(batch, seq_len)`` -> ``(batch, 1, 1, seq_len)``;
* :func:`bucketed_batches` - one epoch's length-bucketed batches, seeded; :class:`BatchStream`
  draws them epoch after epoch, resumably (the training loop of chapter 6);
* :func:`encode_pairs` - sentence pairs tokenised once into :class:`EncodedPairs` (the one
  encoded-pairs dataset: chapter 2's DataLoader and chapter 6's training loop both use it),
  leaving out pairs too long for the model by one rule, :func:`fits`;
* :class:`BucketBatchSampler`, :func:`make_dataloader` - a
  :class:`torch.utils.data.DataLoader` of ``(src, tgt)`` batches;
* :func:`padding_fraction` - how much of a loader's batches is padding.

Batches hold the sentences' tokens only: ``<start>``/``<end>`` are added by the training
step (teacher forcing, chapter 6).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from course_lib.checks import check_int
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
    return _pad(rows, pad_id, max_len)


def _pad(
    rows: Sequence[Sequence[int]], pad_id: int = PAD, width: int | None = None
) -> torch.Tensor:
    """Right-pad checked rows of ids into a ``(len(rows), width)`` LongTensor (width: the
    longest row, at least 1 unless given)."""
    if width is None:
        width = max(1, max(len(r) for r in rows))
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def fits(src_ids: Sequence[int], tgt_ids: Sequence[int], max_positions: int | None) -> bool:
    """Whether a pair fits a model with ``max_positions`` positions: the source's tokens, and
    the target's tokens plus ``<start>`` (the decoder input of teacher forcing). The one rule
    by which too-long pairs are left out; ``None`` keeps every pair."""
    return max_positions is None or (
        len(src_ids) <= max_positions and len(tgt_ids) + 1 <= max_positions
    )


@dataclass
class EncodedPairs(Dataset):
    """Sentence pairs encoded once: item ``i`` is ``(src[i], tgt[i])``, two lists of ids
    without ``<start>``/``<end>``; ``pairs[i]`` is the ``(english, french)`` text it came from
    and ``skipped`` how many pairs :func:`encode_pairs` left out as too long."""

    src: list[list[int]]
    tgt: list[list[int]]
    pairs: list[tuple[str, str]]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, index: int) -> tuple[list[int], list[int]]:
        return self.src[index], self.tgt[index]

    @property
    def lengths(self) -> list[tuple[int, int]]:
        """``(source length, target length)`` per item: the key bucketing sorts by."""
        return [(len(s), len(t)) for s, t in zip(self.src, self.tgt)]

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ``(src, tgt)`` of the items ``indices``: shapes ``(len(indices),
        longest source)`` and ``(len(indices), longest target)``."""
        return _pad([self.src[i] for i in indices]), _pad([self.tgt[i] for i in indices])


def encode_pairs(
    pairs: Sequence[tuple[str, str]],
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    max_positions: int | None = None,
    name: str = "pairs",
) -> EncodedPairs:
    """Tokenise ``(english, french)`` pairs once into :class:`EncodedPairs`.

    Pairs that do not :func:`fits` a model of ``max_positions`` positions (a source of more
    than ``max_positions`` tokens, or a target that needs more with ``<start>``) are left out
    and counted in ``skipped``. ``name`` names the pairs in error messages.
    """
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise CourseLibError(f"{name} must be a list of (english, french) pairs")
    if len(pairs) == 0:
        raise CourseLibError(f"{name} is empty: no sentence pairs to train or evaluate on")
    if max_positions is not None:
        check_int(max_positions, "max_positions", 1)
    src, tgt, kept, skipped = [], [], [], 0
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise CourseLibError(f"{name}[{i}] must be an (english, french) pair, got {pair!r:.60}")
        try:
            s, t = list(src_tokenizer.encode(pair[0])), list(tgt_tokenizer.encode(pair[1]))
        except CourseLibError as error:
            raise CourseLibError(f"{name}[{i}] {pair!r:.80}: {error}") from None
        if not fits(s, t, max_positions):
            skipped += 1
            continue
        src.append(s)
        tgt.append(t)
        kept.append((pair[0], pair[1]))
    if not src:
        raise CourseLibError(
            f"{name}: every pair is longer than the model's {max_positions} positions"
        )
    return EncodedPairs(src, tgt, kept, skipped)


def bucketed_batches(
    src_lengths: Sequence[Any],
    tgt_lengths: Sequence[int] | None,
    batch_size: int,
    seed: int,
    epoch: int,
    pool_batches: int = 50,
    *,
    shuffle: bool = True,
    drop_last: bool = True,
) -> list[list[int]]:
    """One epoch's batches of item indices, bucketed by length: a pure function of
    ``(seed, epoch)``.

    The items are shuffled, cut into pools of ``pool_batches * batch_size``, each pool is
    sorted by length (source length, then target length when ``tgt_lengths`` is given;
    ``src_lengths`` may also hold any sortable keys, such as ``(src, tgt)`` tuples) and cut
    into batches, so a batch holds sentences of similar length and little padding; then
    the batches are shuffled. ``pool_batches=1`` gives plain random batches (no bucketing).

    ``drop_last`` drops the incomplete batch (there is at most one: the end of the last
    pool) unless it is the only one; the next epoch's shuffle covers those items.
    ``shuffle=False`` keeps the items' order before the pooled sort and the batches' order
    after it. The training loop (chapter 6) and :class:`BucketBatchSampler` both use this
    function, so a resumed run sees the same data.
    """
    n = len(src_lengths)
    if n == 0 or (tgt_lengths is not None and n != len(tgt_lengths)):
        got = n if tgt_lengths is None else f"{n} and {len(tgt_lengths)}"
        raise CourseLibError(f"bucketed_batches: need equal, non-empty length lists, got {got}")
    for name, value in (("batch_size", batch_size), ("pool_batches", pool_batches)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CourseLibError(f"{name} must be a positive integer, got {value!r}")

    def key(i: int) -> Any:
        return src_lengths[i] if tgt_lengths is None else (src_lengths[i], tgt_lengths[i])

    generator = torch.Generator().manual_seed(int(seed) * 100_003 + int(epoch))
    order = torch.randperm(n, generator=generator).tolist() if shuffle else list(range(n))
    pool = batch_size * pool_batches
    batches: list[list[int]] = []
    for begin in range(0, n, pool):
        chunk = sorted(order[begin : begin + pool], key=key)
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()
    if not shuffle:
        return batches
    permutation = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in permutation]


class BatchStream:
    """Epoch after epoch of :func:`bucketed_batches`: ``next(stream)`` is the training loop's
    next batch of item indices. The position ``(epoch, index)`` (the batch inside the epoch)
    is saved in checkpoints, so a resumed run draws the very batch it would have drawn next."""

    def __init__(
        self,
        src_lengths: Sequence[int],
        tgt_lengths: Sequence[int],
        batch_size: int,
        seed: int = 0,
        pool_batches: int = 50,
    ):
        self.src_lengths, self.tgt_lengths = list(src_lengths), list(tgt_lengths)
        self.batch_size, self.seed, self.pool_batches = batch_size, seed, pool_batches
        self.seek(0, 0)

    def seek(self, epoch: int, index: int) -> None:
        """Continue at batch ``index`` of epoch ``epoch``."""
        self.epoch, self.index = epoch, index
        self._batches: list[list[int]] | None = None

    def __iter__(self) -> Iterator[list[int]]:
        return self

    def __next__(self) -> list[int]:
        while True:
            if self._batches is None:
                lengths = (self.src_lengths, self.tgt_lengths)
                order = (self.batch_size, self.seed, self.epoch, self.pool_batches)
                self._batches = bucketed_batches(*lengths, *order)
            if self.index < len(self._batches):
                self.index += 1
                return self._batches[self.index - 1]
            self.seek(self.epoch + 1, 0)


class BucketBatchSampler(Sampler[list[int]]):
    """The batches of :func:`bucketed_batches` as a PyTorch batch sampler (for a DataLoader).

    ``lengths`` has one sortable length per item (an int, or a ``(src_len, tgt_len)`` tuple).
    Batches are still random (a batch can come from anywhere in the data), but the
    sentences inside one batch have nearly the same length, so there is little padding.

    Deterministic: the order depends only on ``seed`` and the epoch. The epoch advances
    by one each time the sampler is iterated; :meth:`set_epoch` sets it explicitly.
    With ``shuffle=False`` the indices keep their order before the pooled sort.
    """

    def __init__(
        self,
        lengths: Sequence[Any],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        pool_batches: int = 50,
    ):
        if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
            raise CourseLibError(
                "BucketBatchSampler: lengths must be a non-empty list (one per item)"
            )
        for name, value in (("batch_size", batch_size), ("pool_batches", pool_batches)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseLibError(
                    f"BucketBatchSampler: {name} must be an int >= 1, got {value!r}"
                )
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` on the next iteration."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        batches = bucketed_batches(
            self.lengths,
            None,
            self.batch_size,
            self.seed,
            self.epoch,
            self.pool_batches,
            shuffle=self.shuffle,
            drop_last=self.drop_last,
        )
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full + int(rest > 0 and (not self.drop_last or full == 0))


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
    max_positions: int | None = None,
) -> DataLoader:
    """A DataLoader of ``(src, tgt)`` batches: LongTensors ``(B, S)`` and ``(B, T)``, padded
    with ``PAD``, without ``<start>``/``<end>``.

    ``bucket=True`` groups sentences of similar length (:class:`BucketBatchSampler`);
    ``bucket=False`` draws plain random batches (the comparison in chapter 2).
    ``max_positions`` leaves out pairs too long for the model (:func:`encode_pairs`).
    Seeded: the same arguments give the same batches, epoch after epoch.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise CourseLibError(f"make_dataloader: batch_size must be an int >= 1, got {batch_size!r}")
    dataset = encode_pairs(pairs, src_tokenizer, tgt_tokenizer, max_positions)
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
    "BatchStream",
    "BucketBatchSampler",
    "EncodedPairs",
    "bucketed_batches",
    "collate_pairs",
    "encode_pairs",
    "fits",
    "make_dataloader",
    "pad_sequences",
    "padding_fraction",
    "padding_mask",
]

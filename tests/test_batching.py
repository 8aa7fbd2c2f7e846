"""Step 2d: padding, the padding mask, the pair dataset, bucketed batches."""

from __future__ import annotations

import pytest
import torch

from course_lib import masks
from course_lib.batching import (
    BatchStream,
    BucketBatchSampler,
    EncodedPairs,
    bucketed_batches,
    collate_pairs,
    encode_pairs,
    fits,
    make_dataloader,
    pad_sequences,
    padding_fraction,
    padding_mask,
)
from course_lib.data import make_toy_corpus
from course_lib.errors import CourseLibError, ShapeError
from course_lib.tokenize import END, PAD, START, UNK, WordTokenizer


@pytest.fixture(scope="module")
def corpus():
    return make_toy_corpus(0)


@pytest.fixture(scope="module")
def tokenizers(corpus):
    return (
        WordTokenizer.fit([e for e, _ in corpus.train], "en"),
        WordTokenizer.fit([f for _, f in corpus.train], "fr"),
    )


# --- padding ------------------------------------------------------------------------------------


def test_pad_sequences():
    out = pad_sequences([[5, 6, 7], [8], []])
    assert out.dtype == torch.long
    assert out.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert pad_sequences([[5, 6]], pad_id=9, max_len=4).tolist() == [[5, 6, 9, 9]]
    assert pad_sequences([(1, 2), torch.tensor([3])]).tolist() == [[1, 2], [3, 0]]
    assert pad_sequences([[]]).shape == (1, 0)


@pytest.mark.parametrize(
    ("seqs", "kwargs", "error", "message"),
    [
        ([], {}, CourseLibError, "empty batch"),
        ("abc", {}, CourseLibError, "expected a list of id lists, got str"),
        ([[1, 2], [3.0]], {}, CourseLibError, "sequence 1 must be a list of int ids"),
        ([[True]], {}, CourseLibError, "sequence 0 must be a list of int ids"),
        ([[1], "ab"], {}, CourseLibError, "sequence 1 must be a list of int ids"),
        (
            [[1, 2, 3], [4]],
            {"max_len": 2},
            ShapeError,
            "sequence 0 has 3 tokens, more than max_len=2",
        ),
        ([[1]], {"max_len": -1}, CourseLibError, "max_len must be None or an int >= 0"),
    ],
)
def test_pad_sequences_bad_input(seqs, kwargs, error, message):
    with pytest.raises(error, match=message):
        pad_sequences(seqs, **kwargs)


def test_padding_mask_is_the_one_from_masks():
    assert padding_mask is masks.padding_mask, "one source of truth"
    ids = pad_sequences([[5, 6, 7], [8]])
    mask = padding_mask(ids)
    assert mask.shape == (2, 1, 1, 3) and mask.dtype == torch.bool
    assert mask[:, 0, 0].tolist() == [[True, True, True], [True, False, False]]
    with pytest.raises(ShapeError, match=r"shape \(batch, seq_len\), got \(3,\)"):
        padding_mask(torch.tensor([1, 2, 0]))


# --- the dataset ----------------------------------------------------------------------------------


def test_encoded_pairs_items_have_no_special_tokens(corpus, tokenizers):
    en, fr = tokenizers
    dataset = encode_pairs(corpus.train[:100], en, fr)
    assert isinstance(dataset, EncodedPairs) and len(dataset) == 100 and dataset.skipped == 0
    src, tgt = dataset[0]
    english, french = corpus.train[0]
    assert src == en.encode(english) and tgt == fr.encode(french)
    assert dataset.pairs[0] == (english, french)
    for src, tgt in (dataset[i] for i in range(len(dataset))):
        assert not {PAD, START, END} & set(src + tgt)
    assert dataset.lengths[0] == (len(dataset[0][0]), len(dataset[0][1]))


def test_encoded_pairs_batch_is_right_padded(corpus, tokenizers):
    en, fr = tokenizers
    dataset = encode_pairs(corpus.train[:8], en, fr)
    src, tgt = dataset.batch([0, 2])
    assert src.shape == (2, max(len(dataset.src[0]), len(dataset.src[2])))
    assert src.dtype == torch.long and tgt.dtype == torch.long
    assert src[0, : len(dataset.src[0])].tolist() == dataset.src[0]
    assert tgt[1, : len(dataset.tgt[2])].tolist() == dataset.tgt[2]
    assert (src[0, len(dataset.src[0]) :] == PAD).all()


def test_encoded_pairs_unknown_words_become_unk(tokenizers):
    en, fr = tokenizers
    dataset = encode_pairs([("I love sushi", "J'aime les sushis")], en, fr)
    src, tgt = dataset[0]
    assert src[-1] == UNK and tgt[-1] == UNK


def test_one_rule_for_pairs_too_long_for_the_model():
    # the source needs its tokens, the target its tokens + <start> (teacher forcing)
    assert fits([1, 2, 3], [4, 5], 3) and fits([1], [2], None)
    assert not fits([1, 2, 3, 4], [5], 3)
    assert not fits([1], [2, 3, 4], 3)  # 3 tokens + <start> = 4 positions


def test_encode_pairs_max_positions_leaves_out_long_pairs(tokenizers):
    en, fr = tokenizers
    pairs = [("I love pizza", "J'aime la pizza"), ("I don't like pizza", "Je n'aime pas la pizza")]
    dataset = encode_pairs(pairs, en, fr, max_positions=5)
    assert len(dataset) == 1 and dataset.skipped == 1 and dataset.pairs == pairs[:1]
    with pytest.raises(CourseLibError, match="longer than the model's 2 positions"):
        encode_pairs(pairs, en, fr, max_positions=2)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([], "pairs is empty"),
        ("I love pizza", r"pairs must be a list of \(english, french\) pairs"),
        ([("I love pizza",)], r"pairs\[0\] must be an \(english, french\) pair"),
        (
            [("I love pizza", "J'aime la pizza"), ("I love pizza", "")],
            r"pairs\[1\] .*empty sentence",
        ),
        ([("I love pizza", 3)], r"pairs\[0\] .*expected a sentence \(str\), got int"),
    ],
)
def test_encode_pairs_bad_pairs(tokenizers, pairs, message):
    en, fr = tokenizers
    with pytest.raises(CourseLibError, match=message):
        encode_pairs(pairs, en, fr)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "64", True])
def test_encode_pairs_bad_max_positions(tokenizers, bad):
    en, fr = tokenizers
    with pytest.raises(CourseLibError, match="max_positions"):
        encode_pairs([("I love pizza", "J'aime la pizza")], en, fr, max_positions=bad)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([], [], 4), "non-empty"),
        (([1, 2], [1], 4), "equal, non-empty length lists"),
        (([1, 2], [1, 2], 0), "batch_size"),
    ],
)
def test_batch_stream_bad_input(args, message):
    with pytest.raises(CourseLibError, match=message):
        next(BatchStream(*args))


# --- the bucketing sampler -------------------------------------------------------------------------


def lengths(n=1000, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(1, 30, (n,), generator=generator).tolist()


def test_every_index_exactly_once_per_epoch():
    sampler = BucketBatchSampler(lengths(), batch_size=32)
    for _ in range(2):
        batches = list(sampler)
        assert len(batches) == len(sampler) == 32
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(1000))


def test_batches_hold_similar_lengths():
    values = lengths()
    sampler = BucketBatchSampler(values, batch_size=32)
    spread = [max(values[i] for i in b) - min(values[i] for i in b) for b in sampler]
    assert sum(spread) / len(spread) < 3, "sorted within chunks: near-equal lengths"


def test_order_depends_only_on_seed_and_epoch():
    values = lengths()
    a, b = BucketBatchSampler(values, 32, seed=1), BucketBatchSampler(values, 32, seed=1)
    first, second = list(a), list(a)
    assert first != second, "a new epoch, a new order"
    assert list(b) == first and list(b) == second
    b.set_epoch(0)
    assert list(b) == first
    assert list(BucketBatchSampler(values, 32, seed=2)) != first


def test_no_shuffle_is_deterministic_and_drop_last():
    values = lengths(100)
    sampler = BucketBatchSampler(values, batch_size=30, shuffle=False, drop_last=True)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3 and all(len(b) == 30 for b in batches)
    assert list(sampler) == batches
    assert len(BucketBatchSampler(values, batch_size=30)) == 4
    assert len(BucketBatchSampler(values, batch_size=30, pool_batches=1)) == 4


def test_length_keys_may_be_tuples():
    sampler = BucketBatchSampler([(3, 4), (1, 1), (3, 2), (1, 5)], batch_size=2, shuffle=False)
    assert list(sampler) == [[1, 3], [2, 0]]


def test_sampler_and_training_loop_draw_the_same_batches():
    """One bucketing algorithm: the DataLoader's sampler (chapter 2) and the training loop
    (chapter 6, which passes source and target lengths separately) agree."""
    src, tgt = lengths(500, seed=1), lengths(500, seed=2)
    sampler = BucketBatchSampler(list(zip(src, tgt)), 32, seed=7, drop_last=True)
    sampler.set_epoch(3)
    assert list(sampler) == bucketed_batches(src, tgt, 32, seed=7, epoch=3)


def test_batch_stream_runs_epoch_after_epoch_and_resumes():
    src, tgt = lengths(50, seed=1), lengths(50, seed=2)
    stream = BatchStream(src, tgt, 8, seed=3)
    epoch0, epoch1 = bucketed_batches(src, tgt, 8, 3, 0), bucketed_batches(src, tgt, 8, 3, 1)
    drawn = [next(stream) for _ in range(len(epoch0) + 2)]
    assert drawn == epoch0 + epoch1[:2] and (stream.epoch, stream.index) == (1, 2)
    resumed = BatchStream(src, tgt, 8, seed=3)
    resumed.seek(1, 2)
    assert next(resumed) == next(stream) == epoch1[2]
    stream.pool_batches = 1  # from the next epoch on: random batches
    assert len(list(zip(range(20), stream))) == 20


def test_bucketed_batches_without_shuffle_or_drop():
    batches = bucketed_batches([5, 1, 3, 2, 4], None, 2, 0, 0, shuffle=False, drop_last=False)
    assert batches == [[1, 3], [2, 4], [0]]
    assert bucketed_batches([5, 1], None, 4, 0, 0) == [[1, 0]], "the only (short) batch stays"
    with pytest.raises(CourseLibError, match="equal, non-empty length lists, got 2 and 3"):
        bucketed_batches([1, 2], [1, 2, 3], 2, 0, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([], 4), "lengths must be a non-empty list"),
        (([1, 2], 0), "batch_size must be an int >= 1, got 0"),
        (([1, 2], 2.5), "batch_size must be an int >= 1, got 2.5"),
    ],
)
def test_bad_sampler_arguments(args, message):
    with pytest.raises(CourseLibError, match=message):
        BucketBatchSampler(*args)


# --- the data loader --------------------------------------------------------------------------------


def test_dataloader_yields_padded_long_tensors(corpus, tokenizers):
    en, fr = tokenizers
    loader = make_dataloader(corpus.train, en, fr, batch_size=64, seed=0)
    seen = 0
    for src, tgt in loader:
        assert src.dtype == tgt.dtype == torch.long and src.dim() == tgt.dim() == 2
        assert src.size(0) == tgt.size(0) <= 64
        assert (
            not ((src == START) | (src == END)).any() and not ((tgt == START) | (tgt == END)).any()
        )
        assert (src != PAD).any(1).all() and (tgt != PAD).any(1).all(), "no all-padding row"
        seen += src.size(0)
    assert seen == len(corpus.train)


def test_dataloader_reproduces_a_batch(corpus, tokenizers):
    en, fr = tokenizers
    for bucket in (True, False):
        one = make_dataloader(corpus.train, en, fr, batch_size=16, seed=3, bucket=bucket)
        two = make_dataloader(corpus.train, en, fr, batch_size=16, seed=3, bucket=bucket)
        a, b = next(iter(one)), next(iter(two))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_bucketing_wastes_less_on_padding(corpus, tokenizers):
    en, fr = tokenizers
    bucketed = padding_fraction(make_dataloader(corpus.train, en, fr, bucket=True))
    random_batches = padding_fraction(make_dataloader(corpus.train, en, fr, bucket=False))
    assert bucketed < 0.1 < random_batches
    assert bucketed < random_batches / 4


def test_collate_and_padding_fraction_by_hand():
    src, tgt = collate_pairs([([4, 5, 6], [7]), ([8], [9, 10])])
    assert src.tolist() == [[4, 5, 6], [8, 0, 0]] and tgt.tolist() == [[7, 0], [9, 10]]
    assert padding_fraction([(src, tgt)]) == pytest.approx(3 / 10)
    with pytest.raises(CourseLibError, match="produced no batches"):
        padding_fraction([])
    with pytest.raises(CourseLibError, match=r"expected \(src, tgt\) batches, got Tensor"):
        padding_fraction([src])


def test_make_dataloader_bad_batch_size(corpus, tokenizers):
    en, fr = tokenizers
    with pytest.raises(CourseLibError, match="batch_size must be an int >= 1, got 0"):
        make_dataloader(corpus.train, en, fr, batch_size=0)

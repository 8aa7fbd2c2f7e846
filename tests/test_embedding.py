"""Step 2b/2c: token embeddings scaled by sqrt(d_model), the sinusoidal positional encoding."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.embedding import PositionalEncoding, TokenEmbedding, sinusoidal_encoding
from course_lib.errors import CourseLibError, ShapeError


def test_token_embedding_is_the_table_row_times_sqrt_d_model():
    torch.manual_seed(0)
    embed = TokenEmbedding(vocab_size=10, d_model=16)
    ids = torch.tensor([[4, 5, 6, 0], [7, 8, 0, 0]])
    out = embed(ids)
    assert out.shape == (2, 4, 16) and out.dtype == torch.float32
    torch.testing.assert_close(out, embed.weight[ids] * 4.0)
    assert embed.scale == math.sqrt(16)


def test_padding_row_is_zero_and_gets_no_gradient():
    embed = TokenEmbedding(vocab_size=10, d_model=8, padding_idx=0)
    assert torch.count_nonzero(embed.weight[0]) == 0
    embed(torch.tensor([[4, 0, 0]])).sum().backward()
    assert torch.count_nonzero(embed.weight.grad[0]) == 0
    assert torch.count_nonzero(embed.weight.grad[4]) == 8


def test_int32_ids_work_too():
    embed = TokenEmbedding(5, 4)
    ids = torch.tensor([[1, 2]])
    torch.testing.assert_close(embed(ids.int()), embed(ids))


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (torch.tensor([[1.0, 2.0]]), "token ids must be an integer tensor, got torch.float32"),
        ([[1, 2]], "token ids must be an integer tensor, got list"),
    ],
)
def test_embedding_refuses_non_integer_ids(ids, message):
    with pytest.raises(ShapeError, match=message):
        TokenEmbedding(5, 4)(ids)


@pytest.mark.parametrize("bad", [5, 99, -1])
def test_embedding_names_an_id_outside_the_vocabulary(bad):
    with pytest.raises(CourseLibError, match=rf"token id {bad} is outside .*vocab_size=5"):
        TokenEmbedding(5, 4)(torch.tensor([[1, bad, 2]]))


def test_embedding_refuses_bad_sizes():
    with pytest.raises(CourseLibError, match="vocab_size >= 1 and d_model >= 1"):
        TokenEmbedding(0, 4)
    with pytest.raises(CourseLibError, match="got vocab_size=5, d_model=0"):
        TokenEmbedding(5, 0)


def test_sinusoidal_encoding_follows_the_formula():
    max_len, d_model = 50, 16
    pe = sinusoidal_encoding(max_len, d_model)
    assert pe.shape == (50, 16) and pe.dtype == torch.float32
    for pos in (0, 1, 7, 49):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 8))
    assert pe.abs().max() <= 1.0


def test_sinusoidal_encoding_with_odd_d_model():
    pe = sinusoidal_encoding(6, 5)  # 3 sine columns, 2 cosine columns
    assert pe.shape == (6, 5)
    for pos in range(6):
        for column in range(5):
            angle = pos / 10000 ** ((column - column % 2) / 5)
            expected = math.sin(angle) if column % 2 == 0 else math.cos(angle)
            assert pe[pos, column].item() == pytest.approx(expected, abs=1e-6)


def test_similarity_depends_on_the_distance_not_the_position():
    pe = sinusoidal_encoding(100, 64)
    for offset in (1, 5, 20):
        dots = torch.stack([pe[p] @ pe[p + offset] for p in range(0, 60, 7)])
        torch.testing.assert_close(dots, dots[:1].expand_as(dots), atol=1e-3, rtol=1e-4)
    assert pe[10] @ pe[11] > pe[10] @ pe[30], "nearby positions are more alike"


@pytest.mark.parametrize(("max_len", "d_model"), [(0, 8), (8, 0), (-1, 4)])
def test_sinusoidal_encoding_refuses_bad_sizes(max_len, d_model):
    with pytest.raises(CourseLibError, match="max_len >= 1 and d_model >= 1"):
        sinusoidal_encoding(max_len, d_model)


def test_positional_encoding_adds_the_table():
    layer = PositionalEncoding(d_model=8, max_len=20)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(layer(x), x + sinusoidal_encoding(20, 8)[:5])
    torch.testing.assert_close(layer(x[:, :1], start=4), x[:, :1] + sinusoidal_encoding(20, 8)[4])
    assert "encoding" not in layer.state_dict(), "a fixed table, not saved in checkpoints"


def test_positional_encoding_dropout_only_in_training():
    layer = PositionalEncoding(d_model=8, max_len=10, dropout=0.5)
    x = torch.randn(2, 5, 8)
    layer.eval()
    torch.testing.assert_close(layer(x), x + sinusoidal_encoding(10, 8)[:5])
    layer.train()
    torch.manual_seed(0)
    assert (layer(x) == 0).any()


def test_sequence_longer_than_max_len_names_the_limit():
    layer = PositionalEncoding(d_model=8, max_len=16)
    layer(torch.zeros(1, 16, 8))  # exactly max_len is fine
    with pytest.raises(CourseLibError, match="length 17 .* maximum of 16 positions"):
        layer(torch.zeros(1, 17, 8))
    with pytest.raises(CourseLibError, match="max_len=16"):
        layer(torch.zeros(1, 1, 8), start=16)


@pytest.mark.parametrize(
    ("shape", "message"),
    [((5, 8), r"expects \(batch, seq_len, 8\), got \(5, 8\)"), ((1, 5, 6), r"got \(1, 5, 6\)")],
)
def test_positional_encoding_refuses_wrong_shapes(shape, message):
    with pytest.raises(ShapeError, match=message):
        PositionalEncoding(d_model=8)(torch.zeros(shape))


def test_positional_encoding_refuses_a_bad_start():
    with pytest.raises(CourseLibError, match="start must be an integer >= 0, got -1"):
        PositionalEncoding(d_model=8)(torch.zeros(1, 2, 8), start=-1)


def test_embedding_then_positions_tell_word_order_apart():
    """Without positions, "I love pizza" and "pizza love I" are the same bag of vectors."""
    torch.manual_seed(0)
    embed, positions = TokenEmbedding(10, 8), PositionalEncoding(8)
    forward, backward = torch.tensor([[4, 5, 6]]), torch.tensor([[6, 5, 4]])
    torch.testing.assert_close(embed(backward), embed(forward).flip(1))  # same vectors, reordered
    with_positions = positions(embed(forward)), positions(embed(backward))
    assert not torch.allclose(with_positions[1], with_positions[0].flip(1))

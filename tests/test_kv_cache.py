"""The key/value cache (course_lib.kv_cache)."""

from __future__ import annotations

import pytest
import torch

from course_lib.errors import ShapeError
from course_lib.kv_cache import KVCache, LayerCache, new_cache, reorder_cache


def test_self_attention_cache_appends_positions():
    cache = KVCache()
    assert not cache.ready
    k, v = cache.append(torch.zeros(2, 4, 1, 8), torch.ones(2, 4, 1, 8))
    assert k.shape == (2, 4, 1, 8)
    k, v = cache.append(torch.zeros(2, 4, 1, 8), torch.ones(2, 4, 1, 8))
    assert k.shape == v.shape == cache.keys.shape == (2, 4, 2, 8)
    assert not cache.ready  # self-attention keeps growing


def test_static_cache_is_filled_once():
    cache = KVCache(static=True)
    cache.append(torch.zeros(2, 4, 6, 8), torch.ones(2, 4, 6, 8))
    assert cache.ready and cache.keys.shape == (2, 4, 6, 8)


def test_new_cache_has_one_layer_cache_per_layer():
    cache = new_cache(3)
    assert len(cache) == 3 and all(isinstance(layer, LayerCache) for layer in cache)
    assert not cache[0].self_attn.static and cache[0].cross_attn.static
    assert cache[0].self_attn is not cache[1].self_attn


def test_reorder_keeps_the_chosen_rows_and_skips_empty_caches():
    cache = new_cache(2)
    rows = torch.arange(3.0)[:, None, None, None]
    cache[0].self_attn.append(rows, rows * 10)
    reorder_cache(cache, torch.tensor([1, 1, 0]))
    assert cache[0].self_attn.keys.flatten().tolist() == [1.0, 1.0, 0.0]
    assert cache[0].self_attn.values.flatten().tolist() == [10.0, 10.0, 0.0]
    assert cache[1].self_attn.keys is None


@pytest.mark.parametrize("index", [torch.tensor([[0, 1]]), torch.tensor([0.0]), [0, 1]])
def test_reorder_rejects_a_bad_index(index):
    with pytest.raises(ShapeError, match="index must be a 1-D int64 tensor"):
        reorder_cache(new_cache(1), index)

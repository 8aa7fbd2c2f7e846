"""course_lib: the encoder-decoder Transformer, built step by step.

Modules map onto the seven steps of the course (CONTRIBUTING.md has the full table):

1. ``data``        paired sentences (the grammar corpus, the Tatoeba loader, splits)
2. ``tokenize``, ``embedding``, ``batching``   tokens, vectors, positions, padding
3. ``attention``, ``encoder``, ``config``     Q/K/V attention and the encoder stack
4. ``masks``, ``decoder``, ``model``, ``interop``   the decoder and the full model
5. ``generate``, ``kv_cache``, ``beam``, ``sampling``   greedy decoding, the key/value
   cache, beam search, sampling
6. ``loss``, ``optim``, ``runtime``, ``trainer``, ``callbacks``, ``recipes``, ``checkpoint``
   teacher forcing and the loss, the schedule, the training loop and its presets
7. ``translate``, ``evaluate``, ``attention_maps``   translation, the one scoring path,
   attention pictures

``checks`` validates arguments at the public edges, ``errors`` holds the one exception
type, ``viz`` and ``notebook`` draw, ``cli`` and ``commands`` are ``course-lib``.
"""

from course_lib.errors import CourseLibError

__version__ = "0.5.0"

__all__ = ["CourseLibError", "__version__"]

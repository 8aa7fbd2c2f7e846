"""course_lib: the encoder-decoder Transformer, built step by step.

Modules map onto the seven steps of the course:

1. ``data``        paired sentences (bundled grammar corpus, Tatoeba loader, splits)
2. ``tokenize``, ``embedding``, ``batching``   tokens, vectors, positions, padding
3. ``attention``, ``encoder``, ``config``     Q/K/V attention and the encoder stack
4. ``masks``, ``decoder``, ``model``, ``interop``   the decoder and the full model
5. ``generate``    greedy decoding, key/value cache, beam search, sampling
6. ``train``, ``checkpoint``   teacher forcing, label smoothing, the training loop
7. ``translate``   translation, BLEU/chrF evaluation, attention pictures
"""

from course_lib.errors import CourseLibError

__version__ = "0.2.0"

__all__ = ["CourseLibError", "__version__"]

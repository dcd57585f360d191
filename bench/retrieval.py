"""search_wikipedia's retrieval at scale: binary first stage + int8 rescoring (the real
SearchIndex code) against exact float32 search — recall@10, query latency, memory — and
index build throughput on the demo corpus.

The large set is synthetic: vectors drawn from a Gaussian with the mean and covariance
of real all-MiniLM-L6-v2 embeddings (every sentence and passage of the demo corpus),
normalised like the model's output. Queries come from the same distribution. No
topical clusters, so neighbours are less separated than in real text: a hard case for
binary codes.

Run alone: python bench/retrieval.py [--size 1000000] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine, median

from gba_tools_search.corpus import open_source, split_passages
from gba_tools_search.embed import load_embedder
from gba_tools_search.index import (
    FORMAT_VERSION,
    SearchIndex,
    quantization_ranges,
    quantize_binary,
    quantize_int8,
)
from gba_tools_search.index_build import BuildOptions, build_index
from gba_tools_search.wikipedia import demo_corpus

CHUNK = 100_000


def real_embeddings() -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of every passage and sentence of the demo corpus, and which document
    each came from."""
    texts, docs = [], []
    for number, doc in enumerate(open_source(demo_corpus())):
        for passage in split_passages(doc.text):
            pieces = [passage, *(s for s in re.split(r"(?<=[.!?])\s+", passage) if len(s) > 20)]
            texts.extend(pieces)
            docs.extend([number] * len(pieces))
    return load_embedder("").encode(texts), np.asarray(docs)


def _psd_factor(cov: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    return vectors * np.sqrt(np.clip(values, 1e-8, None))


def sampler(real: np.ndarray, docs: np.ndarray, model: str, seed: int):
    """``draw(n) -> (vectors, topics)``. "gaussian": one Gaussian with the corpus's mean
    and covariance. "documents": a document mean drawn from the between-document part of
    the covariance, then passages around it from the within-document part (both fitted
    on the demo corpus), 20 passages a document, like an encyclopedia's articles."""
    rng = np.random.default_rng(seed)
    mean = real.mean(axis=0)
    total = np.cov(real, rowvar=False)
    residual = real - np.stack([real[docs == d].mean(axis=0) for d in docs])
    within = np.cov(residual, rowvar=False)
    dim = real.shape[1]

    def normal(n: int, factor: np.ndarray) -> np.ndarray:
        return rng.standard_normal((n, dim)).astype(np.float32) @ factor.T.astype(np.float32)

    def unit(x: np.ndarray) -> np.ndarray:
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    if model == "gaussian":
        factor = _psd_factor(total)
        return lambda n: unit(mean + normal(n, factor))
    between, inside = _psd_factor(total - within), _psd_factor(within)
    centers: list[np.ndarray] = []

    def draw(n: int) -> np.ndarray:
        new = unit(mean + normal(max(1, n // 20), between))
        centers.append(new)
        topics = np.repeat(new, 20, axis=0)[:n]
        return unit(topics + normal(len(topics), inside))

    def queries(n: int) -> np.ndarray:
        pool = np.concatenate(centers)
        return unit(pool[rng.integers(0, len(pool), n)] + normal(n, inside))

    draw.queries = queries  # type: ignore[attr-defined]
    return draw


def write_index(out: Path, vectors: np.ndarray, ranges: np.ndarray, center: np.ndarray) -> None:
    """The index files of SearchIndex, written from vectors (no texts needed here)."""
    for start in range(0, len(vectors), CHUNK):
        part = vectors[start : start + CHUNK]
        with open(out / "binary.u8", "ab") as f:
            f.write(quantize_binary(part, center).tobytes())
        with open(out / "int8.i8", "ab") as f:
            f.write(quantize_int8(part, ranges).tobytes())
    for name in ("binary.u8", "int8.i8"):
        # Out of the page cache, as after a reboot: what a search then maps is what it
        # touched, not what writing the file left cached.
        with open(out / name, "rb") as f:
            os.fsync(f.fileno())
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    db = sqlite3.connect(out / "index.sqlite")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    meta = {
        "format_version": FORMAT_VERSION,
        "model": "synthetic",
        "dim": vectors.shape[1],
        "passages": len(vectors),
        "documents": 0,
        "complete": 1,
        "ranges": json.dumps(ranges.tolist()),
        "center": json.dumps(center.tolist()),
    }
    db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
    db.commit()
    db.close()


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(vectors), CHUNK):
        scores = queries @ vectors[start : start + CHUNK].T
        ids = np.argpartition(-scores, k, axis=1)[:, :k]
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, ids, axis=1)])
        best_ids = np.hstack([best_ids, ids + start])
        keep = np.argsort(-best_scores, axis=1)[:, :k]
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
        best_ids = np.take_along_axis(best_ids, keep, axis=1)
    return best_ids


def mapped_rss(path: Path) -> int:
    """Resident bytes of this process's mappings of ``path`` (pages actually touched)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = line.rstrip().endswith(str(path))
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1]) * 1024
    return total


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def retrieval(size: int, n_queries: int, model: str, seed: int) -> None:
    real, docs = real_embeddings()
    draw = sampler(real, docs, model, seed)
    print(
        f"\n## model {model!r}: fitted on {len(real)} real embeddings; "
        f"{size:,} synthetic vectors × {real.shape[1]}"
    )
    vectors = np.concatenate([draw(min(CHUNK, size - s)) for s in range(0, size, CHUNK)])
    queries = draw.queries(n_queries) if hasattr(draw, "queries") else draw(n_queries)
    ranges, center = quantization_ranges(vectors[:2048]), vectors[:2048].mean(axis=0)
    truth = exact_top(vectors, queries, 10)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_index(out, vectors, ranges, center)
        index = SearchIndex(out)
        # Memory first, on fresh maps: the pages the default setting (×4) touches.
        for q in queries:
            index.search(q, 10, 4)
        touched = mapped_rss(out / "int8.i8")
        print(f"\n# recall@10 and latency vs rescore multiplier ({n_queries} queries)")
        print("| rescore multiplier | candidates | recall@10 | p50 ms | p95 ms |")
        print("|---:|---:|---:|---:|---:|")
        for multiplier in (1, 4, 10, 25, 50, 100):
            found, seconds = [], []
            for q in queries:
                start = time.perf_counter()
                hits = index.search(q, 10, multiplier)
                seconds.append((time.perf_counter() - start) * 1000)
                found.append([pid for pid, _ in hits])
            recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
            print(
                f"| {multiplier} | {10 * multiplier} | {recall:.3f} | "
                f"{percentile(seconds, 50):.2f} | {percentile(seconds, 95):.2f} |"
            )
        exact = []
        for q in queries[:30]:
            start = time.perf_counter()
            scores = vectors @ q
            np.argpartition(-scores, 10)[:10]
            exact.append((time.perf_counter() - start) * 1000)
        float_bytes = vectors.nbytes
        binary_bytes = index.binary.nbytes
        print("\n# memory and exact float32 search")
        print(f"exact float32 search p50 {median(exact):.1f} ms (numpy matvec, all in RAM)")
        print(f"float32 vectors       {float_bytes / 2**20:8.1f} MiB")
        print(
            f"binary index (RAM)    {binary_bytes / 2**20:8.1f} MiB  "
            f"({binary_bytes / float_bytes:.4f} of float32)"
        )
        print(
            f"int8 rows (mmap)      {index.int8.nbytes / 2**20:8.1f} MiB on disk, "
            f"{touched / 2**20:.1f} MiB resident after {len(queries)} queries at ×4"
        )
        print(
            f"in memory             {(binary_bytes + touched) / float_bytes:.4f} of float32 "
            "(binary + int8 pages touched at the default ×4)"
        )
        index.close()


def build_throughput(runs: int) -> None:
    embedder = load_embedder("")
    embedder.encode(["warm up"])
    rates = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            counts = build_index(open_source(demo_corpus()), Path(tmp), options=BuildOptions())
            rates.append(counts["passages"] / (time.perf_counter() - start))
    print(
        f"\n# index build on the demo corpus ({counts['passages']} passages, model loaded)\n"
        f"median of {runs}: {median(rates):.0f} passages/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=["documents", "gaussian"], action="append")
    args = parser.parse_args()
    print(f"# retrieval ({machine()})")
    for model in args.model or ["documents", "gaussian"]:
        retrieval(args.size, args.queries, model, args.seed)
    if args.runs:
        build_throughput(args.runs)


if __name__ == "__main__":
    main()

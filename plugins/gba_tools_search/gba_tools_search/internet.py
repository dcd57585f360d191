"""search_internet: a SearXNG instance's JSON API, the top pages fetched and read, the
most relevant passages of each page summarised, and one answer.

Pages are untrusted: each fetch has a total deadline, a size cap, a content-type check
and a bounded number of redirects, and (unless ``fetch_private_addresses``) no link may
lead into a private, loopback or link-local network. Every failure becomes part of the
observation; nothing here raises into the agent for a bad page or an unreachable service.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from gba_core.schema import Scratchpad
from gba_core.tools import Tool, ToolContext

from .answer import Found, answer
from .corpus import split_passages
from .settings import setting

DESCRIPTION = (
    "Search the internet for up-to-date or specialised information: news, prices, "
    "opening hours, product details, recent events. The task is a question or topic in "
    "plain words; the result is a short answer with the web pages it came from."
)
HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown")


class FetchError(Exception):
    pass


@dataclass
class SearchResult:
    url: str
    title: str
    snippet: str


@dataclass
class FetchLimits:
    timeout: float = 10.0
    max_bytes: int = 2_000_000
    max_redirects: int = 3
    allow_private: bool = False
    user_agent: str = "gba-search/0.1"

    @classmethod
    def from_settings(cls) -> FetchLimits:
        return cls(
            timeout=float(setting("fetch_timeout")),
            max_bytes=int(setting("max_page_bytes")),
            max_redirects=int(setting("max_redirects")),
            allow_private=bool(setting("fetch_private_addresses")),
            user_agent=str(setting("user_agent")),
        )


def searxng_search(endpoint: str, query: str, *, timeout: float = 10.0) -> list[SearchResult]:
    """Results of SearXNG's ``/search?format=json`` (needs ``json`` in the instance's
    ``search.formats``). Raises ``FetchError`` with a reason the planner can use."""
    import httpx

    url = endpoint.rstrip("/") + "/search"
    try:
        response = httpx.get(url, params={"q": query, "format": "json"}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise FetchError(f"the search service at {endpoint} could not be reached ({exc})") from None
    if response.status_code == 403:
        raise FetchError(
            f"the search service at {endpoint} refused JSON output (enable the json format "
            "in SearXNG's settings.yml, search.formats)"
        )
    if response.status_code >= 400:
        raise FetchError(f"the search service at {endpoint} answered HTTP {response.status_code}")
    try:
        results = response.json().get("results", [])
    except (ValueError, AttributeError):
        raise FetchError(f"the search service at {endpoint} did not answer JSON") from None
    return [
        SearchResult(str(r.get("url", "")), str(r.get("title", "")), str(r.get("content", "")))
        for r in results
        if isinstance(r, dict) and str(r.get("url", "")).startswith(("http://", "https://"))
    ]


def _check_address(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) link: {url}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"cannot resolve {parts.hostname} ({exc})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(f"{parts.hostname} is in a private network; not fetched")


def fetch_page(client: Any, url: str, limits: FetchLimits) -> tuple[str, bytes, bool]:
    """(content type, body, truncated) of the page at ``url``, following at most
    ``max_redirects`` redirects, within ``timeout`` seconds in all."""
    import httpx

    deadline = time.monotonic() + limits.timeout
    for _ in range(limits.max_redirects + 1):
        _check_address(url, limits.allow_private)
        try:
            with client.stream("GET", url) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in HTML_TYPES + TEXT_TYPES:
                    raise FetchError(f"not a web page ({kind or 'no content type'})")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= limits.max_bytes:
                        return kind, bytes(body[: limits.max_bytes]), True
                    if time.monotonic() > deadline:
                        raise FetchError(f"timed out after {limits.timeout:g} s")
                return kind, bytes(body), False
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {limits.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"could not be fetched ({type(exc).__name__})") from None
    raise FetchError(f"more than {limits.max_redirects} redirects")


def page_text(kind: str, body: bytes) -> str:
    if kind in TEXT_TYPES:
        return body.decode("utf-8", errors="replace")
    import trafilatura

    return trafilatura.extract(body, include_comments=False, include_tables=False) or ""


def read_pages(results: list[SearchResult], limits: FetchLimits) -> list[str | FetchError]:
    """The main text of each result's page (or why it could not be read), fetched
    concurrently."""
    import httpx

    def read(result: SearchResult) -> str | FetchError:
        try:
            kind, body, _ = fetch_page(client, result.url, limits)
            return page_text(kind, body)
        except FetchError as exc:
            return exc

    timeout = httpx.Timeout(limits.timeout)
    headers = {"User-Agent": limits.user_agent}
    with (
        httpx.Client(timeout=timeout, headers=headers, follow_redirects=False) as client,
        ThreadPoolExecutor(max_workers=max(1, len(results))) as pool,
    ):
        return list(pool.map(read, results))


def best_nodes(query: str, text: str, k: int, max_nodes: int) -> list[str]:
    """The ``k`` passages of ``text`` most relevant to ``query``, in page order."""
    import numpy as np

    from .embed import load_embedder, load_reranker

    nodes = split_passages(text.replace("\n", "\n\n"), max_chars=600, min_chars=120)[:max_nodes]
    if len(nodes) <= k:
        return nodes
    reranker = load_reranker(setting("reranker"))
    if reranker:
        scores = reranker.score(query, nodes)
    else:
        embedder = load_embedder(setting("embedding_model"))
        vectors = embedder.encode([query, *nodes])
        scores = vectors[1:] @ vectors[0]
    keep = sorted(np.argsort(-scores, kind="stable")[:k])
    return [nodes[i] for i in keep]


class SearchInternet(Tool):
    name = "search_internet"
    description = DESCRIPTION

    def __init__(self, endpoint: str | None = None, *, snippets_only: bool | None = None) -> None:
        self.endpoint = endpoint
        self.snippets_only = snippets_only

    def documents(self, query: str) -> list[Found]:
        """Search, read the top pages and keep their best passages; raises FetchError
        when the search itself fails."""
        endpoint = self.endpoint or setting("searxng_url")
        if not endpoint:
            raise FetchError(
                "search_internet has no search service configured (set searxng_url in "
                "gba.toml [search] or GBA_SEARXNG_URL to a SearXNG instance)"
            )
        limits = FetchLimits.from_settings()
        results = searxng_search(endpoint, query, timeout=limits.timeout)
        results = results[: int(setting("top_k_documents"))]
        snippets_only = (
            setting("snippets_only") if self.snippets_only is None else self.snippets_only
        )
        if snippets_only or not results:
            return [Found(r.title, r.url, snippet=r.snippet) for r in results]
        found = []
        for result, text in zip(results, read_pages(results, limits), strict=True):
            passages = []
            if isinstance(text, str) and text.strip():
                k, cap = (
                    int(setting("top_k_nodes_per_document")),
                    int(setting("max_nodes_per_document")),
                )
                passages = best_nodes(query, text, k, cap)
            if passages or result.snippet:
                found.append(Found(result.title, result.url, passages, snippet=result.snippet))
        return found

    def run(self, request: str, task: str, scratchpad: Scratchpad, ctx: ToolContext) -> str:
        query = " ".join(task.split())
        if not query:
            return "Error: the search task is empty; say what to look up."
        try:
            docs = self.documents(query)
        except FetchError as exc:
            return f"Error: {exc}"
        if not docs:
            return "Nothing was found on the internet for this search."
        return answer(ctx, query, docs)

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
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from gba_core.roles import ToolRole
from gba_core.schema import Scratchpad
from gba_core.tools import Tool, ToolContext, ToolOptions

from .answer import Found, answer, roles_in_use
from .corpus import split_passages
from .settings import FetchLimits, settings

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


def _public(endpoint: str) -> str:
    """The endpoint without user:password@, for messages that reach the planner."""
    parts = urlsplit(endpoint)
    if parts.username is None and parts.password is None:
        return endpoint
    host = parts.hostname or ""
    return parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")).geturl()


def searxng_search(endpoint: str, query: str, *, timeout: float = 10.0) -> list[SearchResult]:
    """Results of SearXNG's ``/search?format=json`` (needs ``json`` in the instance's
    ``search.formats``). Raises ``FetchError`` with a reason the planner can use."""
    import httpx

    where = _public(endpoint)
    url = endpoint.rstrip("/") + "/search"
    try:
        response = httpx.get(url, params={"q": query, "format": "json"}, timeout=timeout)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        reason = type(exc).__name__
        raise FetchError(f"the search service at {where} could not be reached ({reason})") from None
    if response.status_code == 403:
        raise FetchError(
            f"the search service at {where} refused JSON output (enable the json format "
            "in SearXNG's settings.yml, search.formats)"
        )
    if response.status_code >= 400:
        raise FetchError(f"the search service at {where} answered HTTP {response.status_code}")
    try:
        results = response.json().get("results", [])
    except (ValueError, AttributeError):
        raise FetchError(f"the search service at {where} did not answer JSON") from None
    if not isinstance(results, list):
        raise FetchError(f"the search service at {where} answered without a result list")
    return [
        SearchResult(str(r.get("url", "")), str(r.get("title", "")), str(r.get("content", "")))
        for r in results
        if isinstance(r, dict) and str(r.get("url", "")).startswith(("http://", "https://"))
    ]


def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses ``host`` resolves to."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _check_address(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) links and, unless allowed, hosts that resolve into private,
    loopback or link-local networks. The host is taken as httpx will send it (IDNA 2008
    ASCII form), so the name checked is the name connected to."""
    import httpx

    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise FetchError(f"not a valid link: {url[:200]}") from None
    if parsed.scheme not in ("http", "https") or not host:
        raise FetchError(f"not an http(s) link: {url[:200]}")
    if allow_private:
        return
    try:
        addresses = resolve(host, port or 443)
    except (OSError, UnicodeError, ValueError) as exc:
        raise FetchError(f"cannot resolve {host} ({type(exc).__name__})") from None
    for address in addresses:
        if not address.is_global:
            raise FetchError(f"{host} is in a private network; not fetched")


def _body(response: Any, limits: FetchLimits, deadline: float) -> tuple[bytes, bool]:
    """At most ``max_bytes`` of the decoded body, decompressing step by step so a
    compressed bomb never expands past the cap."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        decoder: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    elif encoding in ("", "identity"):
        decoder = None
    else:
        raise FetchError(f"unsupported content encoding {encoding!r}")
    body = bytearray()
    for raw in response.iter_raw():
        while raw:
            room = limits.max_page_bytes - len(body)
            if decoder is None:
                piece, raw = raw[:room], b""
            else:
                piece = decoder.decompress(raw, room)
                raw = decoder.unconsumed_tail
            body += piece
            if len(body) >= limits.max_page_bytes:
                return bytes(body), True
        if time.monotonic() > deadline:
            raise FetchError(f"timed out after {limits.fetch_timeout:g} s")
    return bytes(body), False


def fetch_page(client: Any, url: str, limits: FetchLimits) -> tuple[str, bytes, bool]:
    """(content type, body, truncated) of the page at ``url``, following at most
    ``max_redirects`` redirects. Each request gets only the time left of ``timeout``;
    ``read_pages`` also bounds the whole fetch by the wall clock."""
    import httpx

    deadline = time.monotonic() + limits.fetch_timeout
    for _ in range(limits.max_redirects + 1):
        _check_address(url, limits.fetch_private_addresses)
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError(f"timed out after {limits.fetch_timeout:g} s")
        try:
            with client.stream("GET", url, timeout=left) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in HTML_TYPES + TEXT_TYPES:
                    raise FetchError(f"not a web page ({kind or 'no content type'})")
                body, truncated = _body(response, limits, deadline)
                return kind, body, truncated
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {limits.fetch_timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, zlib.error) as exc:
            raise FetchError(f"could not be fetched ({type(exc).__name__})") from None
    raise FetchError(f"more than {limits.max_redirects} redirects")


def page_text(kind: str, body: bytes) -> str:
    if kind in TEXT_TYPES:
        return body.decode("utf-8", errors="replace")
    import trafilatura

    return trafilatura.extract(body, include_comments=False, include_tables=False) or ""


def read_pages(results: list[SearchResult], limits: FetchLimits) -> list[str | FetchError]:
    """The main text of each result's page (or why it could not be read), fetched
    concurrently, all within ``timeout`` seconds of wall-clock time (plus a second): a
    server that drips headers byte by byte cannot hold the tool."""
    from concurrent.futures import wait

    import httpx

    def read(result: SearchResult) -> str | FetchError:
        try:
            kind, body, _ = fetch_page(client, result.url, limits)
            return page_text(kind, body)
        except FetchError as exc:
            return exc
        except Exception as exc:  # a page must never take the search down with it
            return FetchError(f"could not be read ({type(exc).__name__})")

    headers = {"User-Agent": limits.user_agent, "Accept-Encoding": "gzip, deflate"}
    client = httpx.Client(
        timeout=httpx.Timeout(limits.fetch_timeout), headers=headers, follow_redirects=False
    )
    pool = ThreadPoolExecutor(max_workers=max(1, len(results)))
    try:
        futures = [pool.submit(read, result) for result in results]
        wait(futures, timeout=limits.fetch_timeout + 1.0)
        return [
            f.result() if f.done() else FetchError(f"timed out after {limits.fetch_timeout:g} s")
            for f in futures
        ]
    finally:
        # Stragglers are abandoned: closing the client closes their sockets.
        pool.shutdown(wait=False, cancel_futures=True)
        client.close()


def best_nodes(query: str, text: str, k: int, max_nodes: int) -> list[str]:
    """The ``k`` passages of ``text`` most relevant to ``query``, in page order."""
    import numpy as np

    from .embed import load_embedder, load_reranker

    nodes = split_passages(text.replace("\n", "\n\n"), max_chars=600, min_chars=120)[:max_nodes]
    if len(nodes) <= k:
        return nodes
    config = settings()
    reranker = load_reranker(config.reranker)
    if reranker:
        scores = reranker.score(query, nodes)
    else:
        embedder = load_embedder(config.embedding_model)
        vectors = embedder.encode([query, *nodes])
        scores = vectors[1:] @ vectors[0]
    keep = sorted(np.argsort(-scores, kind="stable")[:k])
    return [nodes[i] for i in keep]


class SearchInternet(Tool):
    name = "search_internet"
    description = DESCRIPTION

    @property
    def roles(self) -> tuple[ToolRole, ...]:  # type: ignore[override]
        return roles_in_use()

    def __init__(self, endpoint: str | None = None, *, snippets_only: bool | None = None) -> None:
        self.endpoint = endpoint
        self.snippets_only = snippets_only

    def unavailable(self, *, interactive: bool, options: ToolOptions) -> str | None:
        if self.endpoint or settings().searxng_url:
            return None
        return "no SearXNG instance configured (searxng_url in gba.toml [search], GBA_SEARXNG_URL)"

    def documents(self, query: str) -> list[Found]:
        """Search, read the top pages and keep their best passages; raises FetchError
        when the search itself fails."""
        config = settings()
        endpoint = self.endpoint or config.searxng_url
        if not endpoint:
            raise FetchError(
                "search_internet has no search service configured (set searxng_url in "
                "gba.toml [search] or GBA_SEARXNG_URL to a SearXNG instance)"
            )
        limits = config.fetch
        results = searxng_search(endpoint, query, timeout=limits.fetch_timeout)
        results = results[: config.top_k_documents]
        snippets_only = config.snippets_only if self.snippets_only is None else self.snippets_only
        if snippets_only or not results:
            return [Found(r.title, r.url, snippet=r.snippet) for r in results]
        found = []
        for result, text in zip(results, read_pages(results, limits), strict=True):
            passages = []
            if isinstance(text, str) and text.strip():
                k, cap = config.top_k_nodes_per_document, config.max_nodes_per_document
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
        return answer(ctx, query, docs, request)

"""search_internet against a loopback server speaking SearXNG's JSON API and serving
the result pages (SearXNG itself is not installable from the package registries)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from gba_core.tools import ToolContext, ToolOptions
from gba_tools_search.internet import FetchError, FetchLimits, SearchInternet, fetch_page

ARTICLE = """<html><head><title>Lighthouse</title></head><body>
<nav>Home | About | Contact</nav>
<article><h1>The Bell Rock Lighthouse</h1>
<p>The Bell Rock Lighthouse stands on a reef off the coast of Angus in Scotland. It was built
between 1807 and 1810 by Robert Stevenson and is the oldest surviving sea-washed lighthouse
in the world.</p>
<p>The tower of the Bell Rock Lighthouse is 35 metres tall. Its light was first lit on
1 February 1811 and could be seen from 35 miles away in clear weather.</p>
<p>Visitors cannot land on the reef, but boat trips from Arbroath pass close to the tower in
summer, and the signal tower museum in Arbroath tells the story of its construction.</p>
</article><footer>Copyright notice and cookie banner text.</footer></body></html>"""
HUGE = 50 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, kind, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = urlsplit(self.path)
        self.server.requests.append(parts.path)
        if parts.path == "/search":
            query = parse_qs(parts.query)
            if query.get("format") != ["json"]:
                return self.send(403, "text/html", b"Forbidden")
            results = [
                {"url": self.server.base + path, "title": title, "content": snippet}
                for path, title, snippet in self.server.results
            ]
            body = json.dumps({"query": query["q"][0], "results": results}).encode()
            return self.send(200, "application/json", body)
        if parts.path == "/good":
            return self.send(200, "text/html; charset=utf-8", ARTICLE.encode())
        if parts.path == "/notes.txt":
            return self.send(200, "text/plain", b"The light flashes white once every 5 seconds.")
        if parts.path == "/report.pdf":
            return self.send(200, "application/pdf", b"%PDF-1.4 binary")
        if parts.path == "/to-local":
            port = self.server.server_address[1]
            return self.send(302, "text/html", b"", [("Location", f"http://localhost:{port}/good")])
        if parts.path == "/gzip-bomb":
            import gzip

            body = gzip.compress(b"<p>" + b"a" * 30_000_000 + b"</p>")
            return self.send(200, "text/html", body, [("Content-Encoding", "gzip")])
        if parts.path == "/drip":
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                for _ in range(120):  # one header byte at a time, each within the timeout
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.25)
            except (BrokenPipeError, ConnectionResetError):
                self.server.drip_aborted = True
            return None
        if parts.path == "/moved":
            return self.send(302, "text/html", b"", [("Location", "/good")])
        if parts.path == "/loop":
            return self.send(302, "text/html", b"", [("Location", "/loop")])
        if parts.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            for _ in range(60):  # a trickle that never finishes within the deadline
                self.wfile.write(b"<p>slow</p>")
                self.wfile.flush()
                time.sleep(0.1)
            return None
        if parts.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(HUGE))
            self.end_headers()
            chunk = b"<p>" + b"x" * 65530 + b"</p>"
            try:
                for _ in range(HUGE // len(chunk)):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.server.huge_aborted = True
            return None
        return self.send(404, "text/html", b"not found")


@pytest.fixture
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    server.requests, server.results = [], []
    server.huge_aborted = server.drip_aborted = False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback_allowed(monkeypatch):
    monkeypatch.setenv("GBA_FETCH_PRIVATE_ADDRESSES", "1")
    monkeypatch.setenv("GBA_FETCH_TIMEOUT", "2")


def limits(**overrides):
    return FetchLimits(**{"fetch_timeout": 2.0, "fetch_private_addresses": True, **overrides})


def fetch(site, path, **overrides):
    import httpx

    with httpx.Client(timeout=2.0) as client:
        return fetch_page(client, site.base + path, limits(**overrides))


def test_pages_are_fetched_within_their_limits(site):
    kind, body, truncated = fetch(site, "/moved")
    assert kind == "text/html" and b"Bell Rock" in body and not truncated
    with pytest.raises(FetchError, match="not a web page \\(application/pdf\\)"):
        fetch(site, "/report.pdf")
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch(site, "/loop")
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(site, "/missing")
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out after 1 s"):
        fetch(site, "/slow", fetch_timeout=1.0)
    assert time.monotonic() - started < 3


def test_a_50_mb_page_is_cut_at_the_size_cap(site):
    started = time.monotonic()
    _, body, truncated = fetch(site, "/huge", max_page_bytes=1_000_000)
    assert truncated and len(body) == 1_000_000
    assert time.monotonic() - started < 10
    for _ in range(50):  # the server sees the connection dropped, not the page read out
        if site.huge_aborted:
            break
        time.sleep(0.1)
    assert site.huge_aborted


def test_a_compressed_page_expands_only_up_to_the_cap(site):
    _, body, truncated = fetch(site, "/gzip-bomb", max_page_bytes=1_000_000)
    assert truncated and len(body) == 1_000_000 and body.startswith(b"<p>aaa")


def test_a_server_dripping_headers_cannot_hold_the_search(site, loopback_allowed):
    site.results = [("/drip", "Drip", ""), ("/good", "Bell Rock Lighthouse", "")]
    started = time.monotonic()
    docs = SearchInternet(site.base).documents("lighthouse")
    assert time.monotonic() - started < 2 + 1 + 2  # fetch_timeout 2 s, a second's grace
    assert [d.title for d in docs] == ["Bell Rock Lighthouse"]


def test_malformed_result_links_are_skipped_not_fatal(site, loopback_allowed):
    site.results = [("/good", "Bell Rock Lighthouse", "")]
    good = SearchInternet(site.base).documents("lighthouse")
    from gba_tools_search import internet

    for bad in ("http://x:99999/", "http://[::1/", "http://" + "a" * 70 + ".example/"):
        with pytest.raises(FetchError):
            fetch_page(None, bad, limits(fetch_private_addresses=False))
    original = internet.searxng_search

    def with_bad_links(endpoint, query, timeout):
        return [
            internet.SearchResult("http://x:99999/", "Bad", ""),
            *original(endpoint, query, timeout=timeout),
        ]

    import unittest.mock

    with unittest.mock.patch.object(internet, "searxng_search", with_bad_links):
        docs = SearchInternet(site.base).documents("lighthouse")
    assert [d.title for d in docs] == [d.title for d in good]


def test_every_redirect_hop_is_checked_for_private_networks(site, monkeypatch):
    import ipaddress

    from gba_tools_search import internet

    real = internet.resolve

    def resolve(host, port):
        # 127.0.0.1 poses as a public address; "localhost" resolves for real.
        if host == "127.0.0.1":
            return [ipaddress.ip_address("93.184.216.34")]
        return real(host, port)

    monkeypatch.setattr(internet, "resolve", resolve)
    assert fetch(site, "/good", fetch_private_addresses=False)[0] == "text/html"
    with pytest.raises(FetchError, match="localhost is in a private network"):
        fetch(site, "/to-local", fetch_private_addresses=False)


def test_links_into_private_networks_are_refused_unless_allowed(site):
    with pytest.raises(FetchError, match="private network; not fetched"):
        fetch(site, "/good", fetch_private_addresses=False)
    with pytest.raises(FetchError, match="not an http"):
        fetch_page(None, "file:///etc/passwd", limits())


def test_search_reads_the_pages_and_answers_from_their_best_passages(
    site, loopback_allowed, search_llm
):
    site.results = [
        ("/good", "Bell Rock Lighthouse", "An old lighthouse off Scotland."),
        ("/notes.txt", "Light notes", "Light characteristics."),
        ("/report.pdf", "Annual report", "A PDF report."),
        ("/slow", "Slow page", ""),
    ]
    tool = SearchInternet(site.base)
    docs = tool.documents("When was the Bell Rock Lighthouse built?")
    by_title = {d.title: d for d in docs}
    good = by_title["Bell Rock Lighthouse"]
    assert any("between 1807 and 1810" in p for p in good.passages)
    assert not any("cookie banner" in p or "Home | About" in p for p in good.passages)
    assert by_title["Light notes"].passages == ["The light flashes white once every 5 seconds."]
    assert by_title["Annual report"].passages == []  # kept for its snippet only
    assert "Slow page" not in by_title  # no text and no snippet
    out = tool.run("r", "When was the Bell Rock Lighthouse built?", [], ToolContext(llm=search_llm))
    assert out.startswith("ANSWER from 3 notes")
    assert "Sources: Bell Rock Lighthouse; Light notes; Annual report" in out
    assert '\nEvidence from "Bell Rock Lighthouse": The Bell Rock Lighthouse' in out


def test_top_k_documents_bounds_the_pages_read(site, loopback_allowed, monkeypatch):
    site.results = [(f"/good?{i}", f"Copy {i}", "") for i in range(6)]
    monkeypatch.setenv("GBA_TOP_K_DOCUMENTS", "2")
    docs = SearchInternet(site.base).documents("lighthouse")
    assert [d.title for d in docs] == ["Copy 0", "Copy 1"]
    assert site.requests.count("/good") == 2


def test_snippets_only_mode_fetches_no_page(site, loopback_allowed, search_llm):
    site.results = [("/good", "Bell Rock Lighthouse", "Built 1807-1810 by Robert Stevenson.")]
    out = SearchInternet(site.base, snippets_only=True).run(
        "r", "Who built the Bell Rock Lighthouse?", [], ToolContext(llm=search_llm)
    )
    assert site.requests == ["/search"]
    assert "Robert Stevenson" in out


def test_service_failures_are_observations_not_crashes(site, search_llm):
    ctx = ToolContext(llm=search_llm)
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = closed.server_address[1]
    closed.server_close()
    out = SearchInternet(f"http://me:s3cret@127.0.0.1:{port}").run("r", "anything", [], ctx)
    assert out.startswith("Error: the search service at") and "could not be reached" in out
    assert "s3cret" not in out and f"127.0.0.1:{port}" in out
    out = SearchInternet().run("r", "anything", [], ctx)
    assert "no search service configured" in out and "searxng_url" in out
    assert SearchInternet(site.base).run("r", "  ", [], ctx).startswith("Error: the search task")
    site.results = []
    assert SearchInternet(site.base).run("r", "zzz", [], ctx).startswith("Nothing was found")


def test_pages_that_all_fail_leave_the_snippets(site, loopback_allowed, search_llm):
    site.results = [
        ("/report.pdf", "Report", "The lighthouse is 35 metres tall."),
        ("/loop", "Loop", "It was first lit in 1811."),
    ]
    out = SearchInternet(site.base).run(
        "r", "How tall is the lighthouse?", [], ToolContext(llm=search_llm)
    )
    assert out.startswith("ANSWER from 2 notes") and "35 metres" in out


def test_private_result_links_are_not_fetched_by_default(site, search_llm):
    site.results = [("/good", "Bell Rock Lighthouse", "A lighthouse in Scotland.")]
    docs = SearchInternet(site.base).documents("lighthouse")
    assert "/good" not in site.requests  # the configured endpoint may be local, links not
    assert docs[0].passages == [] and docs[0].snippet == "A lighthouse in Scotland."


def test_without_a_searxng_url_the_tool_is_not_offered(monkeypatch, site):
    from gba_core.tools import offered_tools

    monkeypatch.delenv("GBA_SEARXNG_URL", raising=False)
    tools = {"search_internet": SearchInternet()}
    offered, reasons = offered_tools(tools, interactive=True, options=ToolOptions())
    assert offered == {} and "searxng_url" in reasons["search_internet"]
    monkeypatch.setenv("GBA_SEARXNG_URL", site.base)
    assert offered_tools(tools, interactive=True, options=ToolOptions())[0] == tools
    searxng = SearchInternet(endpoint=site.base)
    assert searxng.unavailable(interactive=False, options=ToolOptions()) is None

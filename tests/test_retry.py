"""Retries that wait (crawler/retry.py): backoff with jitter, `Retry-After` in both forms, the host
paused meanwhile, the event loop never blocked. A real Scrapy crawl (the project's settings, in its
own process) against a scripted HTTP server on loopback that records when each request arrived."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawler.retry import backoff_delay, retry_after_seconds

REPO = Path(__file__).resolve().parent.parent


# --- pure functions --------------------------------------------------------------------------------


def test_retry_after_in_seconds_and_as_an_http_date():
    now = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(b"120", now) == 120.0
    assert retry_after_seconds(" 7 ", now) == 7.0
    assert retry_after_seconds(b"Sun, 01 Mar 2026 08:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Sun, 01 Mar 2026 09:00:00 +0100", now) == 0.0  # the same instant
    assert retry_after_seconds("Sun, 01 Mar 2026 07:00:00 GMT", now) == 0.0  # in the past: now
    for bad in (None, b"", "soon", "-5", "1.5", "Sun, 99 Foo 2026"):
        assert retry_after_seconds(bad, now) is None, bad


def test_backoff_is_exponential_with_full_jitter_and_capped():
    rng = random.Random(1)
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 10.0)):
        draws = [backoff_delay(attempt, 0.5, 10.0, rng) for _ in range(400)]
        assert min(draws) >= 0 and max(draws) < ceiling
        assert max(draws) > 0.9 * ceiling and min(draws) < 0.1 * ceiling  # the whole range is used


# --- a real crawl ----------------------------------------------------------------------------------


class Scripted(ThreadingHTTPServer):
    """Answers each path from a script (a list of (status, headers) answers, the last repeated);
    records (path, host header, arrival time) of every request."""

    daemon_threads = True

    def __init__(self, script: dict[str, list[tuple[int, dict]]], slow: dict[str, float] | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script, self.slow = script, slow or {}
        self.seen: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    def arrivals(self, path: str, host: str = "") -> list[float]:
        return [t for p, h, t in self.seen if p == path and (not host or h.startswith(host))]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        srv: Scripted = self.server
        with srv.lock:
            srv.seen.append((self.path, self.headers.get("Host", ""), time.monotonic()))
            n = sum(1 for p, h, _ in srv.seen if p == self.path and h == self.headers.get("Host", ""))
        answers = srv.script.get(self.path, [(404, {})])
        status, headers = answers[min(n, len(answers)) - 1]
        headers = {k: (v() if callable(v) else v) for k, v in headers.items()}
        time.sleep(srv.slow.get(self.path, 0))
        body = f"<html><head><title>{self.path}</title></head><body><p>{status}</p></body></html>".encode()
        self.send_response(status)
        for k, v in {"Content-Type": "text/html; charset=utf-8", **headers, "Content-Length": str(len(body))}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def fetch(urls: list[str], tmp_path: Path, *settings: str, timeout: float = 120) -> dict:
    out = tmp_path / "fetch.json"
    cmd = [sys.executable, "-m", "scrapy", "runspider", str(REPO / "tests" / "fetch_spider.py"),
           "-a", "urls=" + ",".join(urls), "-a", f"out={out}", "-s", "DOWNLOAD_DELAY=0",
           "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=INFO", *settings]
    env = {**os.environ, "PYTHONPATH": str(REPO), "SCRAPY_SETTINGS_MODULE": "crawler.settings"}
    env.pop("MIRROR_URL", None)
    run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0 and out.is_file(), run.stderr[-3000:]
    data = json.loads(out.read_text("utf-8"))
    data["log"] = run.stderr
    return data


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


def test_retry_after_is_waited_for_and_pauses_the_host_only(tmp_path):
    script = {
        "/limited": [(429, {"Retry-After": "2"}), (200, {})],
        "/too-long": [(429, {"Retry-After": "3600"})],
        **{f"/queued-{i}": [(200, {})] for i in range(6)},
        **{f"/other-{i}": [(200, {})] for i in range(4)},
    }
    slow = {**{f"/queued-{i}": 0.15 for i in range(6)}, **{f"/other-{i}": 0.4 for i in range(4)}}
    with Scripted(script, slow) as srv:
        port = srv.server_address[1]
        a, b = f"http://127.0.0.1:{port}", f"http://localhost:{port}"  # two hosts: two download slots
        urls = [f"{a}/limited", *(f"{a}/queued-{i}" for i in range(6)), *(f"{b}/other-{i}" for i in range(4)),
                f"{b}/too-long"]
        got = fetch(urls, tmp_path, "-s", "ROBOTSTXT_OBEY=False", "-s", "NEWS_RETRY_BACKOFF=0.1",
                    "-s", "NEWS_RETRY_MAX_DELAY=30", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
        limited = srv.arrivals("/limited")
        too_long = srv.arrivals("/too-long")
        seen = list(srv.seen)

    by_url = {r["url"]: r for r in got["results"]}
    assert by_url[f"{a}/limited"]["status"] == 200
    assert len(limited) == 2 and limited[1] - limited[0] >= 2.0
    # The host that said 429 got no request at all while it asked for the pause...
    t429 = limited[0]
    during = [(p, h) for p, h, t in seen if h.startswith("127.0.0.1") and t429 + 0.05 < t < t429 + 1.95]
    assert during == [], during
    # ... while the other host went on meanwhile: the wait is a timer, the event loop kept running.
    assert any(h.startswith("localhost") and t429 + 0.05 < t < t429 + 1.95 for _, h, t in seen)
    # A Retry-After past NEWS_RETRY_MAX_DELAY is left to the next run: one request, a failure.
    assert len(too_long) == 1 and by_url[f"{b}/too-long"]["failure"] == "http"
    stats = got["stats"]
    assert stats["retry/retry_after"] == 1 and stats["retry/retry_after/too_long"] == 1
    assert stats["retry/count"] == stats["retry/backoff"] == 1
    assert stats["retry/backoff_seconds"] >= 2.0
    assert "Retry-After" in got["log"] and f"{b}/too-long" in got["log"]


def test_backoff_between_retries_of_a_failing_server_and_a_dated_retry_after(tmp_path):
    script = {"/flaky": [(500, {}), (502, {}), (503, {}), (200, {})], "/down": [(500, {})],
              "/dated": [(503, {"Retry-After": lambda: http_date(3)}), (200, {})]}
    with Scripted(script) as srv:
        port = srv.server_address[1]
        base, other = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
        got = fetch([f"{base}/flaky", f"{base}/down", f"{other}/dated"], tmp_path, "-s", "ROBOTSTXT_OBEY=False",
                    "-s", "RETRY_TIMES=3", "-s", "NEWS_RETRY_BACKOFF=0.2", "-s", "NEWS_RETRY_MAX_DELAY=5")
        flaky, down, dated = srv.arrivals("/flaky"), srv.arrivals("/down"), srv.arrivals("/dated")
    by_url = {r["url"]: r for r in got["results"]}
    # An HTTP-date 3 s ahead, in whole seconds: 2 to 3 s after the answer.
    assert by_url[f"{other}/dated"]["status"] == 200 and len(dated) == 2 and dated[1] - dated[0] >= 1.9
    assert by_url[f"{base}/flaky"]["status"] == 200 and len(flaky) == 4
    assert by_url[f"{base}/down"]["failure"] == "http" and len(down) == 4  # 1 + RETRY_TIMES, then given up
    stats = got["stats"]
    assert stats["retry/count"] == stats["retry/backoff"] == 7 and stats["retry/max_reached"] == 1
    assert stats["retry/retry_after"] == 1
    # Each wait is below base * 2**(n-1): 0.2, 0.4, 0.8 (plus the time of a request).
    for arrivals in (flaky, down):
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        assert all(g < ceiling + 0.5 for g, ceiling in zip(gaps, (0.2, 0.4, 0.8), strict=True)), gaps
    assert 1.9 < stats["retry/backoff_seconds"] <= 3.0 + 2 * (0.2 + 0.4 + 0.8)


@pytest.mark.parametrize("body", [b"", b"<!DOCTYPE html><html><head><title>x</title></head><body><p>cut he"])
def test_an_empty_or_cut_off_page_is_retried_like_a_server_error(tmp_path, body):
    class Once(ThreadingHTTPServer):
        daemon_threads = True
        hits = 0

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.server.hits += 1
            page = body if self.server.hits == 1 else b"<html><head><title>ok</title></head><body>ok</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    srv = Once(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/page"
        got = fetch([url], tmp_path, "-s", "ROBOTSTXT_OBEY=False", "-s", "NEWS_RETRY_BACKOFF=0.05")
    finally:
        srv.shutdown()
        srv.server_close()
    problem = "empty" if not body else "incomplete"
    assert srv.hits == 2
    assert got["results"] == [{**got["results"][0], "status": 200, "problem": ""}]
    assert got["stats"][f"pages/{problem}"] == 1
    assert got["stats"][f"retry/reason_count/{problem} page"] == 1

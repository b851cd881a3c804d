"""A crawl database built from the mirror, served the way people get it (`python -m crawler serve`),
for the Datasette and browser tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from crawler.mirror import MirrorServer
from crawler.storage import Store

REPO = Path(__file__).resolve().parent.parent
# Cao Bằng, Hải Dương (with a duplicate URL) and Nam Định: three papers, three provinces.
PAPERS = ("baocaobang", "baohaiduong", "baonamdinh")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crawled_db(base: Path) -> Path:
    """`python -m crawler crawl` of PAPERS through the mirror into base/site/news.db (built once
    per test session), plus one failed crawl in the history, as a broken refresh leaves it."""
    db = base / "site" / "news.db"
    if db.exists():
        return db
    db.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MIRROR_URL", None)
    with MirrorServer(REPO / "mirror" / "sites", host="127.0.0.1", port=0) as mirror:
        run = subprocess.run([sys.executable, "-m", "crawler", "crawl", *PAPERS, "--db", str(db),
                              "--mirror", mirror.url, "--fast"], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    store = Store(db)
    crawl = store.start_crawl("baocaobang")
    store.finish_crawl(crawl, "failed", {"errors": 3, "requests": 5},
                       {"log_count/ERROR": 3, "downloader/response_status_count/500": 3, "finish_reason": "shutdown"})
    store.close()
    return db


@contextmanager
def served(db: Path, *extra: str):
    """`python -m crawler serve --db DB --port P` until the block ends; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "serve", "--db", str(db), "--port", str(port), *extra],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError("crawler serve did not start:\n" + proc.communicate()[0][-3000:]) from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=20) as r:
        return r.read().decode("utf-8")


def get_json(url: str):
    return json.loads(get(url))

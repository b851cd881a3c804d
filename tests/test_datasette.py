"""The database a crawl leaves is served by real Datasette, and its full-text search finds
Vietnamese text typed without diacritics."""

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from crawler.mirror import MirrorServer
from tests.test_crawl_mirror import scrapy_crawl

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("ds") / "news.db"
    with MirrorServer(REPO / "mirror" / "sites", host="127.0.0.1", port=0) as mirror:
        assert scrapy_crawl("baocaobang", db, mirror.url).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(db), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def test_datasette_serves_articles(served_db):
    rows = get_json(served_db + "/news/articles.json?_shape=array&_col=title&_col=site")
    assert rows and {r["site"] for r in rows} == {"baocaobang"}


def test_search_without_diacritics_finds_vietnamese_text(served_db):
    q = urllib.parse.quote("hai duong")
    rows = get_json(served_db + f"/news/articles.json?_search={q}&_shape=array&_col=title")
    assert any("Hải Dương" in r["title"] for r in rows)

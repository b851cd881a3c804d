"""The local mirror: the builder is deterministic and complete, the server answers over real HTTP."""

import hashlib
import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.fixtures import build_mirror, mirror_articles
from crawler.mirror import MirrorServer, host_aliases_from_seeds

REPO = Path(__file__).resolve().parent.parent


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mirror") / "sites"
    counts = build_mirror(REPO, out)
    assert counts["articles"] and counts["routes"] >= counts["files"] > 0
    return out


def request(url: str, path: str, method: str = "GET") -> http.client.HTTPResponse:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(method, path)
    resp = conn.getresponse()
    resp.body = resp.read()
    conn.close()
    return resp


def test_build_is_deterministic_and_removes_stale_files(sites, tmp_path):
    again = tmp_path / "sites"
    stale = again / "baocantho.com.vn" / "old-page.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("stale", "utf-8")
    build_mirror(REPO, again)
    assert not stale.exists()
    assert tree_digest(sites) == tree_digest(again)


def test_every_route_file_exists_and_every_article_is_routed(sites):
    domains = sorted(p.name for p in sites.iterdir())
    assert domains
    for domain in domains:
        routes = json.loads((sites / domain / "_routes.json").read_text("utf-8"))
        assert "/" in routes and "/robots.txt" in routes
        for target, route in routes.items():
            assert target.startswith("/"), target
            assert (sites / domain / route["file"]).is_file(), (domain, target)
            assert route["status"] == 200 and route["content_type"]
    for item in mirror_articles(REPO, sites):
        assert item["file"].is_file()
        routes = json.loads((sites / urlsplit(item["url"]).hostname / "_routes.json").read_text("utf-8"))
        for url in [item["url"], *item["aliases"]]:
            assert routes[urlsplit(url).path]["file"] == str(
                item["file"].relative_to(sites / urlsplit(url).hostname)
            )


def test_no_page_links_to_the_loopback_host(sites):
    for page in sites.rglob("*"):
        if page.is_file():
            assert "127.0.0.1" not in page.read_text("utf-8"), page


def test_server_serves_pages_404_and_legacy_redirects(sites):
    item = mirror_articles(REPO, sites)[0]
    host, path = urlsplit(item["url"]).hostname, urlsplit(item["url"]).path
    aliases = host_aliases_from_seeds(REPO / "seeds")
    legacy = next(k for k, v in aliases.items() if v == host)
    with MirrorServer(sites, host="127.0.0.1", port=0) as srv:
        assert srv.url.startswith("http://127.0.0.1:")
        page = request(srv.url, f"/{host}{path}")
        assert page.status == 200
        assert page.getheader("Content-Type") == "text/html; charset=utf-8"
        assert page.body == item["file"].read_bytes()
        head = request(srv.url, f"/{host}{path}", "HEAD")
        assert head.status == 200 and head.body == b""
        assert int(head.getheader("Content-Length")) == len(page.body)
        missing = request(srv.url, f"/{host}/khong-co-trang-nay-123.html")
        assert missing.status == 404 and b"404" in missing.body
        assert request(srv.url, "/unknown.example/").status == 404
        moved = request(srv.url, f"/{legacy}{path}?a=1")
        assert moved.status == 301
        assert moved.getheader("Location") == f"https://{host}{path}?a=1"
        robots = request(srv.url, f"/{host}/robots.txt")
        assert robots.status == 200 and b"Disallow: /search" in robots.body


def test_server_serves_the_listing_api_as_json(sites):
    api_routes = {
        domain.name: [
            t
            for t in json.loads((domain / "_routes.json").read_text("utf-8"))
            if "list-post-by-category" in t
        ]
        for domain in sites.iterdir()
    }
    host, targets = next((h, t) for h, t in api_routes.items() if t)
    with MirrorServer(sites, port=0) as srv:
        pages = [request(srv.url, f"/{host}{t}") for t in sorted(targets)]
    assert all(p.status == 200 and p.getheader("Content-Type") == "application/json" for p in pages)
    datas = [json.loads(p.body)["data"] for p in pages]
    assert [] in datas and any(datas)

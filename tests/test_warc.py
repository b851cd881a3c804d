"""WARC archives and re-extraction, end to end: `python -m crawler refresh -s WARC_DIR=...` against the
local mirror in its own process, the archive read back with warcio, and `python -m crawler reextract`
into real SQLite files (crawler/warc.py, crawler/warcread.py, crawler/reextract.py)."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.canonical import url_id
from crawler.mirror import MirrorServer
from crawler.registry import default_registry
from tests.evolving_mirror import crawl_rows, query

REPO = Path(__file__).resolve().parent.parent
SITES = REPO / "mirror" / "sites"
GOLDEN = REPO / "tests" / "golden"
# Three families, with a content duplicate, URL aliases, photo, video and error pages among them.
PAPERS = ("baocantho", "baolaocai", "baocaobang")
ARTICLE_COLUMNS = ("id", "url", "canonical_url", "site", "title", "sapo", "body", "author", "published_at",
                   "category", "tags", "images", "blocks", "text", "content_hash")


def cli(*args: str, background: bool = False):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MIRROR_URL", None)
    cmd = [sys.executable, "-m", "crawler", *args]
    if background:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)


def crawl(db: Path, warc_dir: Path, mirror_url: str, *args: str, papers=PAPERS):
    run = cli("refresh", "--db", str(db), "--mirror", mirror_url, "--fast", "-s", f"WARC_DIR={warc_dir}", *args,
              *papers)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def reextract(db: Path, *warcs: Path, args=()) -> tuple[int, dict]:
    run = cli("reextract", "--db", str(db), "--json", *args, "--warc", *map(str, warcs))
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    return run.returncode, json.loads(run.stdout)


def records(path: Path) -> list[dict]:
    """Every record of a WARC file: type, headers, payload; its digests checked by warcio."""
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh, check_digests=True):
            payload = rec.content_stream().read()
            assert rec.digest_checker.passed is not False, rec.digest_checker.problems
            out.append({"type": rec.rec_type, "headers": dict(rec.rec_headers.headers), "http": rec.http_headers,
                        "payload": payload, "uri": rec.rec_headers.get_header("WARC-Target-URI")})
    return out


def articles(db: Path) -> dict[str, tuple]:
    return {r[0]: r for r in query(db, f"SELECT {', '.join(ARTICLE_COLUMNS)} FROM articles")}


def golden_text(site: str, article_id: str) -> str:
    return (GOLDEN / site / f"{article_id}.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def mirror():
    with MirrorServer(SITES, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture(scope="module")
def archived(mirror, tmp_path_factory):
    """One refresh of PAPERS with WARC_DIR on: (database, WARC directory)."""
    root = tmp_path_factory.mktemp("archived")
    crawl(root / "crawl.db", root / "warc", mirror.url)
    return root / "crawl.db", root / "warc"


def test_every_response_and_its_request_is_archived_with_the_article_it_produced(archived):
    db, warc_dir = archived
    files = sorted(warc_dir.iterdir())
    assert files and all(f.name.endswith(".warc.gz") and f.name.startswith("vn-news-") for f in files), files
    recs = [r for f in files for r in records(f)]
    assert recs[0]["type"] == "warcinfo" and recs[0]["headers"]["WARC-Filename"] == files[0].name
    stats = [r["stats"] for r in crawl_rows(db)]
    responses = {r["headers"]["WARC-Record-ID"]: r for r in recs if r["type"] == "response"}
    requests = [r for r in recs if r["type"] == "request"]
    # Every response the downloader received (robots.txt, every page, any redirect hop), with its request.
    assert len(responses) == len(requests) == sum(s["downloader/response_count"] for s in stats)
    for req in requests:
        assert responses[req["headers"]["WARC-Concurrent-To"]]["uri"] == req["uri"]
        parts = urlsplit(req["uri"])  # warcio reads a request line as protocol (method) and status line
        assert req["http"].protocol == "GET" and req["http"].statusline.split()[0] == (parts.path or "/") + (
            f"?{parts.query}" if parts.query else "")
        assert req["http"].get_header("Host") == parts.netloc and req["http"].get_header("User-Agent")
    registry = default_registry()
    for rec in responses.values():  # the papers' own URLs, never the mirror's
        assert rec["uri"].startswith("https://") and registry.for_url(rec["uri"]), rec["uri"]
        assert int(rec["http"].get_header("Content-Length")) == len(rec["payload"])
    # Each stored article: a metadata record with its id, referring to the response it came from.
    stored = dict(query(db, "SELECT id, url FROM articles"))
    produced = {}
    for rec in recs:
        if rec["type"] == "metadata" and "WARC-Article-Id" in rec["headers"]:
            source = responses[rec["headers"]["WARC-Refers-To"]]
            assert source["uri"] == rec["uri"] and source["http"].get_statuscode() == "200"
            produced[rec["headers"]["WARC-Article-Id"]] = source["uri"]
            assert b"outcome: stored" in rec["payload"]
    assert produced == stored
    dropped = [r for r in recs if r["type"] == "metadata" and b"outcome: dropped" in r["payload"]]
    assert len(dropped) == sum(s.get("articles/dropped", 0) + s.get("articles/duplicate/url", 0)
                               + s.get("articles/duplicate/content", 0) for s in stats)
    # warc/bytes: the crawls' compressed records; the files hold those and one warcinfo record each.
    warcinfo = 0
    for f in files:
        with f.open("rb") as fh:
            it = ArchiveIterator(fh)
            next(it).content_stream().read()
            warcinfo += it.get_record_length()
    assert sum(f.stat().st_size for f in files) == sum(s["warc/bytes"] for s in stats) + warcinfo


def test_reextract_into_a_fresh_database_reproduces_the_crawl(archived, tmp_path):
    db, warc_dir = archived
    fresh = tmp_path / "fresh.db"
    code, report = reextract(fresh, warc_dir)
    assert code == 0, report
    expected = articles(db)
    assert articles(fresh) == expected
    assert query(fresh, "SELECT url, article_id, reason FROM aliases ORDER BY url") == \
        query(db, "SELECT url, article_id, reason FROM aliases ORDER BY url")
    assert report["articles"]["new"] == len(expected) and report["articles"]["updated"] == 0
    assert set(report["papers"]) == set(PAPERS) and {p["outcome"] for p in report["papers"].values()} == {"ok"}
    recs = [r for f in sorted(warc_dir.iterdir()) for r in records(f)]
    assert report["records"] == len(recs)
    assert report["skipped"]["not_response/request"] == sum(r["type"] == "request" for r in recs)
    for art_id, row in articles(fresh).items():
        assert row[ARTICLE_COLUMNS.index("text")] == golden_text(row[3], art_id)
    rows = crawl_rows(fresh)
    assert [r["site"] for r in rows] == sorted(PAPERS) and all(r["requests"] == 0 for r in rows)

    # Again into the same database: nothing changed, nothing written but the record of the run.
    code, again = reextract(fresh, warc_dir)
    assert code == 0 and again["articles"]["unchanged"] == len(expected)
    assert again["articles"]["new"] == again["articles"]["updated"] == 0
    assert query(fresh, "SELECT count(*) FROM article_versions") == [(0,)]


def test_reextract_after_a_parser_change_updates_the_article_and_keeps_the_old_version(mirror, tmp_path):
    # "Before": a crawl with the family parsers off (the generic path only), archived.
    db, warc_dir = tmp_path / "news.db", tmp_path / "warc"
    crawl(db, warc_dir, mirror.url, "-s", "NEWS_USE_FAMILIES=False", papers=("baocantho", "baocaobang"))
    output = "title, sapo, body, author, published_at, category, tags, images, blocks, text"  # what a parser makes
    kept = "first_seen, last_seen, rechecked_at, modified_at, content_hash"
    before = {r[0]: r[1:] for r in query(db, f"SELECT id, {output}, {kept} FROM articles")}
    # --only-new (for third-party copies, perhaps older than ours) leaves every stored article alone.
    code, report = reextract(db, warc_dir, args=("--only-new",))
    a = report["articles"]  # every response is a stored article (or a URL variant of one), or a non-article
    assert code == 0 and a["skipped_stored"] >= len(before) and a["skipped_stored"] + a["dropped"] == report["responses"]
    assert a["new"] == a["updated"] == a["unchanged"] == 0
    assert {r[0]: r[1:] for r in query(db, f"SELECT id, {output}, {kept} FROM articles")} == before
    code, report = reextract(db, warc_dir)  # "after": the parsers as they are
    assert code == 0, report
    after = {r[0]: r[1:] for r in query(db, f"SELECT id, {output}, {kept}, site FROM articles")}
    assert set(after) == set(before)
    changed = {i for i in before if before[i][:10] != after[i][:10]}
    assert changed and report["articles"]["updated"] == len(changed)
    assert report["articles"]["unchanged"] == len(before) - len(changed)
    assert sum(r["articles_updated"] for r in crawl_rows(db)[-2:]) == len(changed)  # the run's crawls rows
    versions = {r[0]: r[1:] for r in query(db, f"SELECT article_id, version, {output}, content_hash "
                                               "FROM article_versions")}
    assert set(versions) == changed
    for art_id in changed:
        assert versions[art_id] == (1, *before[art_id][:10], before[art_id][14])  # the old output, kept
        assert after[art_id][9] == golden_text(after[art_id][15], art_id)  # the new output: the parsers'
        # Nothing was fetched: first_seen, last_seen, rechecked_at stay; no modified_at invented.
        assert after[art_id][10:14] == before[art_id][10:14]


def test_a_rotated_archive_is_several_complete_readable_files(mirror, tmp_path):
    db, warc_dir = tmp_path / "news.db", tmp_path / "warc"
    crawl(db, warc_dir, mirror.url, "-s", "NEWS_WARC_MAX_BYTES=20000", papers=("baocantho",))
    files = sorted(warc_dir.iterdir(), key=lambda f: f.name.split("-")[3])  # by serial
    assert len(files) >= 3 and not [f for f in files if not f.name.endswith(".warc.gz")]
    assert all(f.stat().st_size >= 20000 for f in files[:-1])
    responses = 0
    for f in files:
        recs = records(f)
        assert recs[0]["type"] == "warcinfo" and recs[0]["headers"]["WARC-Filename"] == f.name
        assert [r["type"] for r in recs].count("warcinfo") == 1
        responses += sum(r["type"] == "response" for r in recs)
    assert responses == crawl_rows(db)[0]["stats"]["downloader/response_count"]
    code, report = reextract(tmp_path / "fresh.db", warc_dir)
    assert code == 0 and report["files"] == len(files)
    assert articles(tmp_path / "fresh.db") == articles(db)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_an_archive_left_open_by_a_killed_crawl_is_read_up_to_its_last_record(tmp_path, sig):
    db, warc_dir = tmp_path / "news.db", tmp_path / "warc"
    with MirrorServer(SITES, port=0, delay=0.2) as mirror:
        proc = cli("refresh", "--db", str(db), "--mirror", mirror.url, "--fast", "-s", f"WARC_DIR={warc_dir}",
                   "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "NEWS_BATCH_SIZE=1", "baocantho", background=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if db.exists() and query(db, "SELECT count(*) FROM articles")[0][0] >= 2:
                    break
            except sqlite3.OperationalError:
                pass  # the schema is being created
            time.sleep(0.05)
        proc.send_signal(sig)
        proc.communicate(timeout=60)
    (left,) = warc_dir.iterdir()
    if sig == signal.SIGKILL:
        assert left.name.endswith(".warc.gz.open"), "killed: the file never got its final name"
    else:  # a graceful stop closes the file
        assert left.name.endswith(".warc.gz"), left.name
    stored = set(dict(query(db, "SELECT id, url FROM articles")))
    code, report = reextract(tmp_path / "fresh.db", left)
    assert code == 0 and report["unfinished_files"] == ([str(left)] if sig == signal.SIGKILL else [])
    # Responses are archived before their articles are stored: everything stored is in the archive.
    assert stored <= set(articles(tmp_path / "fresh.db"))


def test_a_record_cut_off_at_the_end_of_an_open_file_is_skipped_as_truncated(archived, tmp_path):
    _, warc_dir = archived
    source = sorted(warc_dir.iterdir())[0]
    registry = default_registry()
    last = None  # offset and length of the last article response of the file
    with source.open("rb") as fh:
        it = ArchiveIterator(fh)
        for rec in it:
            uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
            article = rec.rec_type == "response" and rec.http_headers.get_statuscode() == "200" and \
                registry.for_url(uri) and registry.for_url(uri).is_article_url(uri)
            rec.content_stream().read()
            if article:
                last = (it.get_record_offset(), it.get_record_length())
    cut = tmp_path / (source.name + ".open")
    cut.write_bytes(source.read_bytes()[: last[0] + last[1] // 2])
    _, whole = reextract(tmp_path / "whole.db", source)
    code, report = reextract(tmp_path / "cut.db", cut)
    assert code == 0 and report["skipped"]["truncated"] == 1 and report["unfinished_files"] == [str(cut)]
    assert report["responses"] == whole["responses"] - 1


# --- third-party archives (Common Crawl style) --------------------------------------------------


def mirror_page(url: str) -> bytes:
    parts = urlsplit(url)
    route = json.loads((SITES / parts.hostname / "_routes.json").read_text("utf-8"))[parts.path]
    return (SITES / parts.hostname / route["file"]).read_bytes()


def chunked(body: bytes, size: int = 1000) -> bytes:
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def response(writer, url: str, body: bytes, status: str = "200 OK", ctype: str = "text/html; charset=utf-8",
             extra=()):
    http = StatusAndHeaders(status, [("Content-Type", ctype), *extra], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                                  http_headers=http))


def test_a_third_party_warc_ingests_only_registry_articles(tmp_path):
    golden = {k: json.loads((GOLDEN / k / "expected.json").read_text("utf-8"))["articles"]
              for k in ("baocantho", "baolaocai")}
    cantho = [v["url"] for v in golden["baocantho"].values()]
    laocai = [v["url"] for v in golden["baolaocai"].values()]
    foreign = "<html><head><title>Tin khác</title></head><body><article><h1>Tin khác</h1><p>" \
              + "Một bài báo của một tờ báo không có trong danh sách. " * 20 + "</p></article></body></html>"

    gz = tmp_path / "CC-NEWS-20260115-00001.warc.gz"  # one gzip member per record, as Common Crawl writes
    with gz.open("wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(w.create_warcinfo_record(gz.name, {"software": "test"}))
        response(w, "https://vnexpress.net/tin-khac-4812345.html", foreign.encode())
        w.write_record(w.create_warc_record(cantho[0], "request", payload=io.BytesIO(b""), length=0,
                                            http_headers=StatusAndHeaders("GET / HTTP/1.1", [("Host", "x")],
                                                                          is_http_request=True)))
        # Compressed and chunked, as a server sent it.
        response(w, cantho[0], chunked(gzip.compress(mirror_page(cantho[0]))),
                 extra=[("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")])
        # A legacy host spelling of another article: the same article id as its canonical URL.
        response(w, cantho[1].replace("https://", "http://www."), mirror_page(cantho[1]))
        response(w, cantho[2], b"<html><body>not found</body></html>", status="404 Not Found")
        response(w, cantho[3], b"\xff\xd8\xff\xe0JFIF", ctype="image/jpeg")  # an article URL, not HTML
        response(w, "https://baocantho.com.vn/kinh-te/", mirror_page("https://baocantho.com.vn/kinh-te/"))
        w.write_record(w.create_warc_record("https://example.org/", "metadata", payload=io.BytesIO(b"a: b\r\n"),
                                            length=6, warc_content_type="application/warc-fields"))
    plain = tmp_path / "other.warc"  # not compressed at all
    with plain.open("wb") as fh:
        w = WARCWriter(fh, gzip=False)
        response(w, laocai[0], mirror_page(laocai[0]))
        response(w, "https://example.com/news/a-1.html", foreign.encode())

    db = tmp_path / "news.db"
    code, report = reextract(db, gz, plain)
    assert code == 0, report
    wanted = {url_id(u): u for u in (cantho[0], cantho[1], laocai[0])}
    stored = {r[0]: r for r in query(db, "SELECT id, url, site, text FROM articles")}
    assert set(stored) == set(wanted)
    for art_id, (_, url, site, text) in stored.items():
        assert text == golden_text(site, art_id)
        assert default_registry().for_url(url) is not None
    assert report["skipped"] == {"not_registry": 2, "status/404": 1, "not_html": 1, "not_article_url": 1,
                                 "not_response/warcinfo": 1, "not_response/request": 1,
                                 "not_response/metadata": 1}
    assert report["records"] == 11 and report["responses"] == 3
    assert {k: v["new"] for k, v in report["papers"].items()} == {"baocantho": 2, "baolaocai": 1}


def test_reextract_usage_errors_are_one_line():
    run = cli("reextract", "--db", "/tmp/x.db", "--warc", "/nonexistent/a.warc.gz")
    assert run.returncode == 2 and run.stderr.strip() == "error: no WARC file or directory at /nonexistent/a.warc.gz"
    run = cli("reextract", "--help")
    assert run.returncode == 0 and "--warc" in run.stdout and "article_pattern" in run.stdout


def test_warc_is_off_by_default_and_silent(mirror, tmp_path):
    run = cli("refresh", "--db", str(tmp_path / "news.db"), "--mirror", mirror.url, "--fast", "baocantho")
    assert run.returncode == 0
    assert "WarcMiddleware" not in run.stderr
    assert not any(k.startswith("warc/") for k in crawl_rows(tmp_path / "news.db")[0]["stats"])

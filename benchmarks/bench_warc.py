"""WARC archiving (WARC_DIR): bytes per article, what archiving costs a crawl, and re-extraction speed.

  1. `python -m crawler refresh --fast` of the papers on the local mirror, without and with WARC_DIR,
     each in its own process (alternated, twice each, the faster kept): seconds of both, and the archive's gzipped bytes per stored
     article, split by what the records hold (article pages with their requests and metadata records;
     listing, feed and sitemap pages, robots.txt and redirect hops).
  2. `python -m crawler reextract` of that archive into a fresh database: seconds, articles/s.
  3. The saved real pages of ../shared/realhtml (one article per paper, as the papers serve them:
     the mirror's replica pages are smaller than real ones) written as response + request records
     the way crawler/warc.py writes them: gzipped bytes per real article page.

    python benchmarks/bench_warc.py [--papers KEY,KEY | --quick]   (default: every paper of the registry;
                                                                    --quick: the four benchmark papers)
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from warcio.archiveiterator import ArchiveIterator  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from crawler.mirror import MirrorServer  # noqa: E402
from crawler.registry import default_registry  # noqa: E402
from tests.evolving_mirror import query, refresh  # noqa: E402
from tests.test_warc import cli  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
QUICK = ("baocaobang", "baonamdinh", "baocantho", "baolaocai")
REALHTML = REPO.parent / "shared" / "realhtml"


def kind_of(record, registry) -> str:
    uri = record.rec_headers.get_header("WARC-Target-URI") or ""
    site = registry.for_url(uri)
    if record.rec_type == "warcinfo":
        return "warcinfo"
    if uri.endswith("/robots.txt"):
        return "robots.txt"
    if site and site.is_article_url(uri):
        return "article pages"
    return "discovery pages and redirects"


def archive_breakdown(warc_dir: Path) -> dict:
    registry, out = default_registry(), {}
    for path in sorted(warc_dir.iterdir()):
        with path.open("rb") as fh:
            it = ArchiveIterator(fh)
            for record in it:
                kind = kind_of(record, registry)
                record.content_stream().read()
                entry = out.setdefault(kind, {"records": 0, "bytes": 0})
                entry["records"] += 1
                entry["bytes"] += it.get_record_length()
    return out


def crawl(db: Path, mirror: MirrorServer, keys: list[str], *extra: str) -> float:
    started = time.perf_counter()
    run = refresh(db, mirror.url, *extra, keys=keys, timeout=1800)
    if run.returncode != 0:
        raise SystemExit(f"refresh failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    return time.perf_counter() - started


def real_pages() -> dict:
    """Gzipped WARC bytes of each saved real article page, written as crawler/warc.py writes it."""
    sizes = {}
    for page in sorted(REALHTML.glob("*/*.html")) if REALHTML.is_dir() else []:
        body = page.read_bytes()
        buf = io.BytesIO()
        w = WARCWriter(buf, gzip=True, warc_version="1.1")
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                           ("Content-Length", str(len(body)))], "HTTP/1.1")
        url = f"https://{page.parent.name}/{page.stem}"
        w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                            http_headers=http))
        req = StatusAndHeaders(f"GET /{page.stem} HTTP/1.1", [("Host", page.parent.name), ("User-Agent", "x" * 90),
                               ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")],
                               is_http_request=True)
        w.write_record(w.create_warc_record(url, "request", payload=io.BytesIO(b""), length=0, http_headers=req))
        sizes[page.parent.name] = {"html_bytes": len(body), "warc_bytes": buf.tell()}
    return sizes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", help="comma-separated registry keys (default: all)")
    ap.add_argument("--quick", action="store_true", help=f"only {','.join(QUICK)}")
    args = ap.parse_args()
    keys = args.papers.split(",") if args.papers else list(QUICK) if args.quick else [s.key for s in default_registry()]
    with tempfile.TemporaryDirectory() as tmp, MirrorServer(REPO / "mirror" / "sites", port=0) as mirror:
        tmp = Path(tmp)
        # Alternated, twice each, the faster of each kept: the machine is shared and noisy.
        plain_s = warc_s = float("inf")
        for n in (1, 2):
            plain_s = min(plain_s, crawl(tmp / f"plain{n}.db", mirror, keys))
            shutil.rmtree(tmp / "warc", ignore_errors=True)
            warc_s = min(warc_s, crawl(tmp / f"warc{n}.db", mirror, keys, "-s", f"WARC_DIR={tmp / 'warc'}"))
        articles = query(tmp / "warc2.db", "SELECT count(*) FROM articles")[0][0]
        files = sorted((tmp / "warc").iterdir())
        total = sum(f.stat().st_size for f in files)
        breakdown = archive_breakdown(tmp / "warc")
        started = time.perf_counter()
        run = cli("reextract", "--db", str(tmp / "fresh.db"), "--json", "--warc", str(tmp / "warc"))
        reextract_s = time.perf_counter() - started
        if run.returncode != 0:
            raise SystemExit(f"reextract failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
        report = json.loads(run.stdout)
    real = real_pages()
    result = {
        "papers": len(keys), "articles": articles, "files": len(files), "warc_bytes": total,
        "warc_bytes_per_article": round(total / max(articles, 1)),
        "article_page_bytes_per_article": round(breakdown.get("article pages", {}).get("bytes", 0) / max(articles, 1)),
        "breakdown": breakdown,
        "crawl_seconds_without_warc": round(plain_s, 2), "crawl_seconds_with_warc": round(warc_s, 2),
        "reextract_seconds": round(reextract_s, 2), "reextract_articles_new": report["articles"]["new"],
        "reextract_records": report["records"],
        "real_pages": real,
        "real_page_warc_bytes_median": round(statistics.median(v["warc_bytes"] for v in real.values())) if real else None,
        "real_page_html_bytes_median": round(statistics.median(v["html_bytes"] for v in real.values())) if real else None,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "warc.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"{result['papers']} papers, {articles} articles stored; archive: {len(files)} file(s), {total:,} bytes, "
          f"{result['warc_bytes_per_article']:,} bytes per article, of which article pages (response, request, "
          f"metadata) {result['article_page_bytes_per_article']:,}")
    for kind, entry in sorted(breakdown.items()):
        print(f"  {kind}: {entry['records']} records, {entry['bytes']:,} bytes")
    print(f"crawl {plain_s:.1f} s without WARC_DIR, {warc_s:.1f} s with; reextract {reextract_s:.1f} s "
          f"({report['records']} records, {report['articles']['new']} articles, "
          f"{report['articles']['new'] / reextract_s:.0f} articles/s)")
    if real:
        print(f"real pages ({len(real)}): median {result['real_page_html_bytes_median']:,} bytes of HTML, "
              f"{result['real_page_warc_bytes_median']:,} bytes gzipped as WARC response + request")
    return 0


if __name__ == "__main__":
    sys.exit(main())

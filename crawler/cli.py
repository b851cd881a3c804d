"""Command line: `python -m crawler <command> --help`.

Errors are one line on stderr (`error: ...`) and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crawler import settings as defaults
from crawler.article import Article
from crawler.render import DATE_PRECISIONS, render_document

EXTRACT_KEYS = ("url", "site", "title", "sapo", "body", "author", "published_at", "category", "tags", "images", "text")


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _document(article: Article, args) -> str:
    from crawler.registry import default_registry

    site = default_registry().sites.get(article.site)
    return render_document(
        article,
        date_precision=args.date_precision,
        source_line=not args.no_source_line,
        short_name=site.short_name if site else "",
    )


def _extract_one(url: str, html_path: str, args) -> dict:
    from crawler.extract import extract

    path = Path(html_path)
    if not path.is_file():
        raise CliError(f"no such HTML file: {html_path}")
    article = extract(url, path.read_bytes(), use_families=not args.generic_only)
    out = {k: getattr(article, k, None) for k in EXTRACT_KEYS if k not in ("images", "text", "body")}
    out["body"] = article.body
    out["images"] = [{"url": i.url, "caption": i.caption} for i in article.images]
    out["text"] = _document(article, args)
    out["page_kind"] = article.page_kind
    out["field_sources"] = article.field_sources
    return out


def cmd_extract(args) -> int:
    if args.jsonl:
        for line in sys.stdin:
            if not line.strip():
                continue
            url = ""
            try:
                job = json.loads(line)
                url = job["url"]
                result = _extract_one(url, job["html_path"], args)
            except Exception as exc:  # one bad line never stops the stream
                result = {"url": url, "error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(result, ensure_ascii=False), flush=True)
        return 0
    if not args.url or not args.html:
        raise CliError("extract needs URL and --html FILE (or --jsonl with lines on stdin)")
    result = _extract_one(args.url, args.html, args)
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else result["text"])
    return 0


def cmd_sites(args) -> int:
    from crawler.registry import default_registry

    rows = []
    counts: dict = {}
    if args.db:
        from crawler.storage import Store

        if not Path(args.db).is_file():
            raise CliError(f"no database at {args.db}")
        store = Store(args.db)
        counts = {r[0]: (r[1], r[2]) for r in store.db.execute(
            "SELECT site, count(*), max(last_seen) FROM articles GROUP BY site").fetchall()}
    for s in default_registry():
        status = s.status if s.status == "current" else f"merged into {s.merged_into}"
        row = {"key": s.key, "name": s.name, "province": s.province, "domain": s.domain, "family": s.family,
               "status": status, "verified": s.verified}
        if args.db:
            row["articles"], row["last_seen"] = counts.get(s.key, (0, ""))
        rows.append(row)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    cols = list(rows[0]) if rows else []
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols))
    return 0


def cmd_export(args) -> int:
    from crawler.export import export

    n = export(args.db, args.out, fmt=args.format, site=args.site, since=args.since, until=args.until,
               dedupe=args.dedupe)
    print(f"exported {n} articles to {args.out}")
    return 0


def cmd_serve(args) -> int:
    from crawler.serve import serve

    return serve(args.db, host=args.host, port=args.port, immutable=args.immutable, open_browser=args.open)


def cmd_dedupe(args) -> int:
    import time

    from crawler import neardup

    if not Path(args.db).is_file():
        raise CliError(f"no database at {args.db}")
    explicit = {k: v for k, v in (("threshold", args.threshold), ("shingle", args.shingle), ("num_perm", args.perm))
                if v is not None}
    wanted = {"threshold": defaults.NEWS_NEARDUP_THRESHOLD, "shingle": defaults.NEWS_NEARDUP_SHINGLE,
              "num_perm": defaults.NEWS_NEARDUP_PERM, **explicit}
    conn = neardup.connect(args.db)
    try:
        t0 = time.perf_counter()
        if args.rebuild:
            params = neardup.Params.make(**wanted)
            report = neardup.rebuild(conn, params)
            index = neardup.NearDupIndex(conn, params)
        else:
            neardup.ensure_schema(conn)
            stored = neardup.params_from_meta(neardup.read_meta(conn))
            if stored is not None:
                differ = [k for k, v in explicit.items() if getattr(stored, k) != v]
                if differ:
                    raise CliError(f"the index was built with {stored.describe()}; another "
                                   f"{', '.join(differ)} needs --rebuild")
            index = neardup.NearDupIndex.open(conn, stored or neardup.Params.make(**wanted))
            report = index.index(index.pending())
        summary = {"command": "rebuild" if args.rebuild else "index", **report.as_dict(), **index.stats(),
                   "wall_seconds": round(time.perf_counter() - t0, 3)}
    finally:
        conn.close()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        what = "rebuilt the near-duplicate index" if args.rebuild else "indexed new and changed articles"
        print(f"{what}: {report.indexed} articles ({report.too_short} too short to index), "
              f"{report.near_duplicates} near-duplicates, {report.clusters_new} new clusters, "
              f"{report.seconds:.1f} s; now {summary['clusters']} clusters holding "
              f"{summary['clustered_articles']} of {summary['articles']} articles "
              f"({index.params.describe()})")
    return 0


def cmd_mirror(args) -> int:
    from crawler.faults import plan_from_args
    from crawler.mirror import serve_forever

    root = Path(args.root)
    if not root.is_dir():
        raise CliError(f"no mirror at {root}; build it with `python -m crawler fixtures build`")
    print(f"mirror serving {root} on http://{args.host}:{args.port} (MIRROR_URL=http://{args.host}:{args.port})",
          flush=True)
    serve_forever(root, args.host, args.port, faults=plan_from_args(args))
    return 0


def cmd_fixtures(args) -> int:
    from crawler import fixtures

    repo = Path(args.root)
    if args.action == "record":
        from crawler.record import record

        if not args.url:
            raise CliError("fixtures record needs the page's URL")
        saved = record(args.url, Path(args.out), mirror=args.mirror)
        print(f"saved {saved} and its extraction {saved.with_suffix('.json')}; review both before using them")
        return 0
    if args.action in ("build", "all"):
        counts = fixtures.build_mirror(repo)
        print(f"mirror built: {sum(d['articles'] for d in counts['domains'].values())} articles, "
              f"{counts['routes']} routes, {len(counts['domains'])} domains")
    if args.action in ("golden", "all"):
        from crawler.golden import write_golden

        written = write_golden(repo)
        print(f"golden outputs written: {written} files under tests/golden/")
    return 0


def cmd_crawl(args) -> int:
    from crawler.run import run_crawl

    return run_crawl(args.sites, db=args.db, mirror=args.mirror, fast=args.fast)


def _settings_pairs(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CliError(f"-s needs NAME=VALUE, not {pair!r}")
        out[name.strip()] = value
    return out


def cmd_refresh(args) -> int:
    import re

    from crawler.run import run_refresh

    if args.since and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.since):
        raise CliError(f"--since must be YYYY-MM-DD, not {args.since!r}")
    spider_args = {k: v for k, v in (("since", args.since), ("max_pages", args.max_pages)) if v}
    if args.backfill:
        spider_args["backfill"] = "1"
    return run_refresh(args.sites, db=args.db, mirror=args.mirror, fast=args.fast, quiet=args.quiet,
                       log_file=args.log_file, spider_args=spider_args, **_settings_pairs(args.set))


def cmd_demo(args) -> int:
    from crawler.demo import run_demo

    return run_demo(args.db)


def cmd_quality(args) -> int:
    from crawler.quality import run

    return run(update=args.update_baseline)


def cmd_check(args) -> int:
    from crawler.check import run_check
    from crawler.registry import default_registry

    default_registry()[args.site]  # an unknown key is one clear error line
    return run_check(args.site, count=args.count, mirror=args.mirror)


def cmd_reextract(args) -> int:
    from crawler.reextract import run_reextract

    return run_reextract(args.warc, db=args.db, as_json=args.json, only_new=args.only_new, **_settings_pairs(args.set))


def _redis_url(args) -> str:
    from crawler.distributed import connect
    from crawler.redact import redact

    url = args.redis or defaults.NEWS_REDIS_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise CliError("--redis needs a redis://host:port/db URL (or set NEWS_REDIS_URL)")
    try:
        connect(url).ping()
    except Exception as exc:  # refused, unknown host, wrong password: one line, before any crawl starts
        raise CliError(f"cannot reach Redis at {redact(url)}: {exc}") from None
    return url


def cmd_worker(args) -> int:
    from crawler.distributed.run import run_workers

    return run_workers(args.sites, _redis_url(args), mirror=args.mirror, fast=args.fast, **_settings_pairs(args.set))


def cmd_ingest(args) -> int:
    from crawler.distributed.run import run_ingest

    return run_ingest(args.sites, args.db, _redis_url(args), **_settings_pairs(args.set))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m crawler", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("extract", help="extract one page offline (or a JSON Lines stream)")
    e.add_argument("url", nargs="?", help="the page's URL (decides the paper and its parser)")
    e.add_argument("--html", help="the saved HTML file")
    e.add_argument("--json", action="store_true", help="print every field as JSON instead of the document")
    e.add_argument("--jsonl", action="store_true", help='read {"url", "html_path"} lines on stdin, write JSON lines')
    e.add_argument("--date-precision", choices=DATE_PRECISIONS, default=defaults.NEWS_DATE_PRECISION)
    e.add_argument("--no-source-line", action="store_true", help="omit the `Nguồn ...` line")
    e.add_argument("--generic-only", action="store_true", help="switch the family parsers off")
    e.set_defaults(func=cmd_extract)

    s = sub.add_parser("sites", help="the registry of papers")
    s.add_argument("--json", action="store_true")
    s.add_argument("--db", help="add article counts and last crawl from this database")
    s.set_defaults(func=cmd_sites)

    x = sub.add_parser("export", help="write stored articles as seed-schema files or JSON Lines")
    x.add_argument("--db", default=defaults.DB_PATH)
    x.add_argument("--out", required=True, help="output directory (txt) or file (jsonl)")
    x.add_argument("--format", choices=("txt", "jsonl"), default="txt")
    x.add_argument("--site", action="append", help="only this paper (repeatable)")
    x.add_argument("--since", help="published on or after YYYY-MM-DD")
    x.add_argument("--until", help="published before YYYY-MM-DD")
    x.add_argument("--dedupe", action="store_true",
                   help="leave out near-duplicates: one article per duplicate cluster (its canonical member)")
    x.set_defaults(func=cmd_export)

    v = sub.add_parser("serve", help="browse and search a database in Datasette (read-only, 127.0.0.1)",
                       description="Datasette with the shipped metadata, templates and plugins (datasette/): "
                       "articles with facets by paper, province, category and month, search with or without "
                       "diacritics, article pages, canned queries. Connections are read-only; an older "
                       "database gets today's schema first (unless --immutable).")
    v.add_argument("--db", default=defaults.DB_PATH)
    v.add_argument("--port", type=int, default=8001)
    v.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    v.add_argument("--immutable", action="store_true",
                   help="serve a finished file as immutable (no locking, faster; not while a crawl writes it)")
    v.add_argument("--open", action="store_true", help="open a browser")
    v.set_defaults(func=cmd_serve)

    n = sub.add_parser(
        "dedupe", help="index new articles for near-duplicates, or --rebuild the whole index",
        description="Near-duplicates across papers (crawler/neardup.py): every crawl indexes its own new "
                    "articles; this indexes whatever is not indexed yet (all papers), or with --rebuild "
                    "recomputes signatures, LSH bands and clusters from all articles, which a new threshold, "
                    "shingle size or number of permutations needs. Clusters: tables clusters and "
                    "cluster_members, view near_duplicates; `export --dedupe` writes canonical members only.",
    )
    n.add_argument("--db", default=defaults.DB_PATH)
    n.add_argument("--rebuild", action="store_true", help="drop the index and recompute it from every article")
    n.add_argument("--threshold", type=float,
                   help=f"Jaccard similarity from which articles are near-duplicates (with --rebuild; default "
                        f"NEWS_NEARDUP_THRESHOLD, {defaults.NEWS_NEARDUP_THRESHOLD})")
    n.add_argument("--shingle", type=int,
                   help=f"words per shingle (with --rebuild; default {defaults.NEWS_NEARDUP_SHINGLE})")
    n.add_argument("--perm", type=int,
                   help=f"MinHash permutations (with --rebuild; default {defaults.NEWS_NEARDUP_PERM})")
    n.add_argument("--json", action="store_true", help="print the report as one JSON line")
    n.set_defaults(func=cmd_dedupe)

    m = sub.add_parser("mirror", help="serve the local mirror of the papers over HTTP")
    m.add_argument("--port", type=int, default=8800)
    m.add_argument("--host", default="127.0.0.1")
    m.add_argument("--root", default=str(Path(__file__).resolve().parent.parent / "mirror" / "sites"))
    from crawler.faults import add_arguments as add_fault_arguments  # --faults, --seed, --fault KIND=RATE...

    add_fault_arguments(m)
    m.set_defaults(func=cmd_mirror)

    f = sub.add_parser("fixtures", help="regenerate the mirror pages and golden outputs, or record a real page",
                       description="build: render mirror/content through mirror/templates into mirror/sites; "
                       "golden: regenerate tests/golden from the mirror pages; all: both (review `git diff`); "
                       "record URL: fetch one real page and save it with its extraction")
    f.add_argument("action", choices=("build", "golden", "all", "record"), nargs="?", default="all")
    f.add_argument("url", nargs="?", help="for record: the page's URL")
    f.add_argument("--out", default="fixtures/recorded", help="for record: where to save (default fixtures/recorded)")
    f.add_argument("--mirror", default=defaults.MIRROR_URL, help="for record: fetch through this local mirror")
    f.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    f.set_defaults(func=cmd_fixtures)

    c = sub.add_parser("crawl", help="crawl papers (all, or the keys given) in one process: `refresh` without its options")
    c.add_argument("sites", nargs="*", help="registry keys; default: every paper")
    c.add_argument("--db", default=defaults.DB_PATH)
    c.add_argument("--mirror", default=defaults.MIRROR_URL, help="MIRROR_URL of a local mirror")
    c.add_argument("--fast", action="store_true", help="no delays or AutoThrottle (only for a local mirror)")
    c.set_defaults(func=cmd_crawl)

    r = sub.add_parser(
        "refresh", help="incremental refresh of papers (all, or the keys given), for cron",
        description="Fetch only what is new since the last run: known articles are never requested again, "
                    "listings stop at the first page without a new article, feeds and sitemaps are requested "
                    "conditionally; young articles are rechecked once. One lock per paper: a paper another "
                    "refresh is crawling is skipped. One summary line per paper; exit code 0 when every paper "
                    "ended ok (or was skipped), 1 otherwise, 2 on a usage error.",
    )
    r.add_argument("sites", nargs="*", help="registry keys; default: every paper")
    r.add_argument("--db", default=defaults.DB_PATH)
    r.add_argument("--since", help="backfill: walk listings back to this day (YYYY-MM-DD)")
    r.add_argument("--max-pages", type=int, help="backfill: listing pages per section")
    r.add_argument("--backfill", action="store_true", help="backfill NEWS_BACKFILL_MAX_PAGES deep")
    r.add_argument("--quiet", "-q", action="store_true",
                   help="for cron: print only the lines of papers that did not end ok; log errors only")
    r.add_argument("--log-file", default="", help="append the full crawl log to this file (Scrapy LOG_FILE)")
    r.add_argument("--set", "-s", action="append", metavar="NAME=VALUE", help="a Scrapy or NEWS_ setting")
    r.add_argument("--mirror", default=defaults.MIRROR_URL, help="MIRROR_URL of a local mirror")
    r.add_argument("--fast", action="store_true", help="no delays or AutoThrottle (only for a local mirror)")
    r.set_defaults(func=cmd_refresh)

    q = sub.add_parser("quality", help="per-field extraction accuracy against the pinned baseline")
    q.add_argument("--update-baseline", action="store_true", help="raise quality/baseline.json to today's figures")
    q.set_defaults(func=cmd_quality)

    k = sub.add_parser("check", help="fetch a few recent articles of a paper and report its parser's health")
    k.add_argument("site", help="registry key")
    k.add_argument("--count", type=int, default=5, help="articles to check (default 5)")
    k.add_argument("--mirror", default=defaults.MIRROR_URL, help="MIRROR_URL of a local mirror")
    k.set_defaults(func=cmd_check)

    w = sub.add_parser(
        "reextract", help="re-run extraction and the pipelines on archived responses (WARC files) into a database",
        description="Reads WARC files (our WARC_DIR archives, or third-party ones such as Common Crawl news "
                    "WARCs): every 200 HTML response to an article URL of a registry paper (its article_pattern, "
                    "legacy domains included) is extracted again and goes through the pipelines (validate, "
                    "render, dedupe, store, neardup); an article whose output changed is updated, its old version "
                    "kept in article_versions. A URL archived several times is taken from its newest copy. Other "
                    "records are counted by reason. Files still named .open (a crawl writing them, or killed) "
                    "are read up to their last complete record. Exit code 0 when every paper ended ok, 1 when "
                    "one did not (errors, or locked by a running refresh) or a file was unreadable, 2 on a usage "
                    "error.")
    w.add_argument("--warc", nargs="+", required=True, metavar="FILE",
                   help="WARC files (.warc, .warc.gz, .open) or directories of them")
    w.add_argument("--db", default=defaults.DB_PATH)
    w.add_argument("--set", "-s", action="append", metavar="NAME=VALUE",
                   help="a Scrapy or NEWS_ setting, e.g. -s NEWS_USE_FAMILIES=False, -s LOG_LEVEL=INFO")
    w.add_argument("--only-new", action="store_true",
                   help="add only articles the database does not have; stored ones stay as they are (for "
                        "third-party archives, whose copies may be older than yours)")
    w.add_argument("--json", action="store_true", help="print the report as one JSON object")
    w.set_defaults(func=cmd_reextract)

    for name, func, help_, description in (
        ("worker", cmd_worker, "crawl papers as one of the workers of a distributed crawl (Redis; no database)",
         "A worker of a distributed crawl (README \"Distributed crawling\"): the papers' requests come from and go "
         "to a queue shared in Redis with every other worker, on any machine, and their articles go to the one "
         "`ingest`; the worker never opens a database. It waits for the ingest to start the run, and stops once "
         "its papers' shared frontier has been empty for NEWS_REDIS_IDLE_SECONDS. One summary line per paper; "
         "exit code 0 when every paper finished, 1 otherwise, 2 on a usage error."),
        ("ingest", cmd_ingest, "store what the workers of a distributed crawl fetch: the one process writing --db",
         "The ingest of a distributed crawl (README \"Distributed crawling\"): publishes the links the database "
         "knows, then runs the workers' articles through the pipelines (validate, render, dedupe, store, neardup) "
         "into --db, one crawl row per paper. Ends when the workers are done and the queues empty (or, with "
         "workers gone and requests left, after NEWS_REDIS_IDLE_SECONDS, leaving them in Redis to resume). One "
         "summary line per paper; exit code 0 when every paper ended ok, 1 otherwise, 2 on a usage error."),
    ):
        g = sub.add_parser(name, help=help_, description=description)
        g.add_argument("sites", nargs="*", help="registry keys; default: every paper (the same on every process)")
        g.add_argument("--redis", default="", metavar="URL",
                       help="redis://[:password@]host:port/db shared by the workers and the ingest (default "
                            "NEWS_REDIS_URL)")
        if name == "ingest":
            g.add_argument("--db", default=defaults.DB_PATH)
        else:
            g.add_argument("--mirror", default=defaults.MIRROR_URL, help="MIRROR_URL of a local mirror")
            g.add_argument("--fast", action="store_true", help="no delays or AutoThrottle (only for a local mirror)")
        g.add_argument("--set", "-s", action="append", metavar="NAME=VALUE", help="a Scrapy or NEWS_ setting")
        g.set_defaults(func=func)

    d = sub.add_parser("demo", help="serve the mirror and crawl every paper through it (what `make demo` runs)")
    d.add_argument("--db", default="data/demo.db")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, ValueError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

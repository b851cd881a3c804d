"""Extraction speed and field accuracy: our extractor beside trafilatura, newspaper4k and news-please, on the same pages.

Pages: every article page of the local mirror plus the real pages in ../shared/realhtml when present.
The floor is lxml parsing the same bytes; every figure is also printed as a ratio to it, because
this machine is shared and noisy. Accuracy is measured on the mirror pages, whose content files
are the ground truth. Writes benchmarks/results/extract.json.

newspaper4k and news-please are optional peers (`pip install -e '.[bench]'`, which `make bench` runs):
one that does not import is left out with a line saying why. Both are given the page already fetched
and never touch the network (no image downloads, no NLP).

    python benchmarks/bench_extract.py [--repeat N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import lxml.html
import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler.extract import clear_caches, extract  # noqa: E402
from crawler.fixtures import mirror_articles  # noqa: E402


def pages() -> tuple[list[tuple[str, bytes]], list[dict]]:
    items = [i for i in mirror_articles(REPO) if i["kind"] == "article"]
    out = [(i["url"], Path(i["file"]).read_bytes()) for i in items]
    real = REPO.parent / "shared" / "realhtml"
    for path in sorted(real.glob("*/article_*.html")) if real.is_dir() else []:
        out.append((f"https://{path.parent.name}/{path.stem}.html", path.read_bytes()))
    return out, items


def timed(fn, corpus, repeat: int) -> float:
    """Best-of-`repeat` seconds for one pass over the corpus (best-of damps a noisy machine). What extraction
    memoises across pages (canonical URLs, style sheets) is forgotten before each pass: a pass meets every
    page for the first time, as a crawl does."""
    runs = []
    for _ in range(repeat):
        clear_caches()
        t = time.perf_counter()
        for url, html in corpus:
            fn(url, html)
        runs.append(time.perf_counter() - t)
    return min(runs)


def ours(url, html):
    return extract(url, html)


def ours_generic(url, html):
    return extract(url, html, use_families=False)


def trafi(url, html):
    return trafilatura.bare_extraction(html.decode("utf-8", "replace"), url=url, with_metadata=True)


def lxml_floor(url, html):
    return lxml.html.document_fromstring(html)


# --- peers -----------------------------------------------------------------------------------------
# Each peer: a function (url, html bytes) -> its own output, as its documentation extracts from a page
# already fetched, and a function mapping that output to the common fields title, author, date, body
# (strings; date an ISO date or date and time). Every peer is scored by the same rules (`score_peer`).


def _text(value) -> str:
    if isinstance(value, list | tuple):  # a list of authors
        return ", ".join(str(v) for v in value if v)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value or "")


def trafi_fields(d) -> dict:
    d = d.as_dict() if hasattr(d, "as_dict") else (d or {})
    return {"title": d.get("title"), "author": d.get("author"), "date": d.get("date"), "body": d.get("text")}


def load_newspaper4k():
    with warnings.catch_warnings():  # "nltk is not installed": only Article.nlp() needs it, never called here
        warnings.simplefilter("ignore", UserWarning)
        import newspaper

    def run(url, html):
        # fetch_images=False: no image is downloaded to choose a top image; download(input_html=...) only
        # stores the page (no request; follow_meta_refresh and read_more_link are off by default); no nlp().
        article = newspaper.Article(url, fetch_images=False)
        article.download(input_html=html.decode("utf-8", "replace"))
        article.parse()
        return article

    def fields(a) -> dict:
        return {"title": a.title, "author": a.authors, "date": a.publish_date, "body": a.text}

    return run, fields, version("newspaper4k")


def load_news_please():
    with warnings.catch_warnings():  # newspaper4k's "nltk is not installed", imported by news-please
        warnings.simplefilter("ignore", UserWarning)
        from newsplease import NewsPlease

    def run(url, html):
        # from_html: the extractors only (newspaper without images, readability, dates, language); no
        # Scrapy crawl; the date extractor fetches the URL only when given no HTML.
        return NewsPlease.from_html(html.decode("utf-8", "replace"), url=url, fetch_images=False)

    def fields(a) -> dict:  # a.description (the sapo, mostly) is not scored: the other extractors lack it
        return {"title": a.title, "author": a.authors, "date": a.date_publish, "body": a.maintext}

    return run, fields, version("news-please")


OPTIONAL_PEERS = {"newspaper4k": load_newspaper4k, "news-please": load_news_please}


def load_peers() -> tuple[dict, dict, dict]:
    """{name: (run, fields)} of trafilatura and of each optional peer that imports, {name: version},
    {name: why it was skipped}."""
    peers = {"trafilatura": (trafi, trafi_fields)}
    versions = {"trafilatura": version("trafilatura")}
    skipped = {}
    for name, load in OPTIONAL_PEERS.items():
        try:
            run, fields, versions[name] = load()
        except (ImportError, PackageNotFoundError) as e:
            skipped[name] = f"{type(e).__name__}: {e}"
            print(f"{name}: skipped, it does not import ({skipped[name]}); pip install -e '.[bench]'")
            continue
        peers[name] = (run, fields)
    return peers, versions, skipped


# --- accuracy --------------------------------------------------------------------------------------


def truth(i: dict) -> dict:
    body = "\n".join(b if isinstance(b, str) else b["caption"] for b in i["body"] if isinstance(b, str) or b["caption"])
    return {"title": i["title"], "author": i["byline"], "published": i["published"], "day": i["published"][:10],
            "body": body}


def dates(when: str, t: dict) -> dict:
    """The same for every extractor: the day right; date and time right to the minute (a page without a date:
    right when none is given)."""
    return {"date_day": when[:10] == t["day"], "date_time": when[:16].replace("T", " ") == t["published"]}


def score_ours(a, t: dict) -> dict:
    """Ours: exact date and time (to the minute), exact blocks."""
    when = a.published_at[:16].replace("T", " ")
    return {"title": a.title == t["title"], "date": when == t["published"], "author": a.author == t["author"],
            "body": "\n".join(b.text for b in a.blocks) == t["body"], **dates(a.published_at, t)}


def score_peer(f: dict, t: dict) -> dict:
    """A peer, from its common fields: title and author exact; date right when the day matches (trafilatura
    gives no time of day: this flatters the peers); body right when every paragraph and caption of the content
    file is in its text (what else it has, the sapo, a related-links box, is not held against it)."""
    title, author, when, text = (_text(f.get(k)) for k in ("title", "author", "date", "body"))
    return {"title": title == t["title"], "date": when[:10] == t["day"] and bool(t["day"]),
            "author": author == t["author"],
            "body": all(p in text for p in t["body"].split("\n") if p) and bool(t["body"]), **dates(when, t)}


def accuracy(items: list[dict], peers: dict) -> dict:
    names = ["ours", "ours_generic", *peers]
    scores = {name: dict.fromkeys(("title", "date", "author", "body", "date_day", "date_time"), 0) for name in names}
    for i in items:
        html = Path(i["file"]).read_bytes()
        t = truth(i)
        marks = {"ours": score_ours(ours(i["url"], html), t), "ours_generic": score_ours(ours_generic(i["url"], html), t)}
        for name, (run, fields) in peers.items():
            marks[name] = score_peer(fields(run(i["url"], html)), t)
        for name, m in marks.items():
            for k, v in m.items():
                scores[name][k] += v
    n = len(items)
    return {name: {k: round(v / n, 3) for k, v in s.items()} for name, s in scores.items()} | {"pages": n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="passes over the pages per extractor, best kept (5)")
    ap.add_argument("--quick", action="store_true", help="one pass per extractor (--repeat 1)")
    args = ap.parse_args()
    repeat = 1 if args.quick else args.repeat
    corpus, items = pages()
    peers, versions, skipped = load_peers()
    for fn in (ours, ours_generic, lxml_floor):  # warm caches and imports
        fn(*corpus[0])
    for name, (run, _) in list(peers.items()):
        try:
            run(*corpus[0])
        except Exception as e:  # a peer that installs but cannot run here: left out, not a failed benchmark
            skipped[name] = f"{type(e).__name__}: {e}"
            print(f"{name}: skipped, it fails on {corpus[0][0]} ({skipped[name]})")
            del peers[name]
    results = {}
    for name, fn in (("lxml parse (floor)", lxml_floor), ("ours (family parsers)", ours),
                     ("ours (generic only)", ours_generic), *((n, run) for n, (run, _) in peers.items())):
        seconds = timed(fn, corpus, repeat)
        results[name] = {"ms_per_page": 1000 * seconds / len(corpus), "pages_per_s": len(corpus) / seconds}
    floor = results["lxml parse (floor)"]["ms_per_page"]
    trafi_ms = results["trafilatura"]["ms_per_page"]
    print(f"{len(corpus)} pages (mirror articles + real pages), best of {repeat}, every extractor on the same pages")
    print(f"{'extractor':24} {'ms/page':>9} {'pages/s':>9} {'x lxml':>8} {'trafilatura/x':>14}")
    for name, r in results.items():
        r["x_lxml"] = r["ms_per_page"] / floor
        r["speedup_vs_trafilatura"] = trafi_ms / r["ms_per_page"]
        print(f"{name:24} {r['ms_per_page']:9.2f} {r['pages_per_s']:9.1f} {r['x_lxml']:8.2f} {r['speedup_vs_trafilatura']:14.2f}")
    acc = accuracy(items, peers)
    print(f"\nfield accuracy on {acc['pages']} mirror articles (against the content files)")
    print(f"{'extractor':16} {'title':>6} {'day':>6} {'date+time':>10} {'author':>7} {'body':>6}")
    for name in ("ours", "ours_generic", *peers):
        a = acc[name]
        print(f"{name:16} {a['title']:6.2f} {a['date_day']:6.2f} {a['date_time']:10.2f} {a['author']:7.2f} {a['body']:6.2f}")
    print("title, author: exact. day, date+time: the same rule for all (a page without a date: right when none is\n"
          "given). body: ours exact blocks; the peers right when every paragraph and caption is found in their text.\n"
          "JSON 'date' as before: date+time for ours, the day for the peers (trafilatura gives no time of day)")
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "extract.json").write_text(json.dumps({"speed": results, "accuracy": acc, "versions": versions,
                                                   "skipped": skipped, "repeat": repeat,
                                                   "median_floor_ms": statistics.median([floor])}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

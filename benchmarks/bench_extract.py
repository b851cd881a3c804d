"""Extraction speed and field accuracy: our extractor beside trafilatura, on the same pages, in one run.

Pages: every article page of the local mirror plus the real pages in ../shared/realhtml when present.
The floor is lxml parsing the same bytes; every figure is also printed as a ratio to it, because
this machine is shared and noisy. Accuracy is measured on the mirror pages, whose content files
are the ground truth. Writes benchmarks/results/extract.json.

    python benchmarks/bench_extract.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import lxml.html
import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler.extract import extract  # noqa: E402
from crawler.fixtures import mirror_articles  # noqa: E402


def pages() -> tuple[list[tuple[str, bytes]], list[dict]]:
    items = [i for i in mirror_articles(REPO) if i["kind"] == "article"]
    out = [(i["url"], Path(i["file"]).read_bytes()) for i in items]
    real = REPO.parent / "shared" / "realhtml"
    for path in sorted(real.glob("*/article_*.html")) if real.is_dir() else []:
        out.append((f"https://{path.parent.name}/{path.stem}.html", path.read_bytes()))
    return out, items


def timed(fn, corpus, repeat: int) -> float:
    """Best-of-`repeat` seconds for one pass over the corpus (best-of damps a noisy machine)."""
    runs = []
    for _ in range(repeat):
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


def accuracy(items: list[dict]) -> dict:
    fields = {"title": [], "date": [], "author": [], "body": []}
    scores = {"ours": {k: 0 for k in fields}, "ours_generic": {k: 0 for k in fields}, "trafilatura": {k: 0 for k in fields}}
    for i in items:
        html = Path(i["file"]).read_bytes()
        truth_body = "\n".join(b if isinstance(b, str) else b["caption"] for b in i["body"] if isinstance(b, str) or b["caption"])
        truth_date = i["published"][:10]
        for name, fn in (("ours", ours), ("ours_generic", ours_generic)):
            a = fn(i["url"], html)
            s = scores[name]
            s["title"] += a.title == i["title"]
            s["date"] += a.published_at[:16].replace("T", " ") == i["published"]
            s["author"] += a.author == i["byline"]
            s["body"] += "\n".join(b.text for b in a.blocks) == truth_body
        d = trafi(i["url"], html)
        d = d.as_dict() if hasattr(d, "as_dict") else (d or {})
        s = scores["trafilatura"]
        s["title"] += (d.get("title") or "") == i["title"]
        # trafilatura gives a date without time: count it right only for the day, which flatters it.
        s["date"] += (d.get("date") or "")[:10] == truth_date and bool(truth_date)
        s["author"] += (d.get("author") or "") == i["byline"]
        text = d.get("text") or ""
        s["body"] += all(p in text for p in truth_body.split("\n") if p) and bool(truth_body)
    n = len(items)
    return {name: {k: round(v / n, 3) for k, v in s.items()} for name, s in scores.items()} | {"pages": n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    corpus, items = pages()
    for fn in (ours, ours_generic, trafi, lxml_floor):  # warm caches and imports
        fn(*corpus[0])
    results = {}
    for name, fn in (("lxml parse (floor)", lxml_floor), ("ours (family parsers)", ours),
                     ("ours (generic only)", ours_generic), ("trafilatura", trafi)):
        seconds = timed(fn, corpus, args.repeat)
        results[name] = {"ms_per_page": 1000 * seconds / len(corpus), "pages_per_s": len(corpus) / seconds}
    floor = results["lxml parse (floor)"]["ms_per_page"]
    trafi_ms = results["trafilatura"]["ms_per_page"]
    print(f"{len(corpus)} pages (mirror articles + real pages), best of {args.repeat}")
    print(f"{'extractor':24} {'ms/page':>9} {'pages/s':>9} {'x lxml':>8} {'trafilatura/x':>14}")
    for name, r in results.items():
        r["x_lxml"] = r["ms_per_page"] / floor
        r["speedup_vs_trafilatura"] = trafi_ms / r["ms_per_page"]
        print(f"{name:24} {r['ms_per_page']:9.2f} {r['pages_per_s']:9.1f} {r['x_lxml']:8.2f} {r['speedup_vs_trafilatura']:14.2f}")
    acc = accuracy(items)
    print(f"\nfield accuracy on {acc['pages']} mirror articles (exact match against the content files)")
    print(f"{'extractor':16} {'title':>6} {'date+time':>10} {'author':>7} {'body':>6}")
    for name in ("ours", "ours_generic", "trafilatura"):
        a = acc[name]
        print(f"{name:16} {a['title']:6.2f} {a['date']:10.2f} {a['author']:7.2f} {a['body']:6.2f}")
    print("(trafilatura's date counts as right when the day matches: it gives no time of day)")
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "extract.json").write_text(json.dumps({"speed": results, "accuracy": acc,
                                                   "median_floor_ms": statistics.median([floor])}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

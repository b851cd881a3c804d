"""Every benchmark in sequence (what `make bench` runs), each in its own process, then a summary.

  bench_extract.py  extraction speed and accuracy beside trafilatura, newspaper4k and news-please
                    (the last two where installed: `make bench` runs this one in .venv-bench, see --extract-python)
  bench_sqlite.py   storage layer ingest beside plain sqlite3 executemany, size per 1,000 articles
  bench_crawl.py    end-to-end `scrapy crawl` beside a bare Scrapy spider on a generated 5,000-article mirror
  bench_scale.py    the same crawl at 1,000, 5,000 and 20,000 articles
  bench_neardup.py  near-duplicate index on 100,000 generated articles beside brute-force Jaccard on a sample
  bench_refresh.py  full crawl, no-change refresh and a refresh with 5 new articles per paper, whole registry
  bench_warc.py     WARC archive bytes per article, crawl with and without WARC_DIR, reextract speed
  bench_distributed.py  articles/s with 1, 2 and 4 workers and one ingest through Redis, beside one process
                    (about 3 minutes; needs redis-server: `make redis`)

A failing benchmark does not stop the others (unless --fail-fast); the exit code is 1 if any failed.
Each script also runs alone (`--help`, `--quick`); each writes benchmarks/results/<name>.json.
Full run: 10-14 minutes on the 2-core development machine (depending on its load); --quick: about a minute.

    python benchmarks/run_all.py [--quick] [--only crawl,scale] [--fail-fast] [--extract-python PY]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

SCRIPTS = {  # name: (script, args for --quick)
    "extract": ("bench_extract.py", ["--repeat", "1"]),
    "sqlite": ("bench_sqlite.py", ["--quick"]),
    "crawl": ("bench_crawl.py", ["--quick"]),
    "scale": ("bench_scale.py", ["--quick"]),
    "neardup": ("bench_neardup.py", ["--quick"]),
    "refresh": ("bench_refresh.py", ["--papers", "baocaobang,baonamdinh,baocantho,baolaocai"]),
    "warc": ("bench_warc.py", ["--quick"]),
    "distributed": ("bench_distributed.py", ["--quick"]),
}


def summary_line(name: str) -> str:
    try:
        r = json.loads((RESULTS / f"{name}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return "(no results)"
    if name == "extract":
        s = r["speed"]["ours (family parsers)"]
        return f"ours {s['ms_per_page']:.2f} ms/page, {s['speedup_vs_trafilatura']:.2f}x trafilatura's speed"
    if name == "sqlite":
        x = r["ratio_ours_over_peer"]
        return (f"{r['ours']['ingest_articles_per_s']:.0f} art/s ({x['ingest_articles_per_s']:.2f}x executemany), "
                f"{r['ours']['db_mb_per_1000']:.1f} MB per 1,000 articles")
    if name == "crawl":
        x = r["ratio_ours_over_bare"]
        return (f"{r['articles']} articles: {r['ours']['steady_articles_per_s']:.0f} art/s steady "
                f"({x['steady_articles_per_s']:.2f}x bare), {r['ours']['articles_per_s_wall']:.0f} art/s wall "
                f"({x['articles_per_s_wall']:.2f}x bare), peak RSS {r['ours']['peak_rss_mb']:.0f} MB ({x['peak_rss']:.2f}x bare)")
    if name == "scale":
        parts = [f"{g['label']}: {g['ours']['steady_ms_per_article']:.2f}x time/article, "
                 f"{g['ours']['peak_rss_mb']:.2f}x RSS" for g in r["growth"]]
        return "; ".join(parts)
    if name == "refresh":
        runs = list(r["runs"].values())
        return (f"{r['papers']} papers: full crawl {runs[0]['requests']} requests in {runs[0]['seconds']:.1f} s; "
                f"no change {runs[1]['requests']} requests ({runs[1]['article_requests']} article) in "
                f"{runs[1]['seconds']:.1f} s; {r['new_per_paper']} new per paper {runs[2]['requests']} requests in "
                f"{runs[2]['seconds']:.1f} s")
    if name == "warc":
        return (f"{r['papers']} papers, {r['articles']} articles: {r['warc_bytes_per_article']:,} WARC bytes per "
                f"article ({r['article_page_bytes_per_article']:,} for the article page); crawl "
                f"{r['crawl_seconds_without_warc']:.1f} s without, {r['crawl_seconds_with_warc']:.1f} s with; "
                f"reextract {r['reextract_seconds']:.1f} s")
    if name == "distributed":
        rates = ", ".join(f"{k} {v['articles_per_s']:.0f}" for k, v in r["runs"].items())
        return f"{r['articles']} articles, art/s: {rates} ({r['machine']['cpus']} CPUs shared by all)"
    if name == "neardup":
        q, x = r["quality"], r["sample"]
        return (f"{r['articles']:,} articles indexed in {r['indexing']['wall_seconds']:.1f} s "
                f"(peak RSS {r['indexing']['peak_rss_mb']:.0f} MB), {r['query']['ms_per_article']:.2f} ms per new "
                f"article, precision {q['precision']:.3f}, recall {q['recall']:.3f}; brute force "
                f"{x['ratio_brute_force_all_over_our_indexing']:.0f}x slower (extrapolated)")
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--quick", action="store_true", help="small sizes everywhere: a smoke run of every benchmark")
    ap.add_argument("--only", help=f"comma-separated subset of {','.join(SCRIPTS)}")
    ap.add_argument("--extract-python", default=sys.executable,
                    help="the Python that runs bench_extract.py (make bench: .venv-bench's, where the peers "
                         "newspaper4k and news-please are installed; they pin older cssselect and dateutil, so "
                         "they stay out of the project's .venv)")
    ap.add_argument("--fail-fast", action="store_true", help="stop at the first failing benchmark (default: run all)")
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        print(f"error: unknown benchmark(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    done = []
    t_all = time.perf_counter()
    for name in names:
        script, quick_args = SCRIPTS[name]
        python = args.extract_python if name == "extract" else sys.executable
        cmd = [python, str(HERE / script), *(quick_args if args.quick else [])]
        print(f"\n=== {name}: {' '.join(Path(c).name if c.endswith('.py') else c for c in cmd[1:])}", flush=True)
        t = time.perf_counter()
        rc = subprocess.call(cmd, cwd=HERE.parent)
        done.append((name, rc, time.perf_counter() - t))
        if rc and args.fail_fast:
            break
    print(f"\n=== summary ({'quick' if args.quick else 'full'}, {time.perf_counter() - t_all:.0f} s in all)")
    for name, rc, secs in done:
        status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        print(f"{name:8} {secs:6.0f} s  {status:18} {summary_line(name) if rc == 0 else ''}")
    return max((rc for _, rc, _ in done), default=0) and 1


if __name__ == "__main__":
    raise SystemExit(main())

"""End-to-end crawl: our full `scrapy crawl` beside a bare Scrapy spider, on a generated mirror, in one run.

A mirror of N generated articles (default 5,000) over four papers of four CMS families (baocaobang F6,
baonamdinh F3, baocantho F4, baolaocai F1) is rendered through the real templates by
crawler.fixtures.build_mirror into a temporary directory and served by `python -m crawler mirror` in
its own process. Per paper, in turn:

  ours  `scrapy crawl KEY` (discovery from the seed's home, sections, pagination, listing API, feed,
        sitemap; extraction; validate/render/dedupe/store pipelines; SQLite with FTS), DOWNLOAD_DELAY=0,
        AutoThrottle off, CONCURRENT_REQUESTS(_PER_DOMAIN)=--concurrency;
  bare  benchmarks/bare_spider.py fetching the same article URLs from the same mirror, doing nothing.

Each runs as a child process: wall time, Scrapy's elapsed_time_seconds (engine only, without
interpreter start-up), CPU seconds and the child's own peak RSS (os.wait4, through a small launcher
process so that no parent's RSS is inherited); benchmarks/probe.py, an extension added to both,
gives the steady-state rate and CPU per article (10 %..90 % of the responses). Ratios ours/bare are
the figures to compare across runs: this machine is shared and noisy. Writes
benchmarks/results/crawl.json. See benchmarks/common.py for why every article is discoverable.

    python benchmarks/bench_crawl.py [--articles 5000] [--quick] [--concurrency 16] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import generate_mirror, machine, measure_crawl, workdir, write_json


def print_table(r: dict) -> None:
    o, b, x = r["ours"], r["bare"], r["ratio_ours_over_bare"]
    print(f"{r['articles']} generated articles over {len(r['papers'])} papers ({', '.join(r['papers'])}); "
          f"concurrency {r['concurrency']}; mirror built in {r['mirror_build_s']:.1f} s")
    cols = [("art/s wall", "articles_per_s_wall", "articles_per_s_wall", "{:.1f}"),
            ("art/s engine", "articles_per_s_engine", "articles_per_s_engine", "{:.1f}"),
            ("art/s steady", "steady_articles_per_s", "steady_articles_per_s", "{:.1f}"),
            ("CPU ms/art", "cpu_ms_per_article", "cpu_per_article", "{:.2f}"),
            ("steady CPU ms/art", "steady_cpu_ms_per_article", "steady_cpu_per_article", "{:.2f}"),
            ("peak RSS MB", "peak_rss_mb", "peak_rss", "{:.1f}")]
    print(f"{'':22} " + " ".join(f"{h:>{max(len(h), 9)}}" for h, *_ in cols) + f" {'requests':>9} {'mirror CPU ms/art':>17}")
    for name, d in (("ours (scrapy crawl)", o), ("bare scrapy spider", b)):
        print(f"{name:22} " + " ".join(f"{f.format(d[k]):>{max(len(h), 9)}}" for h, k, _, f in cols)
              + f" {d['requests']:9d} {d['mirror_cpu_ms_per_article']:17.2f}")
    print(f"{'ratio ours/bare':22} " + " ".join(f"{x[rk]:>{max(len(h), 9)}.2f}" for h, _, rk, _ in cols))
    print("\nper paper (engine seconds, peak RSS MB)")
    print(f"{'paper':12} {'articles':>8} {'stored':>7} {'ours s':>7} {'bare s':>7} {'ours/bare':>9} {'ours MB':>8} {'bare MB':>8}")
    for key, p in r["per_paper"].items():
        print(f"{key:12} {p['articles']:8d} {p['stored']:7d} {p['ours']['engine_s']:7.2f} {p['bare']['engine_s']:7.2f} "
              f"{p['ours']['engine_s'] / p['bare']['engine_s']:9.2f} {p['ours']['peak_rss_mb']:8.1f} {p['bare']['peak_rss_mb']:8.1f}")
    print(f"\nSQLite after the crawl: {r['db_articles']} articles, {r['db_mb_per_1000']:.2f} MB per 1,000 articles")
    print("wall: the child processes' wall time, interpreter start-up included; engine: Scrapy's elapsed_time_seconds;\n"
          "steady: between 10 % and 90 % of each run's responses (benchmarks/probe.py), start-up and tail left out;\n"
          "CPU: the crawl process's CPU time (start-up included); steady CPU: the process's CPU per response in the\n"
          "steady window (least sensitive to a busy machine); mirror CPU: the server process's during the run;\n"
          "peak RSS: the largest per-paper process (os.wait4 via a small launcher)")
    lo = {w: r[w]["listen_overflows"] for w in ("ours", "bare")}
    if any(lo.values()):
        print(f"note: TCP listen-queue overflows during the runs (ours {lo['ours']}, bare {lo['bare']}; counted for the"
              " whole network namespace, other processes' included):\n      one at the mirror costs a connection"
              " a 1 s SYN retransmit, in the engine and wall times, not in the steady figures")
    for p in r["problems"]:
        print(f"PROBLEM: {p}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--articles", type=int, default=5000, help="generated articles in all (default 5000)")
    ap.add_argument("--quick", action="store_true", help="400 articles: a smoke run in seconds")
    ap.add_argument("--concurrency", type=int, default=16, help="CONCURRENT_REQUESTS and _PER_DOMAIN (default 16)")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (mirror, logs, database)")
    args = ap.parse_args(argv)
    n = 400 if args.quick else args.articles
    work = workdir(args.keep)
    try:
        m = generate_mirror(n, work)
        r = measure_crawl(m, work, args.concurrency)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    r["machine"] = machine()
    r["quick"] = args.quick
    print_table(r)
    path = write_json("crawl", r)
    print(f"\nwrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 1 if r["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Incremental refresh over the whole registry: what a full crawl, a no-change refresh and a refresh
with five new articles per paper cost, in requests and seconds, beside each other in one run.

Every paper of seeds/ is served by an evolving copy of its mirror content (tests/evolving_mirror.py);
each run is `python -m crawler refresh --fast` over all papers in its own process, as cron runs it.

  run 1  full crawl into an empty database
  run 2  nothing changed: only the first listing pages, feeds and sitemaps (mostly 304)
  run 3  five new articles published per paper (and the clock moved past the recheck delay, so
         the young articles are rechecked once: that is what an hourly cron meets)

The ratios are each run's requests and seconds over the full crawl's, measured in the same run.

    python benchmarks/bench_refresh.py [--new N] [--papers KEY,KEY]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler.mirror import MirrorServer  # noqa: E402
from crawler.registry import default_registry  # noqa: E402
from tests.evolving_mirror import EvolvingMirror, article_paths, crawl_rows, refresh  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def one_run(db: Path, mirror: MirrorServer, keys: list[str]) -> dict:
    first, seen = len(crawl_rows(db)) + 1 if db.exists() else 1, len(mirror.requests)
    started = time.perf_counter()
    run = refresh(db, mirror.url, keys=keys, timeout=1800)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"refresh failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    log = mirror.requests[seen:]
    rows = [r for r in crawl_rows(db) if r["id"] >= first]
    return {
        "seconds": round(seconds, 2),
        "requests": len(log),
        "article_requests": len(article_paths(log, keys)),
        "not_modified": sum(1 for _, _, status in log if status == 304),
        "articles_new": sum(r["articles_new"] for r in rows),
        "articles_updated": sum(r["articles_updated"] for r in rows),
        "outcomes": sorted({r["outcome"] for r in rows}),
    }


def make_recheck_due(db: Path, hours: float = 7) -> None:
    """Move every stored article's first_seen `hours` back (past NEWS_RECHECK_DELAY_HOURS), as if
    this refresh ran that much later: young articles are then rechecked, as an hourly cron meets."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, first_seen FROM articles").fetchall()
    with conn:
        for art_id, first_seen in rows:
            earlier = (datetime.fromisoformat(first_seen) - timedelta(hours=hours)).isoformat(timespec="seconds")
            conn.execute("UPDATE articles SET first_seen = ? WHERE id = ?", [earlier, art_id])
    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--new", type=int, default=5, help="articles published per paper before run 3 (default 5)")
    parser.add_argument("--papers", default="", help="comma-separated keys (default: the whole registry)")
    args = parser.parse_args(argv)
    keys = [k for k in args.papers.split(",") if k] or [s.key for s in default_registry()]

    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        evolving = EvolvingMirror(Path(tmp) / "root", papers=keys)
        evolving.build()
        db = Path(tmp) / "news.db"
        runs = {}
        with MirrorServer(evolving.sites, port=0) as mirror:
            runs["full crawl"] = one_run(db, mirror, keys)
            runs["no-change refresh"] = one_run(db, mirror, keys)
            for key in keys:
                for _ in range(args.new):
                    evolving.publish(key)
            evolving.build()
            make_recheck_due(db)
            runs[f"refresh, {args.new} new per paper"] = one_run(db, mirror, keys)

    full = runs["full crawl"]
    print(f"Refresh of {len(keys)} papers (python -m crawler refresh --fast, one process per run)\n")
    print(f"{'run':<28}{'seconds':>9}{'requests':>10}{'article req':>13}{'304':>6}{'new':>6}{'updated':>9}"
          f"{'time ×full':>12}{'req ×full':>11}")
    for name, r in runs.items():
        print(f"{name:<28}{r['seconds']:>9.1f}{r['requests']:>10}{r['article_requests']:>13}{r['not_modified']:>6}"
              f"{r['articles_new']:>6}{r['articles_updated']:>9}{r['seconds'] / full['seconds']:>12.2f}"
              f"{r['requests'] / full['requests']:>11.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "refresh.json"
    out.write_text(json.dumps({"papers": len(keys), "new_per_paper": args.new, "runs": runs}, indent=2), "utf-8")
    print(f"\nwritten {out.relative_to(REPO)}")
    expected_new = args.new * len(keys)
    third = runs[f"refresh, {args.new} new per paper"]
    if third["articles_new"] != expected_new:
        print(f"WARNING: run 3 stored {third['articles_new']} new articles, {expected_new} were published")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`make demo`: serve the local mirror, crawl every paper through it into SQLite, report."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from crawler.mirror import MirrorServer
from crawler.run import run_crawl

REPO = Path(__file__).resolve().parent.parent


def run_demo(db: str) -> int:
    db_path = Path(db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)  # a demo starts from an empty database
    with MirrorServer(REPO / "mirror" / "sites", host="127.0.0.1", port=0) as mirror:
        print(f"mirror serving on {mirror.url}")
        started = time.perf_counter()
        code = run_crawl([], db=str(db_path), mirror=mirror.url, fast=True, LOG_LEVEL="WARNING")
        elapsed = time.perf_counter() - started
    conn = sqlite3.connect(db_path)
    total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    per_site = conn.execute("SELECT site, count(*) FROM articles GROUP BY site ORDER BY site").fetchall()
    conn.close()
    print(f"\n{total} articles in {db_path} ({total / elapsed:.1f} articles/s, {elapsed:.1f} s for the whole crawl)")
    for site, n in per_site:
        print(f"  {site}: {n}")
    print(f"\nBrowse it:  .venv/bin/python -m crawler serve --db {db_path} --open   (or: make serve)")
    print(f"Export it:  .venv/bin/python -m crawler export --db {db_path} --out out/")
    return code

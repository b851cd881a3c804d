"""Distributed crawling: articles/s with 1, 2 and 4 workers and one ingest, beside one process, in one run.

A generated mirror of N articles (default 2,000) over the four benchmark papers (benchmarks/common.py)
is served by `python -m crawler mirror` in its own process, Redis by Debian's redis-server on a
loopback port (tests/redis_server.py). Per configuration, on an empty database and an empty Redis:

  single     `python -m crawler crawl --fast` of the four papers: one process, no Redis (the peer);
  N workers  N `python -m crawler worker --fast` processes and one `python -m crawler ingest`.

The workers are started first and wait for the ingest; the clock starts when the ingest has
published the run (`ready`) and stops when the database holds every generated article (polled every
0.1 s), so interpreter start-up and the workers' idle wait at the end are left out; for the single
process, from its first to its last stored article's `first_seen` is too coarse (seconds), so its clock
runs from the process start to the last article, start-up included (about 2 s: say so when comparing).
Also the CPU seconds of the workers, the ingest and the mirror (os.wait4 / /proc). Every
configuration must store all N articles, each article page fetched once (the crawl rows'
article_requests). Writes benchmarks/results/distributed.json.

All processes share this machine's cores (2 on the development machine): more workers than cores
measures contention, not scale-out; on separate machines each worker brings its own CPU.

    python benchmarks/bench_distributed.py [--articles 2000] [--quick] [--workers 1,2,4] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PY, REPO, MirrorProcess, child_env, generate_mirror, machine, workdir, write_json

from tests.redis_server import RedisServer

IDLE = "2"  # NEWS_REDIS_IDLE_SECONDS


def count(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()


def article_requests(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COALESCE(sum(article_requests), 0) FROM crawls").fetchone()[0]
    finally:
        conn.close()


def spawn(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "w") as err:
        return subprocess.Popen([PY, "-m", "crawler", *args], cwd=REPO, env=child_env(), stdout=subprocess.DEVNULL,
                                stderr=err)


def reap(proc: subprocess.Popen, timeout: float = 600) -> float:
    """Wait for `proc`; its CPU seconds (user + system) from its own rusage."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.05)


def wait_until_stored(db: Path, n: int, procs: list[subprocess.Popen], timeout: float = 900) -> float:
    deadline = time.monotonic() + timeout
    while count(db) < n:
        if time.monotonic() > deadline or all(p.poll() is not None for p in procs):
            raise RuntimeError(f"{count(db)} of {n} articles stored")
        time.sleep(0.1)
    return time.monotonic()


def run_single(papers: list[str], mirror_url: str, db: Path, n: int, work: Path) -> dict:
    t0 = time.monotonic()
    proc = spawn(["crawl", "--fast", "--mirror", mirror_url, "--db", str(db), *papers], work / "single.log")
    t1 = wait_until_stored(db, n, [proc])
    cpu = reap(proc)
    return {"seconds": t1 - t0, "cpu_s": cpu, "returncode": proc.returncode}


def run_distributed(k: int, papers: list[str], mirror_url: str, redis: RedisServer, db: Path, n: int,
                    work: Path) -> dict:
    client = redis.client()
    client.flushall()
    common = ["--redis", redis.url, "-s", f"NEWS_REDIS_IDLE_SECONDS={IDLE}"]
    workers = [spawn(["worker", "--fast", "--mirror", mirror_url, *common, *papers], work / f"w{k}-{i}.log")
               for i in range(k)]
    for i in range(k):  # all waiting for the run before it begins
        while "waiting for the ingest" not in (work / f"w{k}-{i}.log").read_text():
            time.sleep(0.05)
    ingest = spawn(["ingest", "--db", str(db), *common, *papers], work / f"ingest{k}.log")
    while not all(client.exists(f"news:{p}:ready") for p in papers):
        time.sleep(0.02)
    t0 = time.monotonic()
    t1 = wait_until_stored(db, n, [ingest])
    worker_cpu = sum(reap(w) for w in workers)
    ingest_cpu = reap(ingest)
    codes = [w.returncode for w in workers] + [ingest.returncode]
    return {"seconds": t1 - t0, "cpu_s": worker_cpu + ingest_cpu, "worker_cpu_s": worker_cpu,
            "ingest_cpu_s": ingest_cpu, "returncode": max(codes, key=abs)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--articles", type=int, default=2000, help="generated articles in all (default 2000)")
    ap.add_argument("--quick", action="store_true", help="400 articles, 1 and 2 workers")
    ap.add_argument("--workers", default="1,2,4", help="worker counts to measure (default 1,2,4)")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (mirror, logs, databases)")
    args = ap.parse_args(argv)
    n = 400 if args.quick else args.articles
    counts = [1, 2] if args.quick else [int(x) for x in args.workers.split(",")]
    work = workdir(args.keep)
    problems, runs = [], {}
    try:
        m = generate_mirror(n, work)
        papers = list(m.articles)
        with MirrorProcess(m.sites) as mp, RedisServer() as redis:
            for name in ["single", *(f"{k} workers" for k in counts)]:
                db = work / f"{name.replace(' ', '-')}.db"
                c0 = mp.cpu_s()
                if name == "single":
                    r = run_single(papers, mp.url, db, m.total, work)
                else:
                    r = run_distributed(int(name.split()[0]), papers, mp.url, redis, db, m.total, work)
                r["mirror_cpu_s"] = mp.cpu_s() - c0
                r["articles"], r["article_requests"] = count(db), article_requests(db)
                r["articles_per_s"] = r["articles"] / r["seconds"]
                runs[name] = r
                if r["returncode"] != 0:
                    problems.append(f"{name}: exit code {r['returncode']} (logs in {work})")
                if r["article_requests"] != m.total:
                    problems.append(f"{name}: {r['article_requests']} article requests for {m.total} articles")
                print(f"{name:10} {r['articles_per_s']:7.1f} art/s  {r['seconds']:6.1f} s  {r['articles']} articles, "
                      f"{r['article_requests']} article requests; CPU s: crawl {r['cpu_s']:.1f}, mirror "
                      f"{r['mirror_cpu_s']:.1f}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    base = runs.get("1 workers", {}).get("articles_per_s")
    for r in runs.values():
        r["speedup_over_1_worker"] = r["articles_per_s"] / base if base else None
    result = {"articles": n, "papers": papers, "runs": runs, "problems": problems, "machine": machine(),
              "quick": args.quick}
    for p in problems:
        print(f"PROBLEM: {p}")
    path = write_json("distributed", result)
    print(f"wrote {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""kill -9 at random points of a refresh of several papers (seeded), again and again: the database is
always consistent (integrity_check ok, no half-written article, no duplicate, FTS in step, records
agreeing with the articles), and a last clean run completes the golden set, each article once.

5 kill points by default; 50 under `make soak` (NEWS_SOAK=1); NEWS_KILL_SEED picks another sequence."""

from __future__ import annotations

import os
import random
import signal
import subprocess

from crawler.mirror import MirrorServer
from tests.evolving_mirror import query, refresh
from tests.reliability import SITES, golden, problems, stored

KEYS = ("baocantho", "baolaocai", "baocaobang", "baonamdinh", "hanoimoi", "sggp", "baoquangninh", "baodanang")
KILLS = 50 if os.environ.get("NEWS_SOAK") else 5
SEED = int(os.environ.get("NEWS_KILL_SEED", "2024"))


def test_kill_9_at_random_points_never_leaves_a_damaged_database(tmp_path, capsys):
    gold = golden(KEYS)
    texts = {i: a["text"] for i, a in gold.items()}
    rng = random.Random(SEED)
    db = tmp_path / "news.db"
    killed, completed, runs = [], 0, 0
    # Small batches (more commits to land between) and a slow mirror (a run lasts a few seconds).
    slow = ("-s", "NEWS_BATCH_SIZE=2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
    with MirrorServer(SITES, port=0, delay=0.05) as srv:
        while len(killed) < KILLS:
            runs += 1
            assert runs <= 4 * KILLS, "runs keep finishing before their kill point"
            proc = refresh(db, srv.url, *slow, keys=KEYS, background=True)
            at = rng.uniform(0.3, 4.0)
            try:
                proc.communicate(timeout=at)
                completed += 1  # finished before its kill point: start again from nothing
                assert proc.returncode == 0
                assert stored(db) == texts and problems(db) == []
                for f in tmp_path.glob("news.db*"):
                    f.unlink()
                continue
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.communicate()
            killed.append(round(at, 2))
            if not db.exists():
                continue  # killed before the file was created
            assert problems(db) == [], f"after kill -9 at {at:.2f} s"
            # Every article there is whole: exactly the golden document, nothing half-written.
            partial = stored(db)
            assert {i: texts.get(i) for i in partial} == partial
        cut = len(srv.requests)
        final = refresh(db, srv.url, keys=KEYS)
        assert final.returncode == 0, final.stderr[-3000:]
        refetched = len(srv.requests) - cut
    assert stored(db) == texts  # the whole set, each once, byte for byte: nothing lost
    assert query(db, "SELECT count(*) FROM articles")[0][0] == len(gold)
    assert query(db, "SELECT url FROM frontier") == [] and problems(db) == []
    with capsys.disabled():
        print(f"\nkill -9: {len(killed)} kill points (seed {SEED}, s: {sorted(killed)}), {completed} runs done "
              f"before their kill point; final run {refetched} requests; {len(gold)} articles, lost 0")

"""`python -m crawler export`: seed-schema files named from hex ids only, or JSON Lines, filtered by
paper and publication day, and `--dedupe` leaving out non-canonical members of duplicate clusters."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.article import PARAGRAPH, Article, Block
from crawler.canonical import url_id
from crawler.export import export
from crawler.neardup import ensure_schema as ensure_neardup_schema
from crawler.render import content_hash
from crawler.storage import Batch, Store

REPO = Path(__file__).resolve().parent.parent


def article(n: int, site: str, day: str, title: str = "") -> Article:
    # A hostile title and URL path: none of it may reach a file name.
    a = Article(url=f"https://{site}.vn/../../etc/passwd-{n}.html", site=site, title=title or f"../Bài {n}/\\:*?",
                blocks=[Block(PARAGRAPH, f"Nội dung {n}.")], published_at=f"{day}T08:00:00+07:00" if day else "")
    a.canonical_url = a.url
    a.id, a.content_hash, a.text = url_id(a.url), content_hash(a), f"{a.title}\n\nNội dung {n}."
    return a


ARTICLES = [article(1, "baocaobang", "2025-12-31"), article(2, "baocaobang", "2026-01-01"),
            article(3, "baocantho", "2026-01-15"), article(4, "baocantho", "")]


@pytest.fixture
def db(tmp_path) -> Path:
    store = Store(tmp_path / "news.db")
    store.write_batch(Batch(articles=ARTICLES), None)
    store.close()
    return tmp_path / "news.db"


def exported_ids(out: Path) -> list[str]:
    names = sorted(p.name for p in out.iterdir())
    assert all(re.fullmatch(r"\d{3}_[0-9a-f]{16}\.txt", n) for n in names), names
    return [n[4:20] for n in names]


def test_txt_files_are_the_documents_named_by_number_and_hex_id(db, tmp_path):
    out = tmp_path / "out"
    assert export(db, out) == 4
    for name in sorted(p.name for p in out.iterdir()):
        text = (out / name).read_text(encoding="utf-8")
        assert text == next(a.text for a in ARTICLES if a.id == name[4:20])
    assert [p.name for p in tmp_path.rglob("*") if "passwd" in p.name or "Bài" in p.name] == []


def test_filters_by_paper_and_publication_day(db, tmp_path):
    by_id = {a.id: a for a in ARTICLES}
    assert export(db, tmp_path / "a", site=["baocantho"]) == 2
    assert {by_id[i].site for i in exported_ids(tmp_path / "a")} == {"baocantho"}
    assert export(db, tmp_path / "b", since="2026-01-01") == 2  # the day itself included, undated left out
    assert set(exported_ids(tmp_path / "b")) == {ARTICLES[1].id, ARTICLES[2].id}
    assert export(db, tmp_path / "c", until="2026-01-01") == 1  # the day itself excluded
    assert exported_ids(tmp_path / "c") == [ARTICLES[0].id]
    with pytest.raises(ValueError, match="--since must be YYYY-MM-DD"):
        export(db, tmp_path / "d", since="01/01/2026")


def test_jsonl_records(db, tmp_path):
    out = tmp_path / "x" / "a.jsonl"
    assert export(db, out, fmt="jsonl", site=["baocaobang"], since="2026-01-01") == 1
    [record] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["id"] == ARTICLES[1].id and record["text"] == ARTICLES[1].text
    assert record["body"] == "Nội dung 2." and record["tags"] == [] and record["images"] == []


def test_dedupe_without_clusters_exports_everything(db, tmp_path):
    assert export(db, tmp_path / "out", dedupe=True) == 4


def test_dedupe_keeps_the_canonical_member_of_each_near_duplicate_cluster(db, tmp_path):
    store = Store(db)
    ensure_neardup_schema(store.db.conn)  # the tables crawler/neardup.py writes
    keep, drop = ARTICLES[1].id, ARTICLES[2].id  # one cluster: 2 the original, 3 its near-duplicate
    store.db.execute("INSERT INTO clusters VALUES (1, ?, 2, 'now', 'now')", [keep])
    store.db.conn.executemany("INSERT INTO cluster_members VALUES (?, 1, ?, 0.8, ?, 'now')",
                              [(keep, 1, drop), (drop, 0, keep)])
    store.close()
    assert export(db, tmp_path / "out", dedupe=True) == 3
    assert drop not in exported_ids(tmp_path / "out") and keep in exported_ids(tmp_path / "out")
    assert export(db, tmp_path / "all") == 4  # without --dedupe, everything


def test_cli_export_with_dedupe(db, tmp_path):
    out = tmp_path / "a.jsonl"
    run = subprocess.run([sys.executable, "-m", "crawler", "export", "--db", str(db), "--out", str(out),
                          "--format", "jsonl", "--site", "baocaobang", "--dedupe"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"exported 2 articles to {out}"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2

"""Exports of stored articles: seed-schema text files (`NNN_<id>.txt`) or JSON Lines.

`dedupe`: exact duplicates never become articles (they are aliases), so what is left to drop are
near-duplicates: the members of a cluster (`cluster_members`, crawler/neardup.py) other than its
canonical one. A database without clusters exports every article.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from crawler.storage import Store, article_from_row

_HEX_ID = re.compile(r"^[0-9a-f]{16}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _query(site, since, until) -> tuple[str, list]:
    where, params = [], []
    if site:
        where.append(f"site IN ({', '.join('?' for _ in site)})")
        params += list(site)
    for value, op, name in ((since, ">=", "--since"), (until, "<", "--until")):
        if value:
            if not _DAY.match(value):
                raise ValueError(f"{name} must be YYYY-MM-DD, not {value!r}")
            where.append(f"published_at != '' AND substr(published_at, 1, 10) {op} ?")
            params.append(value)
    sql = "SELECT * FROM articles" + (" WHERE " + " AND ".join(where) if where else "")
    return sql + " ORDER BY published_at, id", params


def non_canonical_ids(db) -> set[str]:
    """Ids of the articles that are members of a near-duplicate cluster but not its canonical one
    (crawler/neardup.py's `cluster_members.is_canonical`); none before any clustering."""
    if "cluster_members" not in db.table_names():
        return set()
    return {r[0] for r in db.execute("SELECT article_id FROM cluster_members WHERE NOT is_canonical")}


def export(db_path, out, *, fmt: str = "txt", site=None, since=None, until=None, dedupe: bool = False) -> int:
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"no database at {db_path}")
    store = Store(db_path)
    try:
        return _write(store, Path(out), fmt, _query(site, since, until), non_canonical_ids(store.db) if dedupe else set())
    finally:
        store.close()


def _write(store: Store, out: Path, fmt: str, query: tuple[str, list], skip: set[str]) -> int:
    rows = (row for row in store.db.query(*query) if row["id"] not in skip)
    n = 0
    if fmt == "jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            for row in rows:
                article = article_from_row(row)
                record = {k: row[k] for k in ("id", "url", "site", "title", "sapo", "author", "published_at",
                                              "category")}
                record.update(body=article.body, tags=article.tags, text=row["text"],
                              images=[{"url": i.url, "caption": i.caption} for i in article.images])
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                n += 1
        return n
    out.mkdir(parents=True, exist_ok=True)
    for row in rows:
        # File names come from the hex id only: nothing from titles or URLs reaches the file system.
        if not _HEX_ID.match(row["id"]):
            continue
        (out / f"{n:03d}_{row['id']}.txt").write_text(row["text"], encoding="utf-8")
        n += 1
    return n

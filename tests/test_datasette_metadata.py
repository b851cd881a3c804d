"""datasette/metadata.yaml describes the schema that crawler/storage.py declares: every table and
view, every column; internal tables hidden; the file served under its own name, local by default."""

import sqlite3

import yaml

from crawler.neardup import ensure_schema as ensure_neardup_schema
from crawler.serve import METADATA, datasette_args, metadata_for
from crawler.storage import Store

INTERNAL = {"seen_urls", "frontier", "fetch_state", "neardup_meta", "minhash", "lsh_bands"}


def schema(tmp_path) -> dict[str, list[str]]:
    """Every table and view of a database after a crawl: storage's and the near-duplicate index's."""
    Store(tmp_path / "news.db").close()
    conn = sqlite3.connect(tmp_path / "news.db", isolation_level=None)
    ensure_neardup_schema(conn)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
             if not r[0].startswith(("articles_fts", "sqlite_"))]
    return {n: [r[1] for r in conn.execute(f"PRAGMA table_info([{n}])")] for n in names}


def test_every_table_and_column_has_a_title_and_description(tmp_path):
    tables = yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["news"]["tables"]
    for table, columns in schema(tmp_path).items():
        meta = tables.get(table)
        assert meta and meta.get("title") and meta.get("description"), f"datasette/metadata.yaml: describe {table}"
        missing = [c for c in columns if not meta.get("columns", {}).get(c)]
        assert not missing, f"datasette/metadata.yaml: describe {table} columns {missing}"
        assert bool(meta.get("hidden")) == (table in INTERNAL), table


def test_instance_has_source_licence_and_default_sorts():
    meta = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    assert meta["title"] and meta["source"] and meta["license"] and meta["license_url"]
    tables = meta["databases"]["news"]["tables"]
    assert tables["articles_view"]["sort_desc"] == tables["articles"]["sort_desc"] == "published_at"
    assert tables["articles_view"]["facets"] == ["paper", "province", "category", "month"]


def test_metadata_is_applied_under_the_file_name_and_drops_queries_on_missing_tables(tmp_path):
    Store(tmp_path / "demo.db").close()
    meta = metadata_for(tmp_path / "demo.db")
    assert list(meta["databases"]) == ["demo"]
    queries = meta["databases"]["demo"]["queries"]
    assert {"search", "latest_per_paper", "articles_per_day", "duplicate_urls", "crawl_history",
            "crawl_failures"} <= set(queries)
    assert "duplicate_clusters" not in queries and all("requires" not in q for q in queries.values())
    ensure_neardup_schema(sqlite3.connect(tmp_path / "demo.db", isolation_level=None))
    assert "duplicate_clusters" in metadata_for(tmp_path / "demo.db")["databases"]["demo"]["queries"]
    Store(tmp_path / "news.2026.db").close()  # Datasette's URL of a name with a dot: news~2E2026
    assert 'href="/news~2E2026/articles_view"' in metadata_for(tmp_path / "news.2026.db")["description_html"]


def test_served_on_loopback_unless_told_otherwise(tmp_path):
    args = datasette_args(tmp_path / "news.db", tmp_path / "m.json")
    assert args[args.index("--host") + 1] == "127.0.0.1"
    assert "--immutable" not in args  # a refresh may be writing: read through mode=ro connections
    frozen = datasette_args(tmp_path / "news.db", tmp_path / "m.json", immutable=True)
    assert frozen[frozen.index("--immutable") + 1] == str(tmp_path / "news.db")


def test_every_canned_query_runs_and_clusters_list_the_canonical_member_first(tmp_path):
    from tests.test_datasette_search import ARTICLES, store_with

    store = store_with(tmp_path)
    conn = store.db.conn
    ensure_neardup_schema(conn)
    copy, original = ARTICLES[0].id, ARTICLES[1].id
    conn.execute("INSERT INTO clusters VALUES (1, ?, 2, 'now', 'now')", [original])
    conn.executemany("INSERT INTO cluster_members VALUES (?, 1, ?, 0.75, ?, 'now')",
                     [(copy, 0, original), (original, 1, copy)])
    conn.create_function("vn_fts_query", 1, lambda text: f'"{text}"' if text else '""')
    queries = metadata_for(store.path)["databases"]["news"]["queries"]
    for query in queries.values():  # no error on an empty parameter or a fresh database
        conn.execute(query["sql"], {"q": "", "paper": ""}).fetchall()
    rows = conn.execute(queries["duplicate_clusters"]["sql"]).fetchall()
    assert [(r[0], r[2], r[4]) for r in rows] == [(1, 1, original), (1, 0, copy)]

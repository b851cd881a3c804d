"""`python -m crawler serve`: Datasette on a crawl database, read-only, on 127.0.0.1 by default.

Datasette reads a mutable file through `mode=ro` connections (a refresh may write beside it);
`--immutable` serves a finished file without locking, the faster choice for a snapshot. The shipped
datasette/metadata.yaml is written for a database named `news`; it is applied to the file served
here under that file's own name (Datasette names a database after its file), without the canned
queries whose tables the file does not have yet.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import yaml
from datasette.utils import tilde_encode

from crawler.storage import Store

DATASETTE_DIR = Path(__file__).resolve().parent.parent / "datasette"
METADATA = DATASETTE_DIR / "metadata.yaml"
# Cells of long text (body, blocks) stay short on table pages; the article page shows them whole.
SETTINGS = {"truncate_cells_html": 300, "sql_time_limit_ms": 5000, "facet_time_limit_ms": 1000}


def metadata_for(db_path: str | Path, source: Path = METADATA) -> dict:
    meta = yaml.safe_load(source.read_text(encoding="utf-8"))
    db_meta = meta["databases"].pop("news")
    with closing(sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=ro", uri=True)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    queries = {}
    for name, query in db_meta.get("queries", {}).items():
        if set(query.pop("requires", [])) <= tables:
            queries[name] = query
    db_meta["queries"] = queries
    name = Path(db_path).stem
    for holder in (meta, db_meta):  # links in descriptions point into the database served
        if "description_html" in holder:
            holder["description_html"] = holder["description_html"].replace("{database}", tilde_encode(name))
    meta["databases"][name] = db_meta
    return meta


def datasette_args(db_path: str | Path, metadata_path: str | Path, *, host: str = "127.0.0.1", port: int = 8001,
                   immutable: bool = False, open_browser: bool = False) -> list[str]:
    """The arguments of `datasette` (after the program name) that serve `db_path` as shipped."""
    args = ["serve", *(["--immutable"] if immutable else []), str(db_path), "--metadata", str(metadata_path),
            "--template-dir", str(DATASETTE_DIR / "templates"), "--plugins-dir", str(DATASETTE_DIR / "plugins"),
            "--host", host, "--port", str(port)]
    for name, value in SETTINGS.items():
        args += ["--setting", name, str(value)]
    if open_browser:
        args.append("--open")
    return args


def serve(db_path: str | Path, *, host: str = "127.0.0.1", port: int = 8001, immutable: bool = False,
          open_browser: bool = False) -> int:
    from datasette.cli import cli

    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(f"no database at {db_path}")
    if not immutable:
        # The one write: an older database gets today's schema (search column, FTS, view) first.
        Store(db_path).close()
    with tempfile.TemporaryDirectory(prefix="vn-news-serve-") as tmp:
        metadata_path = Path(tmp) / "metadata.json"
        metadata_path.write_text(json.dumps(metadata_for(db_path), ensure_ascii=False), encoding="utf-8")
        print(f"Datasette on http://{host}:{port}/ serving {db_path} (read-only); Ctrl-C stops it", flush=True)
        cli.main(datasette_args(db_path, metadata_path, host=host, port=port, immutable=immutable,
                                open_browser=open_browser), prog_name="datasette", standalone_mode=False)
    return 0

"""Datasette plugin of the crawl database (loaded by `python -m crawler serve` with --plugins-dir):

- the article page: an `articles` row shows its document as paragraphs (datasette/templates/row.html);
- titles and article ids in tables and query results link to that page;
- searching the Articles view shows the best matches first (bm25), above every match newest first;
  SQL gets `vn_fts_query(text)`, the ranked query of crawler/search.py, for the canned `search` query;
- the `articles_per_day` query opens with its chart set up (datasette-vega reads the URL fragment).
"""

from __future__ import annotations

import json
import re

from datasette import hookimpl
from datasette.utils import urlsafe_components
from markupsafe import Markup, escape

from crawler.search import fts_query
from crawler.storage import FTS_WEIGHTS

_HEX_ID = re.compile(r"^[0-9a-f]{16}$")
# Where `id` (and `title` beside it) is an article's; None: canned and arbitrary queries. Elsewhere
# an `id` is a crawl's or a URL's; `article_id` is an article's in every table.
_ARTICLE_ID_TABLES = {"articles_view", None}
BEST_MATCHES = 5
# The ranked search: title counts most (FTS_WEIGHTS), the exact phrase first (fts_query).
RANKED_SQL = f"""SELECT a.id, a.title, a.published_at, s.name AS paper,
  snippet(articles_fts, 2, '', '', '…', 20) AS excerpt
FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid LEFT JOIN sites s ON s.key = a.site
WHERE articles_fts MATCH vn_fts_query(:q)
ORDER BY bm25(articles_fts, {", ".join(map(str, FTS_WEIGHTS))}), a.published_at DESC LIMIT :limit"""
_CHART = "#g.mark=bar&g.x_column=day&g.x_type=temporal&g.y_column=articles&g.y_type=quantitative&g.color_column=paper"


def document_blocks(article: dict) -> list[dict]:
    """The blocks of the rendered document (`text`, blank-line separated), each with a kind for
    its style: title (the title line, with its optional ` date ...` prefix), lede, caption, byline,
    source (`Nguồn ...: <url>`) or paragraph."""
    captions = {i.get("caption") for i in json.loads(article.get("images") or "[]") if i.get("caption")}
    blocks = [b for b in (article.get("text") or "").split("\n\n") if b.strip()]
    out = []
    for n, block in enumerate(blocks):
        if n == 0:
            kind = "title"
        elif block == article.get("sapo"):
            kind = "lede"
        elif block in captions:
            kind = "caption"
        elif n == len(blocks) - 1 and block.startswith("Nguồn ") and block.endswith(article.get("url") or "\0"):
            kind = "source"
        elif article.get("author") and block.endswith(article["author"]) and n >= len(blocks) - 2:
            kind = "byline"  # `Thế Hiển`, `Tin, ảnh: Văn Huỳnh`: last, or just before the source line
        else:
            kind = "paragraph"
        out.append({"kind": kind, "text": block})
    return out


def _row_link(datasette, database: str, article_id: str, label: str) -> Markup:
    href = datasette.urls.row(database, "articles", article_id)
    return Markup('<a href="{}">{}</a>').format(href, label)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if not isinstance(value, str):
        return None
    keys = row.keys() if hasattr(row, "keys") else []
    if column == "title" and table in _ARTICLE_ID_TABLES and "id" in keys and _HEX_ID.match(str(row["id"] or "")):
        return _row_link(datasette, database, row["id"], escape(value))
    ids = column == "article_id" or (column in ("id", "cluster") and table in _ARTICLE_ID_TABLES)
    if ids and _HEX_ID.match(value):
        return _row_link(datasette, database, value, value)
    return None


@hookimpl
def prepare_connection(conn):
    conn.create_function("vn_fts_query", 1, fts_query, deterministic=True)


def _only_search(request) -> str:
    """The search text when the page is a search and nothing else narrows it (facets, filters)."""
    narrowing = [k for k in request.args if not k.startswith("_")]
    return "" if narrowing else (request.args.get("_search") or "").strip()


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if request is None:
        return {}
    if view_name == "table" and table == "articles_view" and _only_search(request):
        async def best_vars():
            db = datasette.get_database(database)
            rows = (await db.execute(RANKED_SQL, {"q": _only_search(request), "limit": BEST_MATCHES})).rows
            return {"vn_best": [dict(r) for r in rows], "vn_search": _only_search(request)}

        return best_vars
    if view_name != "row" or table != "articles":
        return {}

    async def article_vars():
        db = datasette.get_database(database)
        pk = urlsafe_components(request.url_vars["pks"])[0]
        sql = """SELECT a.*, s.name AS paper, s.province FROM articles a
                 LEFT JOIN sites s ON s.key = a.site WHERE a.id = ?"""
        rows = (await db.execute(sql, [pk])).rows
        if not rows:
            return {}
        article = dict(rows[0])
        aliases = (await db.execute("SELECT url, reason FROM aliases WHERE article_id = ? ORDER BY url", [pk])).rows
        return {"vn_article": article, "vn_blocks": document_blocks(article),
                "vn_aliases": [dict(r) for r in aliases]}

    return article_vars


@hookimpl
def extra_body_script(request, datasette):
    # datasette-vega draws what the URL fragment says; give the per-day query its chart by default.
    if request is not None and request.path.endswith("/articles_per_day"):
        return f"if (!location.hash) {{ history.replaceState(null, '', location.href + {json.dumps(_CHART)}); }}"
    return ""

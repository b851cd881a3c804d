"""Vietnamese full-text search in SQLite (no server): diacritics and đ folded, FTS5 kept in sync on
upsert, ranking, the migration of an older database, and queries that can never be a syntax error."""

import sqlite3

import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.article import PARAGRAPH, Article, Block
from crawler.canonical import url_id
from crawler.render import content_hash
from crawler.search import fts_query, search_folded
from crawler.serve import metadata_for
from crawler.storage import ARTICLE_COLUMNS, FTS_WEIGHTS, Batch, Store


def article(n: int, title: str, body: str = "Nội dung.", site: str = "baodanang") -> Article:
    a = Article(url=f"https://{site}.vn/bai-{n}.html", site=site, title=title, blocks=[Block(PARAGRAPH, body)],
                published_at=f"2026-01-{n:02d}T08:00:00+07:00")
    a.canonical_url = a.url
    a.id, a.content_hash, a.text = url_id(a.url), content_hash(a), f"{title}\n\n{body}"
    return a


ARTICLES = [
    article(1, "Đà Nẵng đón tàu container đầu tiên", "Cảng Liên Chiểu ở Đà Nẵng."),
    article(2, "Mưa lớn ở miền Trung", "Tại Đà Nẵng, Quảng Nam mưa lớn."),
    article(3, "Đoàn công tác Tỉnh ủy Hải Dương thăm Cao Bằng", "Chiều 6/12, đoàn đến Cao Bằng.", "baocaobang"),
    article(4, "Giải phóng mặt bằng đường cao tốc", "Công trình cao tốc qua tỉnh.", "baocaobang"),
]


def store_with(tmp_path, articles=ARTICLES) -> Store:
    store = Store(tmp_path / "news.db")
    store.write_batch(Batch(articles=list(articles)), None)
    return store


def search(store: Store, typed: str) -> list[str]:
    """Titles, best first: the ranking of the canned `search` query and the best-matches box."""
    weights = ", ".join(map(str, FTS_WEIGHTS))
    store.db.conn.create_function("vn_fts_query", 1, fts_query)
    sql = f"""SELECT a.title FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid
              WHERE articles_fts MATCH vn_fts_query(?) ORDER BY bm25(articles_fts, {weights})"""
    return [r[0] for r in store.db.execute(sql, [typed])]


def test_search_folded_spells_d_for_đ_and_keeps_only_those_words():
    assert search_folded("Đà Nẵng được mùa", None, "đi Điện Biên") == "Dà dược di Diện"
    assert search_folded("Cao Bằng", "", None) == ""


def test_đ_words_are_found_typed_without_diacritics(tmp_path):
    store = store_with(tmp_path)
    for typed in ("da nang", "Da Nang", "DA NANG", "Đà Nẵng", "đà nẵng", "da nẵng"):
        assert set(search(store, typed)) == {ARTICLES[0].title, ARTICLES[1].title}, typed
    assert search(store, "cao bang")[0] == ARTICLES[2].title
    assert search(store, "hai duong") == [ARTICLES[2].title]


def test_ranking_puts_the_title_and_the_phrase_first(tmp_path):
    store = store_with(tmp_path)
    assert search(store, "da nang")[0] == ARTICLES[0].title  # in the title, beside a body mention
    # `cao bang`: the place (phrase) before `cao tốc ... mặt bằng` (both words, apart).
    assert search(store, "cao bang") == [ARTICLES[2].title, ARTICLES[3].title]


def test_the_index_follows_upserts_and_deletes(tmp_path):
    store = store_with(tmp_path)
    changed = article(2, "Mưa lớn ở miền Trung", "Tại Huế mưa lớn.")
    assert store.write_batch(Batch(articles=[changed]), None)["updated"] == 1
    assert set(search(store, "da nang")) == {ARTICLES[0].title}
    assert search(store, "hue") == [changed.title]
    store.db.execute("DELETE FROM articles WHERE id = ?", [ARTICLES[0].id])
    assert search(store, "da nang") == []
    assert store.db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")


def test_an_older_database_is_migrated_once(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    old["articles"].create({k: v for k, v in ARTICLE_COLUMNS.items() if k != "search_folded"}, pk="id")
    for a in ARTICLES:
        old["articles"].insert({"id": a.id, "url": a.url, "site": a.site, "title": a.title, "sapo": "",
                                "body": a.body})
    old["articles"].enable_fts(["title", "sapo", "body"], create_triggers=True,
                               tokenize="unicode61 remove_diacritics 2")
    old.conn.close()
    store = Store(path)
    assert set(search(store, "da nang")) == {ARTICLES[0].title, ARTICLES[1].title}
    assert store.db.execute("SELECT count(*) FROM articles_view").fetchone()[0] == len(ARTICLES)
    store.close()
    schema = sqlite3.connect(path).execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'").fetchone()
    again = Store(path)  # idempotent: nothing rebuilt, nothing changed
    assert again.db.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'").fetchone() == schema
    assert {t.name for t in again.db["articles"].triggers} == {"articles_ai", "articles_ad", "articles_au"}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_typed_text_is_a_valid_query(typed):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize='unicode61 remove_diacritics 2')")
    conn.execute("INSERT INTO t VALUES ('Cao Bằng')")
    conn.execute("SELECT count(*) FROM t WHERE t MATCH ?", [fts_query(typed)]).fetchone()


def test_the_canned_search_query_ranks_as_the_storage_declares(tmp_path):
    store = store_with(tmp_path)
    sql = metadata_for(store.path)["databases"]["news"]["queries"]["search"]["sql"]
    assert f"bm25(articles_fts, {', '.join(map(str, FTS_WEIGHTS))})" in sql
    store.db.conn.create_function("vn_fts_query", 1, fts_query)
    rows = store.db.execute(sql, {"q": "cao bang"}).fetchall()
    assert rows[0][3] == ARTICLES[2].title

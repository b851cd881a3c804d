"""The database a crawl of the mirror leaves, served by `python -m crawler serve` (real Datasette,
real HTTP on loopback): search with and without diacritics, facets, canned queries, article pages."""

import sqlite3
import urllib.error
import urllib.parse

import pytest
from bs4 import BeautifulSoup

from tests.datasette_site import crawled_db, get, get_json, served


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return crawled_db(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def site(db):
    with served(db) as base:
        yield base + "/news"


def q(text: str) -> str:
    return urllib.parse.quote(text)


def titles(rows) -> list[str]:
    return [r["title"] for r in rows]


def test_datasette_serves_articles(site):
    rows = get_json(site + "/articles.json?_shape=array&_col=title&_col=site")
    assert rows and {r["site"] for r in rows} == {"baocaobang", "baohaiduong", "baonamdinh"}


def test_search_without_diacritics_finds_vietnamese_text(site):
    rows = get_json(site + f"/articles.json?_search={q('hai duong')}&_shape=array&_col=title")
    assert any("Hải Dương" in r["title"] for r in rows)


@pytest.mark.parametrize("typed", ["cao bang", "Cao Bằng", "CAO BANG", "cao bằng"])
def test_the_articles_view_search_box_folds_diacritics(site, typed):
    rows = get_json(site + f"/articles_view.json?_search={q(typed)}&_shape=array")
    assert "Đoàn công tác Tỉnh ủy Hải Dương thăm và làm việc tại Cao Bằng" in titles(rows)
    assert rows == get_json(site + f"/articles_view.json?_search={q('cao bang')}&_shape=array")


def test_the_articles_view_has_facets_default_sort_and_provinces(site):
    data = get_json(site + "/articles_view.json")
    assert {"paper", "province", "category", "month"} <= set(data["facet_results"])
    provinces = {v["value"] for v in data["facet_results"]["province"]["results"]}
    assert provinces == {"Cao Bằng", "Hải Phòng", "Ninh Bình"}  # after the 2025 merger, from `sites`
    assert data["human_description_en"] == "sorted by published_at descending"
    dates = [r[data["columns"].index("published_at")] for r in data["rows"]]
    assert dates == sorted(dates, reverse=True)
    months = {v["value"] for v in data["facet_results"]["month"]["results"]}
    assert all(len(m) == 7 and m[4] == "-" for m in months if m)


def test_internal_tables_are_hidden_and_every_table_is_described(site):
    tables = {t["name"]: t for t in get_json(site + ".json")["tables"]}
    for name in ("seen_urls", "frontier", "fetch_state", "articles_fts"):
        assert tables[name]["hidden"], name
    for name in ("articles", "aliases", "sites", "crawls", "article_versions"):
        assert not tables[name]["hidden"], name
    html = get(site + "/crawls")
    assert "Crawl history" in html and "One row per run and paper" in html


def test_ranked_search_puts_the_phrase_and_the_title_first(site):
    rows = get_json(site + f"/search.json?q={q('cao bang')}&_shape=array")
    assert rows[0]["title"] == "Đoàn công tác Tỉnh ủy Hải Dương thăm và làm việc tại Cao Bằng"
    assert rows[0]["paper"] and rows[0]["url"].startswith("https://baocaobang.vn/")
    assert get_json(site + "/search.json?q=&_shape=array") == []  # nothing typed: nothing, not an error
    hostile = q('x OR NOT ( "')
    assert get_json(site + f"/search.json?q={hostile}&_shape=array") == []  # never a syntax error


def test_searching_the_view_shows_best_matches_above_every_match(site):
    page = BeautifulSoup(get(site + f"/articles_view?_search={q('cao bang')}"), "html.parser")
    best = page.select("section.vn-best li a.vn-title")
    assert best and best[0].get_text() == "Đoàn công tác Tỉnh ủy Hải Dương thăm và làm việc tại Cao Bằng"
    assert best[0]["href"].startswith("/news/articles/")
    assert page.select("table.rows-and-columns td.col-title a")  # every match below, titles linked


def test_canned_queries(site, db):
    latest = get_json(site + "/latest_per_paper.json?_shape=array")
    per_paper = {}
    for row in latest:
        per_paper.setdefault(row["paper"], []).append(row["published_at"])
    assert len(per_paper) == 3 and all(0 < len(v) <= 5 and v == sorted(v, reverse=True) for v in per_paper.values())

    per_day = get_json(site + "/articles_per_day.json?_shape=array")
    assert per_day and set(per_day[0]) == {"day", "paper", "articles"}
    one = get_json(site + "/articles_per_day.json?paper=baocaobang&_shape=array")
    assert one and {r["paper"] for r in one} == {"baocaobang"}

    urls = get_json(site + "/duplicate_urls.json?_shape=array")
    conn = sqlite3.connect(db)
    aliases = dict(conn.execute("SELECT url, article_id FROM aliases").fetchall())
    assert aliases and {r["member"]: r["cluster"] for r in urls} == aliases

    history = get_json(site + "/crawl_history.json?_shape=array")
    assert len(history) == conn.execute("SELECT count(*) FROM crawls").fetchone()[0]
    assert {r["outcome"]: r["failed"] for r in history} == {"ok": 0, "failed": 1}
    failures = get_json(site + "/crawl_failures.json?_shape=array")
    assert [(r["outcome"], r["errors"], r["http_500"]) for r in failures] == [("failed", 3, 3)]

    # Near-duplicate clusters, listed once the database has the tables crawler/neardup.py writes.
    has_clusters = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'cluster_members'").fetchone()
    queries = {x["name"] for x in get_json(site + ".json")["queries"]}
    assert ("duplicate_clusters" in queries) == bool(has_clusters)
    if has_clusters:
        members = get_json(site + "/duplicate_clusters.json?_shape=array")
        assert len(members) == conn.execute("SELECT count(*) FROM cluster_members").fetchone()[0]
        assert all(m["paper"] and m["title"] for m in members)


def test_the_per_day_query_draws_a_chart(site):
    html = get(site + "/articles_per_day")
    assert "/-/static-plugins/datasette_vega/" in html  # the plugin's script is on the page
    assert "g.mark=bar" in html and "g.x_column=day" in html  # and it opens with the chart set up


def test_an_article_reads_as_paragraphs_with_a_link_to_the_original(site, db):
    conn = sqlite3.connect(db)
    art_id, url, text = conn.execute(
        "SELECT id, url, text FROM articles WHERE title LIKE '%tại Cao Bằng'").fetchone()
    page = BeautifulSoup(get(site + f"/articles/{art_id}"), "html.parser")
    article = page.select_one("article.vn-article")
    assert article.h1.get_text() == "Đoàn công tác Tỉnh ủy Hải Dương thăm và làm việc tại Cao Bằng"
    paragraphs = [p.get_text() for p in article.select("p.vn-paragraph")]
    blocks = text.split("\n\n")
    assert len(paragraphs) >= 3 and all(p in blocks for p in paragraphs)
    assert article.select_one("p.vn-lede").get_text() == blocks[1]
    assert article.select("p.vn-caption") and article.select_one("p.vn-byline").get_text() == "Thế Hiển"
    original = [a for a in article.select("a") if a.get_text().startswith("Đọc bài gốc")]
    assert original and original[0]["href"] == url
    assert "Báo Cao Bằng" in article.select_one("p.vn-meta").get_text()
    assert page.select_one("details.vn-fields")  # every field, folded away below


def test_titles_and_ids_link_to_article_pages(site):
    page = BeautifulSoup(get(site + "/latest_per_paper"), "html.parser")
    links = [a["href"] for a in page.select("td.col-title a")]
    assert links and all(h.startswith("/news/articles/") for h in links)


def test_served_read_only(site, db):
    before = sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0]
    with pytest.raises(urllib.error.HTTPError):
        get(site + ".json?sql=" + q("DELETE FROM articles"))
    info = {d["name"]: d for d in get_json(site.rsplit("/", 1)[0] + "/-/databases.json")}
    assert info["news"]["is_mutable"]  # read through mode=ro connections: a refresh may write beside it
    assert sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0] == before


def test_metadata_follows_the_served_file_name(db, tmp_path):
    copy = tmp_path / "demo.db"
    copy.write_bytes(db.read_bytes())
    with served(copy, "--immutable") as base:
        data = get_json(base + "/demo/articles_view.json?_search=" + q("cao bang"))
        assert data["rows"] and "sorted by published_at descending" in data["human_description_en"]
        assert "search" in {x["name"] for x in get_json(base + "/demo.json")["queries"]}
        assert 'href="/demo/articles_view"' in get(base + "/demo")  # the way in, for this file's name
        assert get_json(base + "/-/databases.json")[0]["is_mutable"] is False

"""Extraction of every mirror page against its content file (mirror/content/<key>.toml).

The content files are the ground truth the replica pages were rendered from: what extraction
recovers from the page must be exactly what was written, whatever the template noise, entity
encoding (CKEditor named entities) or Unicode form (NFD) of the page.
"""

from pathlib import Path

import pytest

from crawler.article import CAPTION, PARAGRAPH
from crawler.extract import extract
from crawler.fixtures import mirror_articles

REPO = Path(__file__).resolve().parent.parent
ITEMS = mirror_articles(REPO)
KIND = {"article": "article", "video": "video", "photo": "photo", "error": "error"}


def expected_blocks(body) -> list[tuple[str, str]]:
    out = []
    for item in body:
        if isinstance(item, str):
            out.append((PARAGRAPH, item))
        elif item.get("caption"):
            out.append((CAPTION, item["caption"]))
    return out


def expected_published(published: str) -> str:
    return f"{published.replace(' ', 'T')}:00+07:00" if published else ""


def test_every_paper_has_mirror_content():
    from crawler.registry import default_registry

    assert {i["site"] for i in ITEMS} == {s.key for s in default_registry()}


@pytest.mark.parametrize("item", ITEMS, ids=[f"{i['site']}:{i['url'].rsplit('/', 2)[-2 if i['url'].endswith('/') else -1][:40]}" for i in ITEMS])
def test_extraction_recovers_the_content(item):
    for url in [item["url"], *item.get("aliases", [])]:
        art = extract(url, Path(item["file"]).read_bytes())
        assert art.page_kind == KIND[item["kind"]], url
        if item["kind"] == "error":
            continue
        assert art.title == item["title"]
        assert art.published_at == expected_published(item["published"])
        assert art.sapo == item["sapo"]
        if item["kind"] in ("video", "error"):
            continue
        assert [(b.kind, b.text) for b in art.blocks] == expected_blocks(item["body"])
        assert art.author == item["byline"]
        assert art.tags == item["tags"]
        images = [b["image"] for b in item["body"] if isinstance(b, dict)]
        assert [i.url for i in art.images] == images
        assert all(s.startswith(("family", "site", "body")) for s in art.field_sources.values()), art.field_sources

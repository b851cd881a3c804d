"""Rendering an Article as a document in the seed schema (../shared/reference/schema.md).

Blocks one line each, one blank line apart, in order: title line (optionally prefixed by
` date YYYY-MM[-DD] `), lede, body paragraphs and captions in page order, byline, source line.
No trailing newline.
"""

from __future__ import annotations

import hashlib

from crawler.article import Article
from crawler.normalize import clean_text, fold_for_matching

DATE_PRECISIONS = ("day", "month", "none")


def title_line(title: str, published_at: str, precision: str = "day") -> str:
    if precision not in DATE_PRECISIONS:
        raise ValueError(f"date precision must be one of {', '.join(DATE_PRECISIONS)}, not {precision!r}")
    date = published_at[:10] if len(published_at) >= 10 else ""
    if not date or precision == "none" or not title:
        return title
    return f" date {date if precision == 'day' else date[:7]} {title}"


def render_document(
    article: Article,
    *,
    date_precision: str = "day",
    source_line: bool = True,
    short_name: str = "",
) -> str:
    """The seed-schema document of one article.

    `short_name` is the paper's name in the source line (`Cao Bằng`); unknown sites use their host.
    """
    blocks = [title_line(clean_text(article.title), article.published_at, date_precision)]
    blocks.append(article.sapo)
    blocks.extend(b.text for b in article.blocks)
    blocks.append(article.author)
    if source_line:
        url = article.canonical_url or article.url
        name = short_name or url.split("/")[2]
        blocks.append(f"Nguồn {name}: {url}")
    # A block is one line; extraction already guarantees it, this keeps the file format safe anyway.
    lines = [blocks[0].replace("\n", " ")] + [clean_text(b) for b in blocks[1:]]
    return "\n\n".join(line for line in lines if line.strip())


def content_hash(article: Article) -> str:
    """Fingerprint of the normalized text (title, lede, body); bylines and URLs excluded so that a
    re-post under another URL or with another credit line is still the same content."""
    folded = fold_for_matching("\n".join([article.title, article.sapo, article.body]))
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:32]

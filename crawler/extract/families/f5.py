"""F5: the Mediatech CMS (baotayninh.vn real page; baodongthap, baobinhduong per S1).

The real baotayninh.vn page (2025-26 template) prints `h1.name`, `div.date` ("Thứ 4, 01/12/2021 | 11:51:00
[GMT +7]", the bracket cut by the date parser) and `#content-detail`, which holds first a `div.sapo` (the
description cut mid-word) and then the article as an embedded `<!DOCTYPE><html><body>` document: `p.sapo` (the
printed lede), WordPress-style `div.wp-caption` images with `p.wp-caption-text` captions, the paragraphs, and the
byline in `div.author`. `.topics`, `.relates` and the comment box follow inside the same column; the header's
clock (`.title-time`) is not the article's date. S1's `#contentNews .singular-content` / `h1.title` /
`h4.sapo` markup (baobinhduong, baodongthap) is kept as the later alternatives.
"""

from crawler.extract.families import FamilySpec

SPEC = FamilySpec(
    name="F5",
    title=("h1.name", "h1.title", ".detail-title h1"),
    date=("div.date", ".date-time", ".detail-time"),
    sapo=("p.sapo", "h4.sapo", ".sapo"),
    body=("#content-detail", "#contentNews .singular-content", ".singular-content", "#contentNews"),
    author=("#content-detail .author", ".singular-content .author"),
    category=(".breadcrumbs .breadcrumb li.active a", "div.breadcrumb-news-detail a"),
    tags=(".topics a", ".tags a", ".tag a"),
    drop=("div.sapo", ".author", ".relates", ".topics", ".print_page", ".related", ".news-related"),
    captions=(".wp-caption-text",),
    video=("video", ".video-detail"),
    pagination=(".pagination a[href]",),
)

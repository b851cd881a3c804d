"""F2: the OneCMS `b-maincontent` / `sc-longform` CMS (real pages: baohaiphong.vn, baodanang.vn, baonghean.vn,
hanoimoi.vn; images on <paper>.1cdn.vn).

`div.c-news-detail > div.b-maincontent > .entry` (`article.entry` on baonghean) opens with the header block
`div.sc-longform-header`: category, `h1.sc-longform-header-title` (hanoimoi prints it as two
`span.sc-longform-header-title-sub` parts), `span.sc-longform-header-author` • `span.sc-longform-header-date`
("08/01/2026 10:02" or "28/01/2026 - 06:52", minutes only: the seconds are in `article:published_time`, in
US form "1/8/2026 10:02:01 AM", and in JSON-LD) and `p.sc-longform-header-sapo`. The paragraphs follow as
`<p>`, images as `<figure><img><figcaption>`; baohaiphong repeats the byline at the end as
`b.vtranslate-author-translate`; `div.sc-empty-layer` closes the entry. After it, outside the entry: ad zones
(`.oneads`), the share bar, tags (`.c-widget-tags`), on baonghean a source box (`.c-author-page`, "Nguồn …")
and a reaction widget (`.c-article-reaction`), then the comments and related boxes.
"""

from crawler.extract.families import FamilySpec

SPEC = FamilySpec(
    name="F2",
    title=(".sc-longform-header-title", ".c-detail-head h1", "h1.article-title", "h1"),
    date=(".sc-longform-header-date", ".c-detail-head .time", ".sc-longform-header-meta time"),
    sapo=(".sc-longform-header-sapo", "p.block-sc-sapo", ".c-detail-head .sapo", ".sapo"),
    body=(".b-maincontent .entry", "article.entry", ".entry", ".b-maincontent"),
    author=(".sc-longform-header-author", ".vtranslate-author-translate", ".author-name", ".c-detail-head .author"),
    category=(".c-breadcrumb li:last-child a", ".breadcrumb li:last-child a"),
    tags=(".c-widget-tags a", ".c-tags a", ".b-tags a", ".tags a"),
    drop=(
        ".sc-longform-header", ".sc-empty-layer", ".sc-related-articles", ".c-box-related", ".box-related",
        ".vtranslate-author-translate", ".oneads", ".c-banner-item", ".c-author-page", ".c-article-reaction",
    ),
    lede_in_body=False,
    video=(".c-video-detail", "div.video-detail"),
    pagination=(".c-pagination a[href]", ".pagination a[href]"),
)

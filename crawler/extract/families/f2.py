"""F2: the `b-maincontent` / `sc-longform` CMS (baohaiphong.vn, baodanang.vn, baonghean.vn, hanoimoi.vn)."""

from crawler.extract.families import FamilySpec

SPEC = FamilySpec(
    name="F2",
    title=(".sc-longform-header-title", ".c-detail-head h1", "h1.article-title", "h1"),
    date=(".sc-longform-header-date", ".c-detail-head .time", ".sc-longform-header-meta time"),
    sapo=(".sc-longform-header-sapo", "p.block-sc-sapo", ".c-detail-head .sapo", ".sapo"),
    body=(".b-maincontent .entry", "article.entry", ".entry", ".b-maincontent"),
    author=(".sc-longform-header-author", ".author-name", ".c-detail-head .author"),
    category=(".c-breadcrumb li:last-child a", ".breadcrumb li:last-child a"),
    tags=(".c-tags a", ".b-tags a", ".tags a"),
    drop=(".sc-longform-header", ".sc-empty-layer", ".sc-related-articles", ".c-box-related", ".box-related"),
    video=(".c-video-detail", "div.video-detail"),
    pagination=(".c-pagination a[href]", ".pagination a[href]"),
)

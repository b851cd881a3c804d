"""F6: the `#content-detail` / `h1.name` / `div.pseudonym` CMS (baocaobang, baohungyen, baoquangninh).

The date text carries a bracketed suffix (`… [GMT+7]`, cut by the date parser); the byline is
`div.pseudonym` inside the body; the related box is `.block-news-list` titled `Cùng chuyên mục`.
"""

from crawler.extract.families import FamilySpec

SPEC = FamilySpec(
    name="F6",
    title=("h1.name", "h1.title-detail", "h1"),
    date=("div.date", ".date"),
    sapo=(".sapo", "#content-detail > h2"),
    body=("#content-detail", ".content-article", "div.detail.auto-gallery"),
    author=(".pseudonym", ".author"),
    category=(".breadcrumbs ol.breadcrumb li:last-child a", ".breadcrumbs ol.breadcrumb li a"),
    tags=(".tags a", ".topics a"),
    drop=(".pseudonym", ".relates", ".topics", ".social", ".print_page", ".block-news-list"),
    video=(".video-detail", "video"),
    pagination=(".pagination a[href]",),
)

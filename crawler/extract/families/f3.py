"""F3: the `/file/e7837c02…` CMS (baonamdinh, baothainguyen, baokhanhhoa, baodaklak, baotuyenquang...).

Captions sit in `td.desc` and repeat in `img@alt` (read once); the lede is the first body paragraph
in <em><strong>; the related box is prepended with `<h3>Tin liên quan</h3>` inside the body.
"""

from crawler.extract.families import FamilySpec

SPEC = FamilySpec(
    name="F3",
    title=("h1.head_title", "h1.media-heading", ".title_detail h1", "h1.title"),
    date=(".date span", ".date", ".time_detail"),
    sapo=(".sapo", "div.desc"),
    body=(".content-detail .td-post-content", ".content-detail", "#content .td-post-content", "#content"),
    category=(".cate_title_1 a.title", "a.maincatetitle", "div.cate_title_1 h2 a.title"),
    tags=(".tags a", ".keyword a"),
    drop=(".related", ".more_news", ".list_news_related"),
    captions=("table.image td.desc", "td.desc"),
    video=(".video_detail", "video"),
    pagination=("#pagination-container a[href]", ".pagination a[href]"),
)

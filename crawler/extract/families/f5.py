"""F5: the `#contentNews` / `.singular-content` CMS (baotayninh, baodongthap, baobinhduong)."""

from crawler.extract.families import FamilySpec

SPEC = FamilySpec(
    name="F5",
    title=("h1.title", ".detail-title h1", "h1"),
    date=(".date-time", ".time", ".detail-time"),
    sapo=("h4.sapo", "p.sapo", ".sapo"),
    body=("#contentNews .singular-content", ".singular-content", "#contentNews"),
    category=("div.breadcrumb-news-detail a",),
    tags=(".tags a", ".tag a"),
    drop=(".related", ".news-related"),
    video=("video",),
    pagination=(".pagination a[href]",),
)

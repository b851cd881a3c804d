"""F1: the `cmsConfig` / `zce-content-body` CMS (baolaocai.vn real page; baohatinh, baogialai).

Paragraphs are plain <div>s; the byline is `<div class="t1"><span class="t2">` (right-aligned by a
page-level style, hence the right mark); related lists carry their own time[datetime], so the date
comes from the meta.cms-date or the time inside .article__meta only.
"""

from crawler.extract.families import FamilySpec

SPEC = FamilySpec(
    name="F1",
    title=("h1.article__title", "h1.cms-title"),
    date=("meta.cms-date::attr(content)", ".article__meta time::attr(datetime)", ".article__meta time"),
    sapo=(".article__sapo", ".cms-desc"),
    body=(".article__body", ".cms-body", "[itemprop=articleBody]"),
    category=(".breadcrumbs h2.main a.active", ".breadcrumbs a.active"),
    tags=(".article__tags .box-content a", ".article__tags a"),
    drop=(".sda_middle", "[id^=sdaWeb_]", ".rennab", ".ads_middle", "[id^=adsWeb_]", ".related-news"),
    right_marks=(".t1",),
    lede_in_body=False,
    video=(".video-player", "div.article__video", "video"),
    pagination=(".pagination a[href]", ".page-nav a[href]"),
)

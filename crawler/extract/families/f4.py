"""F4: the `#newscontents` / `content-fck` / `-a<id>.html` CMS (baocantho real pages; baoangiang, baolongan...).

The first <h1> is the section header, not the title. `img@title` repeats the article title and is
never read; the caption is the centred <p><em> after the image; the lede is the first body
paragraph, tagged `(CTO) -`.
"""

from crawler.extract.families import FamilySpec

SPEC = FamilySpec(
    name="F4",
    title=("h1.margintopbot10", "h1.fw700", ".detail-title h1", "#colcate1 h1.title"),
    date=("span.pubdate", "div.pubdate", ".pubdate"),
    sapo=(".detail-desc p", ".detail-desc"),
    body=("#newscontents .content-fck", "#newscontents .content-fck-font-size", "#newscontents"),
    author=("#newscontents p.author",),
    category=(".titlecate h1 span a", ".titlecate h1 a", "ul.breadcrumb li:last-child a"),
    tags=(".block_tag a.tag_item", ".block_tag a"),
    drop=("[class^=AMN_]", ".detail-related", ".related-list", ".box-readmore"),
    video=(".video-js", "video"),
    pagination=("div#page a[href]", ".pagination a[href]"),
)

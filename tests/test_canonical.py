"""crawler/canonical.py: canonical article URLs and the 16-hex article id (registry from seeds/)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.canonical import canonical_url, url_id

CB = "https://baocaobang.vn/doan-cong-tac-tinh-uy-hai-duong-tham-va-lam-viec-tai-cao-bang-3174068.html"
ND = "https://baonamdinh.vn/channel/5085/202211/doan-cong-tac-tinh-dien-bien-2525931/"

CANONICAL = [
    # Already canonical.
    (CB, CB),
    (ND, ND),
    ("https://baocantho.com.vn/khai-mac-hoi-cho-a123456.html", "https://baocantho.com.vn/khai-mac-hoi-cho-a123456.html"),
    # http -> https.
    ("http://baocaobang.vn/x-1.html", "https://baocaobang.vn/x-1.html"),
    ("HTTP://BAOCAOBANG.VN/x-1.html", "https://baocaobang.vn/x-1.html"),
    # Legacy and mobile hosts -> the primary domain.
    ("http://www.baocaobang.vn/x-1.html", "https://baocaobang.vn/x-1.html"),
    ("https://m.baocaobang.vn/x-1.html", "https://baocaobang.vn/x-1.html"),
    ("http://baonamdinh.com.vn/channel/5085/202211/slug-2525931/",
     "https://baonamdinh.vn/channel/5085/202211/slug-2525931/"),
    ("https://www.baonamdinh.com.vn/channel/5085/202211/slug-2525931/",
     "https://baonamdinh.vn/channel/5085/202211/slug-2525931/"),
    ("https://www.baolaocai.vn/tin-moi-post123.html", "https://baolaocai.vn/tin-moi-post123.html"),
    ("https://m.baocantho.com.vn/tin-a1.html", "https://baocantho.com.vn/tin-a1.html"),
    # Tracking parameters removed; the rest sorted.
    ("https://baocaobang.vn/x-1.html?utm_source=fb&utm_medium=social&utm_campaign=c",
     "https://baocaobang.vn/x-1.html"),
    ("https://baocaobang.vn/x-1.html?fbclid=IwAR0abc", "https://baocaobang.vn/x-1.html"),
    ("https://baocaobang.vn/x-1.html?zarsrc=30&utm_content=z", "https://baocaobang.vn/x-1.html"),
    ("https://baocaobang.vn/tim-kiem?utm_source=x&q=lua&page=2", "https://baocaobang.vn/tim-kiem?page=2&q=lua"),
    ("https://baocaobang.vn/tim-kiem?b=2&a=1&c=3", "https://baocaobang.vn/tim-kiem?a=1&b=2&c=3"),
    # A repeated key keeps all its values, sorted (neither dropped nor order-dependent).
    ("https://baocaobang.vn/tim-kiem?tag=b&utm_source=x&tag=a", "https://baocaobang.vn/tim-kiem?tag=a&tag=b"),
    ("https://baocaobang.vn/tim-kiem?tag=a&tag=b", "https://baocaobang.vn/tim-kiem?tag=a&tag=b"),
    # Fragments dropped.
    ("https://baocaobang.vn/x-1.html#top", "https://baocaobang.vn/x-1.html"),
    ("http://www.baocaobang.vn/x-1.html?utm_source=fb#top", "https://baocaobang.vn/x-1.html"),
    # Repeated slashes collapsed.
    ("https://baocaobang.vn//chinh-tri//x-1.html", "https://baocaobang.vn/chinh-tri/x-1.html"),
    ("https://baonamdinh.vn/channel//5085/202211///slug-2525931/",
     "https://baonamdinh.vn/channel/5085/202211/slug-2525931/"),
    # A trailing slash after a file name goes; a directory-style one stays.
    ("https://baocaobang.vn/x-1.html/", "https://baocaobang.vn/x-1.html"),
    ("https://baocaobang.vn/x-1.html//", "https://baocaobang.vn/x-1.html"),
    ("https://baocaobang.vn/chinh-tri/", "https://baocaobang.vn/chinh-tri/"),
    # The host alone gets the root path.
    ("https://baocaobang.vn", "https://baocaobang.vn/"),
    # Unknown hosts: www./m. dropped, the rest of the rules apply as well.
    ("http://www.example.org/tin-tuc/bai-1.html?utm_source=x#a", "https://example.org/tin-tuc/bai-1.html"),
    ("https://m.example.org/tin-tuc/bai-1.html/", "https://example.org/tin-tuc/bai-1.html"),
    ("https://news.example.org/a/", "https://news.example.org/a/"),
    # Surrounding whitespace from scraped hrefs.
    ("  https://baocaobang.vn/x-1.html \n", "https://baocaobang.vn/x-1.html"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


ARTICLE_VARIANTS = {
    "cao-bang": [
        CB,
        CB.replace("https://", "http://"),
        CB.replace("https://", "http://www."),
        CB.replace("https://", "https://m."),
        CB + "?utm_source=facebook&utm_medium=social&fbclid=IwAR123",
        CB + "?zarsrc=31#comments",
        CB + "/",
        CB.replace("baocaobang.vn/", "baocaobang.vn//"),
    ],
    "nam-dinh": [
        ND,
        ND.rstrip("/"),  # the trailing-slash variant of a directory-style URL
        ND.replace("https://baonamdinh.vn", "http://baonamdinh.com.vn"),
        ND.replace("https://baonamdinh.vn", "https://www.baonamdinh.com.vn").rstrip("/"),
        ND + "?utm_campaign=x#top",
        ND + "/",
    ],
}


@pytest.mark.parametrize("name", sorted(ARTICLE_VARIANTS))
def test_url_id_same_for_variants(name):
    ids = {url_id(u) for u in ARTICLE_VARIANTS[name]}
    assert len(ids) == 1, ids


@pytest.mark.parametrize("url", [u for us in ARTICLE_VARIANTS.values() for u in us])
def test_url_id_shape(url):
    assert re.fullmatch(r"[0-9a-f]{16}", url_id(url))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (CB, CB.replace("3174068", "3174069")),
        (CB, "https://baocaobang.vn/x-1.html"),
        (ND, ND.replace("2525931", "2525932")),
        ("https://baocaobang.vn/x-1.html", "https://baolaocai.vn/x-1.html"),
        ("https://baocaobang.vn/tim-kiem?q=a", "https://baocaobang.vn/tim-kiem?q=b"),
        ("https://baocaobang.vn/tim-kiem?tag=a&tag=b", "https://baocaobang.vn/tim-kiem?tag=a&tag=c"),
        ("https://example.org/a/", "https://example.org/b/"),
    ],
)
def test_url_id_differs_for_different_articles(a, b):
    assert url_id(a) != url_id(b)


def test_url_id_not_fooled_by_tracking_only_difference():
    assert url_id(ARTICLE_VARIANTS["cao-bang"][0]) == url_id(ARTICLE_VARIANTS["cao-bang"][4])
    # and the id is the same as the id of the canonical form
    assert url_id(CB + "?utm_source=x") == url_id(canonical_url(CB + "?utm_source=x"))


# --- idempotence ---------------------------------------------------------------------------------

_SEGMENT = st.text(alphabet=st.sampled_from("abcxyz019-_.~%éàđ "), min_size=0, max_size=12)
_PATH = st.builds(
    lambda segs, trailing, ext: "/" + "/".join(segs) + (ext if segs else "") + trailing,
    st.lists(_SEGMENT, max_size=5),
    st.sampled_from(["", "/", "//"]),
    st.sampled_from(["", ".html", ".htm", ".php"]),
)
_QUERY = st.lists(
    st.tuples(st.sampled_from(["q", "page", "id", "utm_source", "fbclid", "zarsrc", "a b"]),
              st.text(alphabet=st.sampled_from("ab1 éđ%+"), max_size=5)),
    max_size=4,
).map(lambda kvs: "&".join(f"{k}={v}" for k, v in kvs))
_HOST = st.sampled_from([
    "baocaobang.vn", "www.baocaobang.vn", "m.baocaobang.vn", "baonamdinh.com.vn", "baonamdinh.vn",
    "baocantho.com.vn", "baolaocai.vn", "www.example.org", "example.org", "m.example.org",
])


@given(
    st.sampled_from(["http", "https"]), _HOST, _PATH, _QUERY, st.sampled_from(["", "#top", "#"]),
)
@settings(max_examples=500)
def test_canonical_url_idempotent(scheme, host, path, query, fragment):
    url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "") + fragment
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert once.startswith("https://")
    assert "#" not in once
    assert "utm_source" not in once and "fbclid" not in once and "zarsrc" not in once
    assert url_id(once) == url_id(url)

"""crawler/registry.py: the seeds/*.toml registry of papers."""

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.registry import FAMILIES, SEEDS_DIR, Registry, RegistryError, default_registry, load_site

REPO = Path(__file__).resolve().parent.parent
SEED_FILES = sorted(SEEDS_DIR.glob("*.toml"))
# The registry keys are the seed file names; these four papers are always among them.
EXPECTED_KEYS = [p.stem for p in SEED_FILES]
CORE_KEYS = ["baocantho", "baocaobang", "baolaocai", "baonamdinh"]


def test_seeds_dir_is_the_repos():
    assert REPO / "seeds" == SEEDS_DIR
    assert set(CORE_KEYS) <= set(EXPECTED_KEYS)


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
def test_every_seed_loads(path):
    site = load_site(path)
    assert site.key == path.stem
    assert site.name and site.short_name and site.province
    assert site.family in FAMILIES
    assert site.domains and site.start_urls


def test_registry_keys_are_file_names():
    registry = Registry.load()
    assert list(registry.sites) == EXPECTED_KEYS
    assert len(registry) == len(SEED_FILES)
    assert [s.key for s in registry] == EXPECTED_KEYS
    assert default_registry().sites.keys() == registry.sites.keys()


def test_scrapy_list_prints_the_registry_keys():
    scrapy = REPO / ".venv" / "bin" / "scrapy"
    proc = subprocess.run([str(scrapy), "list"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == sorted(default_registry().sites)
    assert proc.stdout.splitlines() == EXPECTED_KEYS


def _site_urls(site):
    urls = [*site.start_urls, *(s.url for s in site.sections), *site.feeds, *site.sitemaps]
    if site.listing_api.get("url"):
        urls.append(site.listing_api["url"])
    return urls


@pytest.mark.parametrize("site", list(default_registry()), ids=lambda s: s.key)
def test_urls_are_on_the_papers_domains(site):
    urls = _site_urls(site)
    assert urls
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme == "https", url
        assert parts.hostname in site.domains, url


@pytest.mark.parametrize("site", list(default_registry()), ids=lambda s: s.key)
def test_article_pattern_compiles(site):
    assert isinstance(re.compile(site.article_pattern), re.Pattern)
    assert site.article_re.pattern == site.article_pattern


@pytest.mark.parametrize(
    ("url", "key", "is_article"),
    [
        ("https://baocaobang.vn/doan-cong-tac-tham-cao-bang-3174068.html", "baocaobang", True),
        ("https://baocaobang.vn/chinh-tri", "baocaobang", False),
        ("https://baonamdinh.vn/channel/5085/202211/doan-cong-tac-2525931/", "baonamdinh", True),
        ("https://baonamdinh.com.vn/channel/5085/202211/doan-cong-tac-2525931", "baonamdinh", True),
        ("https://baonamdinh.vn/channel/5085/", "baonamdinh", False),
        ("https://baocantho.com.vn/khai-mac-hoi-cho-a123456.html", "baocantho", True),
        ("https://baocantho.com.vn/thoi-su/", "baocantho", False),
        ("https://baolaocai.vn/tin-moi-post123456.html", "baolaocai", True),
        ("https://baolaocai.vn/thoi-su/", "baolaocai", False),
    ],
)
def test_is_article_url(url, key, is_article):
    assert default_registry()[key].is_article_url(url) is is_article


def test_is_article_url_rejects_other_hosts():
    assert not default_registry()["baocaobang"].is_article_url("https://example.org/x-3174068.html")


# --- for_url / for_host --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://baocaobang.vn/x-1.html", "baocaobang"),
        ("http://www.baocaobang.vn/x-1.html", "baocaobang"),
        ("https://m.baocaobang.vn/x-1.html", "baocaobang"),
        ("https://baonamdinh.com.vn/channel/5085/", "baonamdinh"),
        ("https://www.baonamdinh.com.vn/channel/5085/", "baonamdinh"),
        ("https://www.baonamdinh.vn/", "baonamdinh"),
        ("https://m.baocantho.com.vn/tin-a1.html", "baocantho"),
        ("https://www.baolaocai.vn/", "baolaocai"),
        ("HTTPS://BAOCAOBANG.VN/X-1.html", "baocaobang"),
    ],
)
def test_for_url_finds_primary_and_legacy_hosts(url, key):
    site = default_registry().for_url(url)
    assert site is not None
    assert site.key == key


@pytest.mark.parametrize(
    "url", ["https://example.org/x-1.html", "https://baocaobang.vn.example.org/", "not a url", ""]
)
def test_for_url_unknown(url):
    assert default_registry().for_url(url) is None


def test_host_aliases():
    aliases = default_registry().host_aliases()
    assert aliases["baonamdinh.com.vn"] == "baonamdinh.vn"
    assert aliases["www.baocaobang.vn"] == "baocaobang.vn"
    assert aliases["m.baocaobang.vn"] == "baocaobang.vn"
    assert "baocaobang.vn" not in aliases  # primary domains are not aliases


def test_unknown_key_error_names_the_key():
    with pytest.raises(KeyError, match="baohanoi"):
        default_registry()["baohanoi"]


# --- malformed entries ---------------------------------------------------------------------------

GOOD = """\
key = "{key}"
name = "Báo Thử"
short_name = "Thử"
province = "Thử"
domains = ["baothu.vn"]
family = "F1"
article_pattern = '^/[^/]+-\\d+\\.html$'
start_urls = ["https://baothu.vn/"]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_entry_loads(tmp_path):
    path = _write(tmp_path, "baothu", GOOD.format(key="baothu"))
    site = load_site(path)
    assert site.key == "baothu" and site.domain == "baothu.vn"
    assert site.is_article_url("https://baothu.vn/tin-moi-12.html")
    registry = Registry.load(tmp_path)
    assert list(registry.sites) == ["baothu"]


BAD = [
    ("missing short_name", "baothu", GOOD.format(key="baothu").replace('short_name = "Thử"\n', ""), "short_name"),
    ("empty short_name", "baothu", GOOD.format(key="baothu").replace('short_name = "Thử"', 'short_name = ""'),
     "short_name"),
    ("bad family", "baothu", GOOD.format(key="baothu").replace('family = "F1"', 'family = "F9"'), "F9"),
    ("key is not the file name", "baothu", GOOD.format(key="baokhac"), "baokhac"),
    ("bad regex", "baothu", GOOD.format(key="baothu").replace("'^/[^/]+-\\d+\\.html$'", "'^/(unclosed'"),
     "article_pattern"),
    ("bad status", "baothu", GOOD.format(key="baothu") + 'status = "closed"\n', "status"),
    ("unknown field", "baothu", GOOD.format(key="baothu") + 'colour = "red"\n', "colour"),
    ("section with an unknown field", "baothu",
     GOOD.format(key="baothu") + '[[sections]]\nurl = "https://baothu.vn/a/"\ntitle = "A"\n', "title"),
    ("section without url", "baothu", GOOD.format(key="baothu") + '[[sections]]\nname = "A"\n', "url"),
    ("article_pattern not a string", "baothu",
     GOOD.format(key="baothu").replace("'^/[^/]+-\\d+\\.html$'", "5"), "article_pattern"),
    ("not TOML", "baothu", GOOD.format(key="baothu") + "key = = 1\n", "TOML"),
]


@pytest.mark.parametrize(("name", "text", "word"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_malformed_entry_names_the_file(tmp_path, name, text, word):
    path = _write(tmp_path, name, text)
    with pytest.raises(RegistryError) as exc_info:
        load_site(path)
    message = str(exc_info.value)
    assert "baothu.toml" in message
    assert word in message
    with pytest.raises(RegistryError, match=r"baothu\.toml"):
        Registry.load(tmp_path)


def test_malformed_entry_among_good_ones(tmp_path):
    _write(tmp_path, "baotot", GOOD.format(key="baotot"))
    _write(tmp_path, "baoxau", GOOD.format(key="baoxau").replace('family = "F1"', 'family = "nope"'))
    with pytest.raises(RegistryError, match=r"^baoxau\.toml: "):
        Registry.load(tmp_path)


def test_registry_error_is_a_value_error():
    assert issubclass(RegistryError, ValueError)

"""The registry of papers: one declarative TOML file per paper in `seeds/`.

Adding a paper of a known CMS family is one file here plus its mirror fixtures; no Python.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"

FAMILIES = ("F1", "F2", "F3", "F4", "F5", "F6", "own", "generic")
STATUSES = ("current", "merged")


class RegistryError(ValueError):
    """A seeds/ entry is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Section:
    url: str
    name: str
    category_id: int | None = None


@dataclass(frozen=True)
class Site:
    key: str
    name: str
    short_name: str
    province: str
    domains: tuple[str, ...]
    family: str
    article_pattern: str
    start_urls: tuple[str, ...]
    status: str = "current"
    merged_into: str = ""
    verified: bool = False
    note: str = ""
    legacy_domains: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    listing_api: dict = field(default_factory=dict)
    selectors: dict = field(default_factory=dict)
    pagination: str = ""  # CSS selector of links to further listing pages; "" = the family's

    @property
    def domain(self) -> str:
        return self.domains[0]

    @property
    def all_hosts(self) -> tuple[str, ...]:
        return self.domains + self.legacy_domains

    @property
    def article_re(self) -> re.Pattern[str]:
        return _compile(self.article_pattern)

    def is_article_url(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.hostname in self.all_hosts and bool(self.article_re.search(parts.path))


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_REQUIRED = ("key", "name", "short_name", "province", "domains", "family", "article_pattern", "start_urls")


def load_site(path: Path) -> Site:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path.name}: not valid TOML: {exc}") from exc
    missing = [k for k in _REQUIRED if not data.get(k)]
    if missing:
        raise RegistryError(f"{path.name}: missing {', '.join(missing)}")
    if data["key"] != path.stem:
        raise RegistryError(f"{path.name}: key {data['key']!r} must equal the file name")
    if data["family"] not in FAMILIES:
        raise RegistryError(f"{path.name}: family {data['family']!r} is not one of {', '.join(FAMILIES)}")
    if data.get("status", "current") not in STATUSES:
        raise RegistryError(f"{path.name}: status must be one of {', '.join(STATUSES)}")
    try:
        re.compile(data["article_pattern"])
    except (re.error, TypeError) as exc:
        raise RegistryError(f"{path.name}: article_pattern: {exc}") from exc
    sections = data.pop("sections", [])
    tuples = ("domains", "legacy_domains", "start_urls", "feeds", "sitemaps")
    for name in tuples:
        if not isinstance(data.get(name, []), list):
            raise RegistryError(f"{path.name}: {name} must be a list of strings")
    kwargs = {k: tuple(v) if k in tuples else v for k, v in data.items()}
    try:
        return Site(sections=tuple(Section(**s) for s in sections), **kwargs)
    except TypeError as exc:
        raise RegistryError(f"{path.name}: {exc}") from exc


class Registry:
    def __init__(self, sites: list[Site]):
        self.sites = {s.key: s for s in sorted(sites, key=lambda s: s.key)}
        self._by_host = {host: s for s in self.sites.values() for host in s.all_hosts}

    @classmethod
    def load(cls, seeds_dir: Path = SEEDS_DIR) -> Registry:
        return cls([load_site(p) for p in sorted(Path(seeds_dir).glob("*.toml"))])

    def __iter__(self):
        return iter(self.sites.values())

    def __len__(self) -> int:
        return len(self.sites)

    def __getitem__(self, key: str) -> Site:
        try:
            return self.sites[key]
        except KeyError:
            raise KeyError(f"no paper {key!r} in the registry; `python -m crawler sites` lists them") from None

    def for_host(self, host: str | None) -> Site | None:
        if not host:
            return None
        host = host.lower().rstrip(".")
        return self._by_host.get(host) or self._by_host.get(host.removeprefix("www."))

    def for_url(self, url: str) -> Site | None:
        return self.for_host(urlsplit(url).hostname)

    def host_aliases(self) -> dict[str, str]:
        """Every legacy host -> the primary domain of its paper."""
        return {h: s.domain for s in self.sites.values() for h in s.legacy_domains}


@cache
def default_registry() -> Registry:
    return Registry.load()

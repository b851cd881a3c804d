"""Local mirror builder: replica pages of each paper, rendered in its CMS family's real template.

`build_mirror(root)` reads `seeds/<key>.toml` for every paper that has `mirror/content/<key>.toml`, renders
the content through `mirror/templates/<family>/` and writes `mirror/sites/<primary domain>/` plus a
manifest `_routes.json` ({request target "path" or "path?query": {"file", "status", "content_type"}})
that `crawler.mirror` serves over HTTP. Output is deterministic (no timestamps, sorted JSON).

Site shape (the same for every paper): home "/", each section's listing split in two pages (page 2 only
linked from page 1's pagination; F6 pages through its JSON listing API instead), article/photo/video/
error pages at their real paths (aliases serve the same file and are listed on the other section's
page 2), robots.txt on every domain, RSS for the seed's feeds, a sitemap index + urlset for its sitemaps.

`mirror_articles(root)` gives the ground truth the tests compare crawled documents with.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import tomllib
import unicodedata
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html.entities import codepoint2name
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape

ICT = timezone(timedelta(hours=7))
UTF8 = "; charset=utf-8"
CONTENT_TYPES = {".html": "text/html" + UTF8, ".json": "application/json", ".xml": "application/xml" + UTF8}
CONTENT_TYPES[".txt"] = "text/plain" + UTF8
EXTENSIONS = [(r"^/list-post-by-category", ".json"), (r"\.txt$", ".txt"), (r"/rss/|\.xml$", ".xml")]
# Listing page 2 per family ({path} = section path, {bare} = without trailing slash). F6 uses its JSON API.
PAGE2 = {"F1": "{path}?page=2", "F3": "{path}?page=2", "F4": "{bare}?p=2"}
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]
# CKEditor-style named entities: only the Latin-1 Vietnamese letters get encoded.
_LATIN1_VI = "àáâãèéêìíòóôõùúý"
ENTITIES = {c: f"&{codepoint2name[ord(c)]};" for c in _LATIN1_VI + _LATIN1_VI.upper()}
TEXT_FIELDS = ("title", "sapo", "byline")
DEFAULTS = dict(kind="article", published="", sapo="", body=[], byline="", tags=[], variant="", aliases=[])
DATE_FORMATS = {"iso": "%Y-%m-%dT%H:%M:%S%z", "date": "%Y-%m-%d", "dmy": "%d/%m/%Y", "hm": "%H:%M"}


def load_seeds(root: Path) -> dict[str, dict]:
    return {p.stem: tomllib.loads(p.read_text("utf-8")) for p in sorted((root / "seeds").glob("*.toml"))}


def _content_files(root: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted((root / "mirror" / "content").glob("*.toml"))}


def target_file(target: str) -> str:
    """Relative file name for a request target ("/a/b/?page=2" -> "a/b/index__page_2.html")."""
    path, _, query = target.partition("?")
    name = path.strip("/")
    if not name or path.endswith("/"):
        name = f"{name}/index".lstrip("/")
    if query:
        name += "__" + re.sub(r"[^A-Za-z0-9.-]+", "_", query)
    ext = next((e for pattern, e in EXTENSIONS if re.search(pattern, path)), ".html")
    return name if name.endswith(ext) else name + ext


def _dates(published: str) -> dict | None:
    if not published:
        return None
    dt = datetime.fromisoformat(published)
    dt = dt.replace(tzinfo=ICT) if dt.tzinfo is None else dt
    extra = dict(iso_colon=dt.isoformat(), weekday=WEEKDAYS[dt.weekday()], epoch=int(dt.timestamp()))
    return {k: dt.strftime(f) for k, f in DATE_FORMATS.items()} | extra | {"rfc822": format_datetime(dt)}


def _num(path: str) -> int:
    found = re.findall(r"\d+", path)
    return int(found[-1]) if found else int(hashlib.md5(path.encode()).hexdigest()[:6], 16)


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@jinja2.pass_context
def _vt(ctx, text: str) -> Markup:
    """Visible article text: escaped; with variant "entities", CKEditor-style half-encoded + one &nbsp;."""
    out = str(escape(text))
    if ctx.get("variant") == "entities":
        out = "".join(ENTITIES.get(c, c) for c in out).replace(", ", ",&nbsp;", 1)
    return Markup(out)


def _env(root: Path) -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(root / "mirror" / "templates")
    opts = dict(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, **opts)
    env.filters.update(vt=_vt, slug=_slug, md5=lambda s: hashlib.md5(str(s).encode()).hexdigest())
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return env


def _site(seed: dict, content: dict) -> dict:
    base = f"https://{seed['domains'][0]}"
    ids = {urlsplit(s["url"]).path.rstrip("/"): s.get("category_id") for s in seed.get("sections", [])}
    sections = [
        {**s, "url": base + s["path"], "category_id": ids.get(s["path"].rstrip("/"))}
        for s in content.get("sections", [])
    ]
    keep = ("key", "name", "short_name", "family", "feeds", "sitemaps", "listing_api")
    site = {k: seed.get(k) for k in keep} | {"domain": seed["domains"][0], "base": base, "sections": sections}
    return site | {"feeds": site["feeds"] or [], "sitemaps": site["sitemaps"] or []}


def _prepare(site: dict, raw: dict) -> dict:
    a = {**DEFAULTS, **raw}
    if a["variant"] == "nfd":  # the CMS stored the text decomposed: every copy of it is NFD
        nfd = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731
        body = [
            nfd(b) if isinstance(b, str) else {**b, "caption": nfd(b.get("caption", ""))} for b in a["body"]
        ]
        a.update({f: nfd(a[f]) for f in TEXT_FIELDS}, tags=[nfd(t) for t in a["tags"]], body=body)
    section = next((s for s in site["sections"] if s["path"] == a["section"]), site["sections"][0])
    images = [b for b in a["body"] if not isinstance(b, str)]
    a.update(url=site["base"] + a["path"], num=_num(a["path"]), d=_dates(a["published"]), images=images)
    a.update(
        section_name=section["name"], section_url=section["url"], image=images[0]["image"] if images else ""
    )
    return a


def _entry(a: dict, path: str, base: str) -> dict:
    keys = ("title", "sapo", "kind", "d", "image", "section_name", "section_url")
    return {k: a[k] for k in keys} | {"url": base + path, "path": path, "num": _num(path)}


def _api_item(e: dict, link_key: str) -> dict:
    return {
        "id": e["num"],
        "title": e["title"],
        link_key: e["path"],
        "description": e["sapo"],
        "thumb": e["image"],
    }


class _Writer:
    def __init__(self, out: Path):
        self.out, self.routes = out, {}

    def put(self, target: str, text: str, status: int = 200) -> str:
        name = target_file(target)
        path = self.out / name
        if path.exists() and path.read_text("utf-8") != text:
            raise ValueError(f"two different pages map to {name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8", newline="\n")
        self.routes[target] = {"file": name, "status": status, "content_type": CONTENT_TYPES[path.suffix]}
        return name


def _build_site(env: jinja2.Environment, seed: dict, content: dict, out: Path) -> dict:
    site = _site(seed, content)
    fam, base = site["family"], site["base"]
    arts = [_prepare(site, a) for a in content.get("articles", [])]
    tpl = lambda name: env.get_template(f"{fam}/{name}.html.j2")  # noqa: E731
    common = lambda name: env.get_template(f"common/{name}.j2")  # noqa: E731
    w = _Writer(out)

    # Listings, newest first (undated last): page 1 = first ceil(n/2) items, page 2 = the rest + aliases of
    # articles of the other sections.
    pages: dict[str, list[list[dict]]] = {}
    newest = sorted(arts, key=lambda a: a["published"] or "", reverse=True)
    for s in site["sections"]:
        items = [_entry(a, a["path"], base) for a in newest if a["section"] == s["path"]]
        half = math.ceil(len(items) / 2)
        pages[s["path"]] = [items[:half], items[half:]]
    for a in arts:
        others = [s["path"] for s in site["sections"] if s["path"] != a["section"]] or [a["section"]]
        for alias in a["aliases"]:
            pages[others[0]][1].append(_entry(a, alias, base))
    first = {p: [e for e in v[0] if e["kind"] in ("article", "photo")] for p, v in pages.items()}

    ctx = {"site": site}
    for s in site["sections"]:
        p2 = PAGE2[fam].format(path=s["path"], bare=s["path"].rstrip("/")) if fam in PAGE2 else None
        urls = {1: s["url"], 2: base + p2 if p2 else None}
        for n, items in enumerate(pages[s["path"]], 1):
            if n == 2 and not p2:
                continue
            nxt = n == 1 and bool(pages[s["path"]][1])
            html = tpl("section").render(ctx, section=s, items=items, page=n, page_urls=urls, has_next=nxt)
            w.put(s["path"] if n == 1 else p2, html)
            if n == 1 and s["path"] != "/":  # the other trailing-slash spelling answers too
                w.routes[s["path"][:-1] if s["path"].endswith("/") else s["path"] + "/"] = w.routes[s["path"]]
        api = site["listing_api"]
        if api and s["category_id"] is not None:
            for n, items in enumerate([*pages[s["path"]], []], 1):
                url = urlsplit(api["url"].format(page=n, category_id=s["category_id"]))
                data = [_api_item(e, api.get("link_key", "link")) for e in items]
                w.put(
                    f"{url.path}?{url.query}", json.dumps({"data": data}, ensure_ascii=False, sort_keys=True)
                )

    latest = [e for s in site["sections"] for e in pages[s["path"]][0][:3]]
    w.put("/", tpl("home").render(ctx, items=latest, by_section={p: v[0][:3] for p, v in pages.items()}))

    for a in arts:
        related = [e for e in first.get(a["section"], []) if e["path"] != a["path"]][:5]
        mostread = [e for p, v in first.items() if p != a["section"] for e in v][:5] or related[:3]
        name = {"video": "video", "error": "error"}.get(a["kind"], "article")
        html = tpl(name).render(ctx, a=a, variant=a["variant"], related=related, mostread=mostread)
        w.put(a["path"], html)
        for alias in a["aliases"]:
            w.routes[alias] = w.routes[a["path"]]

    for feed in site["feeds"]:
        slug = urlsplit(feed).path.rstrip("/").rsplit("/", 1)[-1]
        sec = next((s for s in site["sections"] if s["path"].strip("/") == slug), None)
        items = [_entry(a, a["path"], base) for a in arts if sec is None or a["section"] == sec["path"]]
        w.put(urlsplit(feed).path, common("rss.xml").render(ctx, feed_url=feed, section=sec, items=items))
    urls = [{"loc": base + p, "d": a["d"]} for a in arts for p in [a["path"], *a["aliases"]]]
    for sm in site["sitemaps"]:
        w.put(urlsplit(sm).path, common("sitemap.xml").render(ctx, index=[f"{base}/sitemap-articles.xml"]))
    if site["sitemaps"]:
        w.put("/sitemap-articles.xml", common("sitemap.xml").render(ctx, index=None, urls=urls))
    w.put("/robots.txt", common("robots.txt").render(ctx))

    manifest = json.dumps(w.routes, ensure_ascii=False, sort_keys=True, indent=1) + "\n"
    (out / "_routes.json").write_text(manifest, "utf-8", newline="\n")
    return {
        "files": len({r["file"] for r in w.routes.values()}),
        "routes": len(w.routes),
        "articles": len(arts),
    }


def build_mirror(root: Path, out: Path | None = None) -> dict[str, Any]:
    """Render every paper with a content file into `out` (default root/mirror/sites); returns counts."""
    root = Path(root)
    out = Path(out) if out else root / "mirror" / "sites"
    seeds, env, counts = load_seeds(root), _env(root), {}
    for key, cfile in _content_files(root).items():
        seed = seeds[key]
        site_dir = out / seed["domains"][0]
        if site_dir.exists():
            shutil.rmtree(site_dir)  # stale files of this domain
        site_dir.mkdir(parents=True)
        counts[seed["domains"][0]] = _build_site(env, seed, tomllib.loads(cfile.read_text("utf-8")), site_dir)
    totals = {k: sum(c[k] for c in counts.values()) for k in ("files", "routes", "articles")}
    return {"domains": counts, **totals}


def mirror_articles(root: Path, out: Path | None = None) -> list[dict]:
    """Ground truth: one dict per content article (content fields as written, before any variant)."""
    root = Path(root)
    out = Path(out) if out else root / "mirror" / "sites"
    seeds, result = load_seeds(root), []
    for key, cfile in _content_files(root).items():
        content = tomllib.loads(cfile.read_text("utf-8"))
        base = f"https://{seeds[key]['domains'][0]}"
        names = {s["path"]: s["name"] for s in content.get("sections", [])}
        for a in content.get("articles", []):
            result.append(
                {
                    **a,
                    "site": key,
                    "url": base + a["path"],
                    "aliases": [base + p for p in a.get("aliases", [])],
                    "file": out / seeds[key]["domains"][0] / target_file(a["path"]),
                    "section_name": names.get(a.get("section", ""), ""),
                }
            )
    return result

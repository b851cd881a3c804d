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
# F2 (OneCMS) and F5 (Mediatech): no real listing page was available; "?page=2" is invented for the mirror.
PAGE2 = {
    "F1": "{path}?page=2", "F2": "{path}?page=2", "F3": "{path}?page=2", "F4": "{bare}?p=2", "F5": "{path}?page=2",
    "own": "{path}?page=2", "F6": "{path}?page=2",  # F6 papers without the JSON listing API (invented shape)
}
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


def _ncr(text: str) -> Markup:
    """Escaped, with the Latin-1 Vietnamese letters as numeric references (OneCMS <title>/og:title: `b&#224;o`)."""
    return Markup("".join(f"&#{ord(c)};" if c in ENTITIES else c for c in str(escape(text))))


def _json_ascii(value: Any) -> Markup:
    """JSON with every non-ASCII letter as a \\u escape (baonghean's JSON-LD), safe inside <script>."""
    out = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return Markup(out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _env(root: Path) -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(root / "mirror" / "templates")
    opts = dict(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, **opts)
    env.filters.update(vt=_vt, slug=_slug, md5=lambda s: hashlib.md5(str(s).encode()).hexdigest())
    env.filters.update(ncr=_ncr, json_ascii=_json_ascii)
    env.filters["own_layout"] = own_layout  # the "own" family: a paper's [selectors] as its markup
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return env


# --- The "own" family: a paper's [selectors] rendered as its markup -----------------------------------------------
# A paper with a unique template has no family spec: its seeds [selectors] table is its parser. The mirror's
# mirror/templates/own/ print every field in elements built from that paper's FIRST selector for the field
# (`h1.pTitle` -> <h1 class="pTitle">; `#post-content .post-info .title` -> nested <div>s), so each replica carries
# what is known of the paper's real markup. Supported selector subset: tag, #id, .class, [attr] and [attr=v] (other
# operators print nothing: the template's own attributes, e.g. an href, must satisfy them), descendant and `>`
# combinators (an <a> under <ul>/<ol> gets an <li>), one trailing ::attr(x). Anything else raises at build time.
_CSS_SIMPLE = re.compile(r"([#.])([\w-]+)|\[([\w-]+)(?:([~|^$*]?=)\s*['\"]?([^'\"\]]*)['\"]?)?\]")
_VOID_TAGS = frozenset({"meta", "img", "br", "hr", "input", "link"})
OWN_DEFAULT_TAGS = {"title": "h1", "date": "div", "sapo": "div", "body": "div", "author": "p", "category": "a", "tags": "a"}


def _css_compound(text: str) -> dict:
    tag = re.match(r"[A-Za-z][\w-]*", text)
    rest, pos = text[tag.end():] if tag else text, 0
    c = {"tag": tag.group(0).lower() if tag else "", "id": "", "classes": [], "attrs": {}}
    for m in _CSS_SIMPLE.finditer(rest):
        if m.start() != pos:
            break
        pos = m.end()
        if m.group(1) == "#":
            c["id"] = m.group(2)
        elif m.group(1) == ".":
            c["classes"].append(m.group(2))
        elif m.group(4) in (None, "="):
            c["attrs"][m.group(3)] = m.group(5) or ""
    if pos != len(rest) or not text:
        raise ValueError(f"own family: unsupported CSS selector part {text!r}")
    return c


def parse_css(selector: str) -> tuple[list[dict], str]:
    """`div.a > p.b::attr(x)` -> ([{tag, id, classes, attrs}, …] outermost first, "x")."""
    css, _, attr = selector.partition("::attr(")
    return [_css_compound(p) for p in re.sub(r"\s*>\s*", " ", css.strip()).split()], attr.rstrip(")")


class OwnChain:
    """Nested elements for one field; `open(value, **attrs)` / `close()` print them (value -> the ::attr)."""

    def __init__(self, elements: list[dict], default: str, attr: str = "", in_body: bool = False, parent: str = ""):
        self.elements, self.default, self.attr, self.in_body, self.parent = elements, default, attr, in_body, parent

    def _tags(self) -> list[tuple[str, dict]]:
        out, parent = [], self.parent
        for i, c in enumerate(self.elements):
            tag = c["tag"] or (self.default if i == len(self.elements) - 1 else "div")
            if parent in ("ul", "ol") and tag != "li":
                out.append(("li", {}))
            attrs = ({"id": c["id"]} if c["id"] else {}) | ({"class": " ".join(c["classes"])} if c["classes"] else {})
            out.append((tag, attrs | c["attrs"]))
            parent = tag
        return out

    @property
    def outer(self) -> OwnChain:  # all but the last element (a tag box, a breadcrumb list)
        return OwnChain(self.elements[:-1], "div", parent=self.parent)

    @property
    def inner(self) -> OwnChain:  # the last element alone (one tag link, the category link)
        tags = self.outer._tags()
        return OwnChain(self.elements[-1:], self.default, self.attr, self.in_body, tags[-1][0] if tags else self.parent)

    @property
    def void(self) -> bool:
        return bool(self.elements) and (self.elements[-1]["tag"] or self.default) in _VOID_TAGS

    @property
    def distinct(self) -> bool:  # its last element has a class/attribute: other links beside it do not match
        return bool(self.elements) and bool(self.elements[-1]["classes"] or self.elements[-1]["attrs"])

    def open(self, value: str | None = None, **extra) -> Markup:
        tags = self._tags()
        if tags:
            last = dict(tags[-1][1], **extra) | ({self.attr: value} if self.attr and value is not None else {})
            tags[-1] = (tags[-1][0], last)
        return Markup("".join(f"<{t}" + "".join(f' {k}="{escape(v)}"' for k, v in a.items()) + ">" for t, a in tags))

    def close(self) -> Markup:
        return Markup("".join(f"</{t}>" for t, _ in reversed(self._tags()) if t not in _VOID_TAGS))


def own_layout(selectors: dict) -> dict[str, OwnChain]:
    """Per field, the chain to print (and "container": the title's wrappers, holding the whole article).

    A field sharing the container's leading elements is printed inside it without them; a field whose one
    remaining wrapper is the body element itself (`div.fulltext > p.font-bold` with body `div.fulltext`) is
    printed inside the body (`in_body`: the lede first, the byline last). The body element also takes the
    class (and id) of the other single-element body selectors (`div#editor-detail` + `div.fulltext`)."""
    first = {f: parse_css(v if isinstance(v, str) else v[0]) for f, v in selectors.items() if v and f in OWN_DEFAULT_TAGS}
    container = first["title"][0][:-1]
    body_chain = first["body"][0]
    body = {**body_chain[-1], "classes": list(body_chain[-1]["classes"]), "attrs": dict(body_chain[-1]["attrs"])}
    for alt in [] if isinstance(selectors["body"], str) else selectors["body"][1:]:
        (chain, _) = parse_css(alt)
        if len(chain) == 1 and chain[0]["tag"] in ("", body["tag"]) and not (chain[0]["id"] and body["id"]):
            body["id"] = body["id"] or chain[0]["id"]
            body["classes"] += [c for c in chain[0]["classes"] if c not in body["classes"]]
    out = {"container": OwnChain(container, "div")}
    for field, (chain, attr) in first.items():
        if field == "body":
            chain = [*chain[:-1], body]
        k = 0
        while k < min(len(container), len(chain) - 1) and chain[k] == container[k]:
            k += 1
        rel, in_body = chain[k:], False
        if field != "body" and len(rel) == 2 and _css_satisfied(rel[0], body):
            rel, in_body = rel[1:], True
        out[field] = OwnChain(rel, OWN_DEFAULT_TAGS[field], attr, in_body, (container[-1]["tag"] or "div") if container else "")
    return out


def _css_satisfied(want: dict, have: dict) -> bool:
    return (
        want["tag"] in ("", have["tag"] or "div")
        and want["id"] in ("", have["id"])
        and set(want["classes"]) <= set(have["classes"])
        and want["attrs"].items() <= have["attrs"].items()
    )


def _site(seed: dict, content: dict) -> dict:
    base = f"https://{seed['domains'][0]}"
    ids = {urlsplit(s["url"]).path.rstrip("/"): s.get("category_id") for s in seed.get("sections", [])}
    sections = [
        {**s, "url": base + s["path"], "category_id": ids.get(s["path"].rstrip("/"))}
        for s in content.get("sections", [])
    ]
    keep = ("key", "name", "short_name", "family", "feeds", "sitemaps", "listing_api", "selectors")
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
        html_pages = fam in PAGE2 and not (fam == "F6" and site["listing_api"])  # baocaobang pages by API
        p2 = PAGE2[fam].format(path=s["path"], bare=s["path"].rstrip("/")) if html_pages else None
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

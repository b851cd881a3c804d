"""One parser per CMS family, declared as data.

A family lists, per field, the CSS selectors that its templates use (first match wins); a paper's
`[selectors]` table in seeds/ overrides any of them. Selectors ending in `::attr(x)` read an
attribute. Fields a family cannot fill fall back to the generic path, field by field.
"""

from __future__ import annotations

from dataclasses import dataclass

FIELDS = ("title", "date", "sapo", "body", "author", "category", "tags", "video")


@dataclass(frozen=True)
class FamilySpec:
    name: str
    title: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    sapo: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # Elements inside the body to drop (ads, boxes), captions, and marks of right-aligned bylines.
    drop: tuple[str, ...] = ()
    captions: tuple[str, ...] = ()
    right_marks: tuple[str, ...] = ()
    # The first body paragraph is the lede when it is printed apart (whole bold, or a dateline tag).
    lede_in_body: bool = True
    # Selectors whose presence marks a video page (player markup).
    video: tuple[str, ...] = ()
    # Links to further listing pages on section pages (the spider follows them).
    pagination: tuple[str, ...] = ()


def _load() -> dict[str, FamilySpec]:
    from crawler.extract.families import f1, f2, f3, f4, f5, f6

    return {m.SPEC.name: m.SPEC for m in (f1, f2, f3, f4, f5, f6)}


FAMILY_SPECS: dict[str, FamilySpec] = _load()


def family_spec(name: str) -> FamilySpec | None:
    return FAMILY_SPECS.get(name)

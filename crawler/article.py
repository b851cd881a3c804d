"""The one document record the whole pipeline passes around.

Extraction produces an `Article`; pipelines validate, dedupe, render and store it. Scrapy accepts
dataclass instances as items (through itemadapter), so the same class is the Scrapy item.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Block kinds inside `Article.blocks`, in page order.
PARAGRAPH = "p"
CAPTION = "caption"

# Page kinds; everything but ARTICLE is dropped by the validation pipeline with a counted reason.
ARTICLE = "article"
NON_ARTICLE_KINDS = ("video", "photo", "listing", "error", "empty", "challenge")


@dataclass
class Block:
    kind: str  # PARAGRAPH or CAPTION
    text: str


@dataclass
class Image:
    url: str
    caption: str = ""


@dataclass
class Article:
    url: str
    canonical_url: str = ""
    site: str = ""  # registry key, "" for a page of an unknown site
    title: str = ""
    sapo: str = ""
    blocks: list[Block] = field(default_factory=list)
    author: str = ""
    published_at: str = ""  # ISO 8601 in Asia/Ho_Chi_Minh, or a date alone when the page gives no time
    modified_at: str = ""
    category: str = ""
    tags: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    page_kind: str = ARTICLE
    # Which extraction path produced each field: "family:F4", "site", "meta", "jsonld", "generic"...
    field_sources: dict[str, str] = field(default_factory=dict)
    # Filled by pipelines.
    id: str = ""
    content_hash: str = ""
    text: str = ""  # the rendered seed-schema document

    @property
    def paragraphs(self) -> list[str]:
        return [b.text for b in self.blocks if b.kind == PARAGRAPH]

    @property
    def captions(self) -> list[str]:
        return [b.text for b in self.blocks if b.kind == CAPTION]

    @property
    def body(self) -> str:
        """Body text: paragraphs and captions in page order, one blank line apart (no sapo, no byline)."""
        return "\n\n".join(b.text for b in self.blocks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        data = dict(data)
        data["blocks"] = [b if isinstance(b, Block) else Block(**b) for b in data.get("blocks", [])]
        data["images"] = [i if isinstance(i, Image) else Image(**i) for i in data.get("images", [])]
        known = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in known})

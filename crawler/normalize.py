"""Text normalization as small pure functions.

Storage keeps the text as printed (NFC, clean spaces); matching (dedupe, search) uses the folded
form from `fold_for_matching`, which also unifies the two Vietnamese tone-mark conventions.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Spaces that HTML and CMS editors leave in text: NBSP, the U+2000 block, narrow/medium/ideographic,
# and the Unicode line separators (U+2028/2029, NEL), which would split a block over two lines.
_ODD_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\r\n\f\v\u2028\u2029\x85]")
# Invisible characters: zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks.
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff\u00ad\u202a-\u202e]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# Either of the two above: one scan tells whether there is anything to remove at all.
_REMOVED = re.compile(f"{_INVISIBLE.pattern[:-1]}{_CONTROL.pattern[1:-1]}]")


def clean_text(text: str | None) -> str:
    """NFC, odd and invisible spaces removed, whitespace collapsed to single spaces, trimmed."""
    if not text:
        return ""
    if _REMOVED.search(text):
        text = _INVISIBLE.sub("", text)
        text = _CONTROL.sub("", text)
    # Once control characters are gone, the characters str.split() splits on are exactly the space and
    # _ODD_SPACES: splitting and joining with one space is the substitution, the collapse and the trim at once.
    return nfc(" ".join(text.split()))


def unescape_entities(text: str | None) -> str:
    """Decode HTML entities left in metadata values (og:title with `&#224;`, JSON-LD with `&aacute;`).

    Text taken from the DOM is already decoded by the parser; this is for attribute and JSON values,
    some of which are double-encoded (`&amp;aacute;`), hence the loop.
    """
    text = text or ""
    for _ in range(3):
        if not _ENTITY.search(text):
            break
        text = html.unescape(text)
    return clean_text(text)


# --- Bylines -------------------------------------------------------------------------------------

_CREDIT_PREFIX = re.compile(
    r"^(?:(?:tin|bài|ảnh|video|clip|đồ họa|đồ hoạ|thực hiện|nhóm pv|pv|ctv|phóng viên|nguồn)"
    r"(?:\s*(?:,|và|\+|-|&)\s*(?:tin|bài|ảnh|video|clip))*\s*:\s*\S)",
    re.IGNORECASE,
)
# "Theo TTXVN", "(Theo VTV)": a credit only when short and comma-free, so that editorial sentences
# such as "Theo Bộ NN&PTNT, ..." stay body text.
_THEO = re.compile(r"^\(?\s*theo\s+[^,.;:]{2,60}?\)?\.?$", re.IGNORECASE)
_NAME_WORD = re.compile(r"^[(\[]?[A-ZĐÀ-Ỹ][\w.'’-]*[)\]]?$|^[A-ZĐÀ-Ỹ](?:\.[A-ZĐÀ-Ỹ])+\.?$")
_NAME_SEPARATORS = re.compile(r"\s*(?:-|–|/|,|&)\s*|\s+và\s+")


def is_credit_line(text: str) -> bool:
    """A byline with an explicit credit form: `Tin, ảnh: X`, `Bài và ảnh: X`, `Theo TTXVN`..."""
    text = text.strip()
    if not text or len(text) > 120:
        return False
    if _CREDIT_PREFIX.match(text):
        return True
    return bool(_THEO.match(text)) and len(text.split()) <= 8


def looks_like_name(text: str) -> bool:
    """A bare name or initials (`Thế Hiển`, `P.Y`, `Ngọc Lan - Hoàng Hà`, `MAI QUẾ`).

    Weak evidence on its own: callers combine it with layout (bold, right-aligned, last block).
    """
    text = text.strip().rstrip(".")
    if not text or len(text) > 60 or text.endswith((":", "?", "!", ",", ";")):
        return False
    words = [w for part in _NAME_SEPARATORS.split(text) for w in part.split()]
    if not 1 <= len(words) <= 8:
        return False
    return all(_NAME_WORD.match(w) for w in words)


def byline_of(text: str, *, emphasized: bool = False) -> bool:
    """Whether one printed line is the article's byline.

    `emphasized` is the layout hint (the line is bold or right-aligned), which is what separates
    a bare name from a one-word sentence.
    """
    return is_credit_line(text) or (emphasized and looks_like_name(text))


# --- Boilerplate ---------------------------------------------------------------------------------

_RELATED_HEADINGS = re.compile(
    r"^(?:tin|bài)?\s*(?:cùng chuyên mục|liên quan|tin liên quan|bài liên quan|đọc thêm|xem thêm|"
    r"tin khác|tin cùng chuyên mục|có thể bạn quan tâm|bạn có thể quan tâm|tin mới nhất|tin đọc nhiều)\s*:?$",
    re.IGNORECASE,
)


# Longer than any cleaned text the pattern matches (its phrases, a `tin`/`bài` before, a space, a colon).
_RELATED_MAX = 40


def is_related_heading(text: str, cleaned: bool = False) -> bool:
    """Headings of related-article boxes (`Cùng chuyên mục`, `Tin liên quan`, `Đọc thêm`). `cleaned`: the
    text is clean_text's already (then one longer than any heading is not one, unread)."""
    if cleaned:
        return len(text) <= _RELATED_MAX and bool(_RELATED_HEADINGS.match(text))
    return bool(_RELATED_HEADINGS.match(clean_text(text)))


_SITE_SUFFIX = re.compile(r"\s+[-|–]\s+(?:báo|tạp chí|cổng)\s[^-|–]{2,60}$", re.IGNORECASE)


def clean_title(text: str | None) -> str:
    """A title from metadata, without the ` - Báo X điện tử` suffix some papers append."""
    text = unescape_entities(text)
    return _SITE_SUFFIX.sub("", text).strip()


# --- Matching form -------------------------------------------------------------------------------

# Old-style tone placement on open syllables oa/oe/uy (hoà, khoẻ, thuỷ) -> the new style (hòa, khỏe,
# thủy). Only syllable-final: "hoàng" keeps its mark on the a in both conventions.
_OLD_STYLE = re.compile(r"([oOuU])([aAeEyY])([\u0300\u0301\u0303\u0309\u0323])(?![\w\u0300-\u036f])")


# The same rule on NFC text, where each marked vowel is one character: `oà` -> `òa`, `uỷ` -> `ủy`.
_TONED = {unicodedata.normalize("NFC", v + t): (v, t) for v in "aAeEyY" for t in "\u0300\u0301\u0303\u0309\u0323"}
_OLD_STYLE_NFC = re.compile(f"([oOuU])([{''.join(_TONED)}])(?![\\w\u0300-\u036f])")


def _move_mark(m: re.Match) -> str:
    vowel, mark = _TONED[m.group(2)]
    return unicodedata.normalize("NFC", m.group(1) + mark) + vowel


def fold_tone_marks(text: str) -> str:
    """Move the tone mark of open oa/oe/uy syllables onto the first vowel (`hoà` -> `hòa`)."""
    if unicodedata.is_normalized("NFC", text):
        # Stored text is NFC: the rule applies to it as it stands, without decomposing and recomposing it all.
        return _OLD_STYLE_NFC.sub(_move_mark, text)
    decomposed = unicodedata.normalize("NFD", text)
    return nfc(_OLD_STYLE.sub(lambda m: m.group(1) + m.group(3) + m.group(2), decomposed))


_PUNCT = re.compile(r"[^\w\s]+")


def fold_for_matching(text: str) -> str:
    """The form used for fingerprints and duplicate matching: NFC, one tone convention, casefold,
    punctuation dropped, whitespace collapsed."""
    text = _PUNCT.sub(" ", clean_text(text).casefold())  # stray combining marks go before tone folding
    # The only whitespace left is the space: splitting and joining collapses and trims it.
    return " ".join(fold_tone_marks(text).split())

"""Full-text search as Vietnamese readers type it.

FTS5's `unicode61 remove_diacritics 2` folds tone and vowel marks, so `cao bang` finds `Cao Bằng`,
but it keeps đ/Đ (a letter of its own, not a d with a mark), so `da nang` would miss `Đà Nẵng`.
Storage therefore writes a shadow column, `search_folded`: the words of title, sapo and body that
contain đ, spelled with d, in order. The index covers it beside the printed text, so a search typed
with or without diacritics finds the same articles, and snippets still come from the printed text.
"""

from __future__ import annotations

import re

import sqlite_utils

from crawler.normalize import nfc

_WORD = re.compile(r"\w+")
_D_TO_ASCII = str.maketrans("đĐ", "dD")


def search_folded(*texts: str | None) -> str:
    """The đ-words of `texts` with d for đ: `Đà Nẵng được` -> `Dà dược`; the index folds the rest."""
    # The words (runs of \w) holding a đ, which is what `\w*[đĐ]\w*` finds; looked for only in the
    # whitespace-separated tokens holding one (a \w run never spans whitespace): a regex scan of every
    # character of a long body is the slow part.
    return " ".join(w.translate(_D_TO_ASCII) for t in texts if t for token in nfc(t).split()
                    if "đ" in token or "Đ" in token for w in _WORD.findall(token) if "đ" in w or "Đ" in w)


def ensure_fts(db: sqlite_utils.Database, columns: list[str], tokenize: str) -> bool:
    """Create `articles_fts` on `columns` with triggers, or rebuild it when an older database
    indexes other columns (it then fills `search_folded` first). Idempotent; True if it (re)built."""
    fts = db["articles_fts"]
    if fts.exists() and [c.name for c in fts.columns] == columns and tokenize in (fts.schema or ""):
        return False
    if fts.exists():
        # Drop the old index and its triggers first: the backfill below must not feed them.
        db["articles"].disable_fts()
    rows = db.execute("SELECT rowid, title, sapo, body FROM articles WHERE search_folded IS NULL").fetchall()
    db.conn.executemany("UPDATE articles SET search_folded = ? WHERE rowid = ?",
                        [(search_folded(title, sapo, body), rowid) for rowid, title, sapo, body in rows])
    db["articles"].enable_fts(columns, create_triggers=True, tokenize=tokenize, replace=True)
    return True


def fts_query(text: str | None) -> str:
    """An FTS5 query for what a person typed: its words as a phrase, or else all of them anywhere
    (`"cao bang" OR ("cao" "bang")`), so that bm25 ranks the exact phrase first. Operators and
    punctuation are dropped, so any input is a valid query; nothing typed matches nothing."""
    words = re.findall(r"\w+", nfc(text or ""))
    if not words:
        return '""'
    every = " ".join(f'"{w}"' for w in words)
    return every if len(words) == 1 else f'"{" ".join(words)}" OR ({every})'

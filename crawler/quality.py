"""The pinned extraction-quality gate (as trafilatura pins its F1).

Per-field accuracy (title, date with time, author, body) of the family parsers and of the generic
path alone, over every mirror article (whose content file is the truth) and the real pages in
../shared/realhtml (whose expected values are in tests/realhtml_expected.json). The figures are
compared with quality/baseline.json: a drop fails the gate; raising the baseline is an explicit
`python -m crawler quality --update-baseline`, which never lowers a figure.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from crawler.extract import extract

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "quality" / "baseline.json"
REAL_EXPECTED = REPO / "tests" / "realhtml_expected.json"
FIELDS = ("title", "date", "author", "body")
MODES = {"family": True, "generic": False}


def _pin(text: str) -> list:
    return [text[:30], len(text), hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]]


def _mirror_cases():
    from crawler.fixtures import mirror_articles

    for item in mirror_articles(REPO):
        if item["kind"] != "article":
            continue
        body = [b if isinstance(b, str) else b["caption"] for b in item["body"]]
        truth = {
            "title": item["title"],
            "date": f"{item['published'].replace(' ', 'T')}:00+07:00" if item["published"] else "",
            "author": item["byline"],
            "body": [item["sapo"], *[b for b in body if b]] if item["sapo"] else [b for b in body if b],
        }
        yield "mirror", item["url"], Path(item["file"]).read_bytes(), truth, False


def _real_cases(shared: Path):
    if not REAL_EXPECTED.is_file() or not shared.is_dir():
        return
    for row in json.loads(REAL_EXPECTED.read_text(encoding="utf-8")):
        path = shared / "realhtml" / row["file"]
        if path.is_file():
            truth = {"title": row["title"], "date": row["published_at"], "author": row["author"],
                     "body": [row["first"], row["last"]]}
            yield "real", _source_url(path), path.read_bytes(), truth, True


def _source_url(path: Path) -> str:
    """The page's original URL, from the note saved beside it in ../shared/realhtml."""
    note = path.with_suffix(".source.txt").read_text(encoding="utf-8")
    return re.search(r"original URL[^\n]*?(https?://\S+)", note).group(1)


def _score(art, truth: dict, pinned: bool) -> dict[str, bool]:
    doc = ([art.sapo] if art.sapo else []) + [b.text for b in art.blocks]
    if pinned:  # real pages: first and last paragraph, pinned by hash
        body_ok = bool(doc) and [_pin(doc[0]), _pin(art.paragraphs[-1] if art.paragraphs else "")] == truth["body"]
    else:
        body_ok = doc == truth["body"]
    return {"title": art.title == truth["title"], "date": art.published_at == truth["date"],
            "author": art.author == truth["author"], "body": body_ok}


def measure(shared: Path | None = None) -> dict:
    shared = shared or REPO.parent / "shared"
    cases = list(_mirror_cases()) + list(_real_cases(shared))
    result: dict = {}
    for mode, families in MODES.items():
        for corpus in ("mirror", "real"):
            subset = [c for c in cases if c[0] == corpus]
            if not subset:
                continue
            hits = dict.fromkeys(FIELDS, 0)
            for _, url, html, truth, pinned in subset:
                for field, ok in _score(extract(url, html, use_families=families), truth, pinned).items():
                    hits[field] += ok
            result[f"{mode}/{corpus}"] = {f: round(hits[f] / len(subset), 4) for f in FIELDS} | {"pages": len(subset)}
    return result


def compare(measured: dict, baseline: dict) -> list[str]:
    """Every figure below its baseline, as one line each."""
    drops = []
    for key, fields in baseline.items():
        if key not in measured:
            drops.append(f"{key}: not measured (pages missing?)")
            continue
        for field, value in fields.items():
            if field != "pages" and measured[key].get(field, 0) < value:
                drops.append(f"{key} {field}: {measured[key][field]:.4f} < baseline {value:.4f}")
    return drops


def table(measured: dict) -> str:
    lines = [f"{'mode/corpus':16} {'pages':>5} " + " ".join(f"{f:>7}" for f in FIELDS)]
    for key, row in measured.items():
        lines.append(f"{key:16} {row['pages']:5d} " + " ".join(f"{row[f]:7.3f}" for f in FIELDS))
    return "\n".join(lines)


def raised(measured: dict, baseline: dict) -> dict:
    """The new baseline: every figure the higher of measured and pinned (never lowered)."""
    return {k: {f: max(v, baseline.get(k, {}).get(f, 0)) if f != "pages" else v for f, v in row.items()}
            for k, row in measured.items()}


def run(update: bool = False, baseline_path: Path = BASELINE) -> int:
    measured = measure()
    print(table(measured))
    baseline = json.loads(baseline_path.read_text(encoding="utf-8")) if baseline_path.is_file() else {}
    drops = compare(measured, baseline)
    if update:
        baseline_path.parent.mkdir(exist_ok=True)
        baseline_path.write_text(json.dumps(raised(measured, baseline), indent=1, sort_keys=True) + "\n",
                                 encoding="utf-8")
        print(f"baseline written to {baseline_path} (figures only raised, never lowered)")
    for line in drops:
        print(f"DROP {line}")
    return 1 if drops and not update else 0



"""Generate the extractor's demo documents and their ground truth (sample_docs/).

Usage:  python sample_docs/generate.py [--out DIR] [--no-verify]

Writes seven fictional documents -- 3 invoices, 2 long contracts, 2 hospital
discharge summaries -- each as a PDF and as a text twin (.txt, or .md for
contracts), plus ``expected.json`` with the true value of every field, the
1-based page on which it appears, and whether it is printed next to a label
naming the field (``labelled``; false for values only stated in prose).
DIR defaults to the folder of this script.

Why it is built this way:

* Single source of truth.  Field values are defined once (``_content.py``); the
  same objects are rendered into the documents and serialised into
  expected.json, so the ground truth cannot drift from the documents.
* Same pages in both versions.  ``_layout.paginate`` assigns whole blocks to
  pages once, and both the PDF and the text renderer use that assignment.  In
  text versions pages are separated by a form feed (``\\f``), so
  ``text.split("\\f")[n - 1]`` is page n of the PDF, word for word.
* Deterministic.  Contract prose is generated from clause templates with a
  seeded ``random.Random``; the PDF creation date and producer are fixed; no
  timestamps.  Two runs produce byte-identical files (for a given fpdf2
  version), so a test can regenerate into a temp dir and compare.
* No font files.  Only fpdf2's core fonts (Helvetica/Times/Courier) are used,
  which encode latin-1 only: hence "EUR" instead of the euro sign.

After writing, ``verify()`` re-reads every output (PDFs through pypdfium2) and
checks page counts, that every page has a text layer, that PDF and text pages
contain the same words, and that each field's printed value occurs on its
stated page and on no earlier page.  It exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep __pycache__ out of sample_docs/
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _content import all_documents  # noqa: E402
from _layout import render  # noqa: E402

EXPECTED = "expected.json"
PAGE_RANGES = {"invoice": (1, 2), "contract": (12, 40), "discharge_summary": (2, 3)}


# --------------------------------------------------------------------------- generation


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def generate(out: Path) -> dict[str, Any]:
    """Render every document into ``out`` and write expected.json; return its content."""
    expected: dict[str, Any] = {}
    for doc in all_documents():
        r = render(doc)
        entry = {
            "kind": doc.kind,
            "pages": r.pages,
            "fields": {
                name: {"value": f.value, "page": r.field_pages[name], "display": f.display,
                       "labelled": f.labelled}
                for name, f in doc.fields.items()
            },
        }
        for suffix, data in ((".pdf", r.pdf), (doc.text_suffix, r.text.encode("utf-8"))):
            rel = doc.stem + suffix
            _write(out / rel, data)
            expected[rel] = entry
    expected = dict(sorted(expected.items()))
    text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    _write(out / EXPECTED, text.encode("utf-8"))
    return expected


# --------------------------------------------------------------------------- verification


def pdf_page_texts(path: Path) -> list[str]:
    import pypdfium2 as pdfium  # only needed for verification

    pdf = pdfium.PdfDocument(str(path))
    try:
        texts = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        pdf.close()


def text_pages(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\f")


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _pattern(s: str) -> re.Pattern[str]:
    """Match ``s`` with whitespace normalised, not glued to neighbouring words or digits."""
    s = _norm(s)
    before = r"(?<![\w,.])" if s[0].isalnum() else ""
    after = r"(?![\w]|[.,]\d)" if s[-1].isalnum() else ""
    return re.compile(before + re.escape(s) + after)


def _displays(display: Any) -> list[str]:
    """Flatten a field's display (str, list of str, list of dict) into strings."""
    if isinstance(display, str):
        return [display]
    if isinstance(display, dict):
        return [s for v in display.values() for s in _displays(v)]
    return [s for v in display for s in _displays(v)]


def _words(s: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", s))


def _check_value(name: str, value: Any, display: Any) -> str | None:
    """Cheap consistency check between a value and its printed form."""
    if isinstance(value, list):
        for v, d in zip(value, display):
            if isinstance(v, dict):
                for k in v:
                    if (err := _check_value(k, v[k], d[k])) is not None:
                        return f"{name}.{err}"
            elif (err := _check_value(name, v, d)) is not None:
                return err
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        digits = re.sub(r"[^\d.]", "", display.split("(")[-1]) if "(" in display else \
            display.replace(",", "")
        if Decimal(digits) != Decimal(str(value)):
            return f"{name}: value {value!r} != display {display!r}"
    if name.endswith("date") or name == "date_of_birth":
        y, m, d = value.split("-")
        if y not in display or (str(int(d)) not in display):
            return f"{name}: value {value!r} does not match display {display!r}"
    return None


def verify(out: Path) -> list[str]:
    """Check the generated files against expected.json; return a list of problems."""
    expected: dict[str, Any] = json.loads((out / EXPECTED).read_text(encoding="utf-8"))
    errors: list[str] = []
    cache: dict[str, list[str]] = {}
    for rel, spec in expected.items():
        path = out / rel
        if not path.exists():
            errors.append(f"{rel}: missing")
            continue
        pages = pdf_page_texts(path) if path.suffix == ".pdf" else text_pages(path)
        cache[rel] = pages
        lo, hi = PAGE_RANGES[spec["kind"]]
        if len(pages) != spec["pages"]:
            errors.append(f"{rel}: {len(pages)} pages, expected.json says {spec['pages']}")
        if not lo <= len(pages) <= hi:
            errors.append(f"{rel}: {len(pages)} pages, outside {lo}-{hi} for {spec['kind']}")
        for n, page in enumerate(pages, 1):
            if len(_norm(page)) < 40:
                errors.append(f"{rel}: page {n} has no (real) text layer")
        normed = [_norm(p) for p in pages]
        for name, f in spec["fields"].items():
            if (err := _check_value(name, f["value"], f["display"])) is not None:
                errors.append(f"{rel}: {err}")
            p = f["page"]
            for s in _displays(f["display"]):
                pat = _pattern(s)
                if not 1 <= p <= len(pages) or not pat.search(normed[p - 1]):
                    errors.append(f"{rel}: {name} {s!r} not found on page {p}")
                    continue
                first = next(i for i, t in enumerate(normed, 1) if pat.search(t))
                if len(s) >= 5 and first < p:
                    errors.append(f"{rel}: {name} {s!r} appears on page {first} before "
                                  f"stated page {p}")
    # The PDF and its text twin must carry the same words on every page.
    for rel, pages in cache.items():
        if not rel.endswith(".pdf"):
            continue
        twin = next((k for k in cache if k != rel and k.rsplit(".", 1)[0] ==
                     rel.rsplit(".", 1)[0]), None)
        if twin is None:
            errors.append(f"{rel}: no text twin")
            continue
        if expected[rel] != expected[twin]:
            errors.append(f"{rel}: expected.json entries differ from {twin}")
        for n, (a, b) in enumerate(zip(pages, cache[twin]), 1):
            wa, wb = _words(a), _words(b)
            if wa != wb:
                diff = sorted(((wa - wb) + (wb - wa)).elements())[:12]
                errors.append(f"{rel} vs {twin}: page {n} words differ, e.g. {diff}")
    return errors


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the sample documents.")
    parser.add_argument("--out", type=Path, default=HERE,
                        help="output directory (default: the folder of this script)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip verify() (which needs pypdfium2)")
    args = parser.parse_args(argv)
    expected = generate(args.out)
    for rel, spec in expected.items():
        print(f"{spec['pages']:3d} page(s)  {rel}")
    if args.no_verify:
        return 0
    errors = verify(args.out)
    for e in errors:
        print(f"VERIFY FAILED: {e}", file=sys.stderr)
    print(f"verify(): {'FAILED, ' + str(len(errors)) + ' problem(s)' if errors else 'OK'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

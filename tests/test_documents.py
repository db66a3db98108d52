"""From paths to Documents with ``load_documents``: supported inputs, recursive folders in a
stable order, duplicates, hidden entries; the table of bad inputs (each a DocumentError with
its path and a one-line reason, none stopping the others); and page texts, page offsets and
``page_of`` for PDFs and for text files with form feeds.

Every fixture is built in ``tmp_path`` at run time (see ``tests/pdfs.py``).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from extractor_tui.core import Document, LoadOptions, LoadResult, load_documents
from extractor_tui.core.documents import Outcome, Skipped
from extractor_tui.errors import (
    CorruptPdf,
    DocumentError,
    EmptyDocument,
    EmptyFolder,
    EncryptedPdf,
    FileTooLarge,
    NoTextLayer,
    PathNotFound,
    UnreadableFile,
    UnsupportedType,
)
from pdfs import (
    encrypted_pdf,
    image_only_pdf,
    large_pdf,
    mixed_pdf,
    pdf_bytes,
    text_pdf,
    truncated_pdf,
)

ENCRYPTED = "encrypted: a password is needed"
NO_TEXT = "no extractable text (scanned? OCR is not supported)"


def load(paths: list[Path | str], **options: int | float) -> LoadResult:
    """Run ``load_documents`` from synchronous code (module-scoped fixtures)."""
    return asyncio.run(load_documents(paths, LoadOptions(**options)))  # type: ignore[arg-type]


def outcome_paths(result: LoadResult) -> list[Path]:
    return [o.path for o in result.outcomes]


def assert_one_line(err: DocumentError) -> None:
    assert err.reason and "\n" not in err.reason and "\r" not in err.reason
    assert str(err) == f"{err.path}: {err.reason}"


def only_document(result: LoadResult) -> Document:
    assert result.errors == []
    assert len(result.documents) == 1
    return result.documents[0]


# --- supported inputs, folders, order -----------------------------------------------------


async def test_pdf_txt_and_md_load(tmp_path: Path) -> None:
    pdf = text_pdf(tmp_path / "a.pdf", ["PDF text on page one"])
    txt = tmp_path / "b.txt"
    txt.write_text("Plain text file.\n", encoding="utf-8")
    md = tmp_path / "c.md"
    md.write_text("# Heading\n\nMarkdown body.\n", encoding="utf-8")

    result = await load_documents([tmp_path])

    assert result.errors == []
    assert outcome_paths(result) == [pdf, txt, md]
    kinds = {d.path.name: d.kind for d in result.documents}
    assert kinds == {"a.pdf": "pdf", "b.txt": "text", "c.md": "text"}
    texts = {d.path.name: d.text for d in result.documents}
    assert texts["a.pdf"].strip() == "PDF text on page one"
    assert texts["b.txt"] == "Plain text file.\n"
    assert texts["c.md"] == "# Heading\n\nMarkdown body.\n"
    assert all(d.notes == () for d in result.documents)


async def test_suffix_case_does_not_matter(tmp_path: Path) -> None:
    pdf = text_pdf(tmp_path / "SCAN.PDF", ["Upper-case suffix"])
    txt = tmp_path / "NOTES.TXT"
    txt.write_text("shouting", encoding="utf-8")
    result = await load_documents([pdf, txt])
    assert result.errors == []
    assert [d.kind for d in result.documents] == ["pdf", "text"]


async def test_folders_are_read_recursively_in_sorted_order(tmp_path: Path) -> None:
    names = ["b.txt", "a/z.txt", "a/b/c.txt", "A.txt", "a.md", "c/x.txt", "10.txt", "9.txt",
             "c/d/e/deep.md"]
    for name in reversed(names):  # creation order must not matter
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"text of {name}", encoding="utf-8")

    result = await load_documents([tmp_path])

    expected = ["10.txt", "9.txt", "A.txt", "a/b/c.txt", "a/z.txt", "a.md", "b.txt",
                "c/d/e/deep.md", "c/x.txt"]
    assert [p.relative_to(tmp_path).as_posix() for p in outcome_paths(result)] == expected
    assert [d.text for d in result.documents] == [f"text of {n}" for n in expected]
    # The same call again gives the same order.
    assert outcome_paths(await load_documents([tmp_path])) == outcome_paths(result)


async def test_arguments_keep_the_order_given(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a", encoding="utf-8")
    z = tmp_path / "z.txt"
    z.write_text("z", encoding="utf-8")
    result = await load_documents([z, folder])
    assert outcome_paths(result) == [z, folder / "a.txt"]


async def test_a_file_named_twice_is_kept_once(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    doc = tmp_path / "doc.txt"
    doc.write_text("once", encoding="utf-8")
    (tmp_path / "other.md").write_text("other", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(doc)

    result = await load_documents([doc, "doc.txt", f"./{doc.name}", tmp_path, link])

    names = [p.name for p in outcome_paths(result)]
    assert names == ["doc.txt", "other.md"]
    assert result.errors == []


@pytest.mark.parametrize("name, shown", [
    ("report.docx", ".docx"),
    ("data.json", ".json"),
    ("Makefile", "(no extension)"),
    ("archive.tar.gz", ".gz"),
])
async def test_other_file_types_named_directly_are_refused(tmp_path: Path, name: str,
                                                           shown: str) -> None:
    other = tmp_path / name
    other.write_bytes(b"{}")
    result = await load_documents([other])
    [err] = result.errors
    assert type(err) is UnsupportedType
    assert err.path == other
    assert err.reason == f"unsupported file type {shown} (use .pdf, .txt or .md)"
    assert_one_line(err)
    assert result.skipped == ()


@pytest.mark.parametrize("name, shown", [
    ("schema.json", ".json"),
    ("Makefile", "(no extension)"),
    ("archive.tar.gz", ".gz"),
])
async def test_other_file_types_found_in_a_folder_are_skipped(tmp_path: Path, name: str,
                                                              shown: str) -> None:
    """A folder of documents often holds a schema or a spreadsheet too: that is not a
    failure, but it is listed, never passed over in silence."""
    other = tmp_path / "sub" / name
    other.parent.mkdir()
    other.write_bytes(b"{}")
    good = tmp_path / "good.txt"
    good.write_text("good", encoding="utf-8")
    result = await load_documents([tmp_path])
    assert result.errors == []
    assert [d.path for d in result.documents] == [good]
    assert result.skipped == (Skipped(other, f"unsupported type {shown}"),)


async def test_a_link_to_a_folder_is_skipped_and_said_so(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "far.txt").write_text("far", encoding="utf-8")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "near.txt").write_text("near", encoding="utf-8")
    (folder / "link").symlink_to(target)
    result = await load_documents([folder])
    assert [d.path.name for d in result.documents] == ["near.txt"]
    assert result.skipped == (Skipped(folder / "link", "link to a folder (not followed)"),)


async def test_a_symlink_loop_is_one_error_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("good", encoding="utf-8")
    (folder / "a.txt").symlink_to(folder / "b.txt")
    (folder / "b.txt").symlink_to(folder / "a.txt")
    loop = tmp_path / "loop.md"
    loop.symlink_to(loop)
    result = await load_documents([folder, loop])
    assert [d.path.name for d in result.documents] == ["good.txt"]
    errors = {e.path: e.reason for e in result.errors}
    assert errors == {folder / "a.txt": "cannot read: Too many levels of symbolic links",
                      folder / "b.txt": "cannot read: Too many levels of symbolic links",
                      loop: "cannot read: Too many levels of symbolic links"}


async def test_a_name_that_is_not_utf8_loads_under_its_own_bytes(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9-\xff.txt")
    path = tmp_path / name
    path.write_text("Invoice No.: 7", encoding="utf-8")
    doc = only_document(await load_documents([tmp_path]))
    assert os.fsencode(doc.path) == os.fsencode(tmp_path) + b"/caf\xe9-\xff.txt"


async def test_hidden_entries_are_passed_over_and_counted(tmp_path: Path) -> None:
    (tmp_path / "visible.txt").write_text("visible", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.txt").write_text("inside a hidden folder", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "sub" / "inner.md").write_text("inner", encoding="utf-8")

    result = await load_documents([tmp_path])

    assert [p.relative_to(tmp_path).as_posix() for p in outcome_paths(result)] == [
        "sub/inner.md", "visible.txt"]
    assert result.errors == []
    assert result.notes == ("passed over 3 hidden file(s) or folder(s)",)


async def test_no_hidden_entries_no_note(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    assert (await load_documents([tmp_path])).notes == ()


async def test_folder_with_only_hidden_entries_is_an_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "only-hidden"
    folder.mkdir()
    (folder / ".a.txt").write_text("a", encoding="utf-8")
    (folder / ".cache").mkdir()
    result = await load_documents([folder])
    [err] = result.outcomes
    assert isinstance(err, EmptyFolder)
    assert err.path == folder
    assert err.reason == "folder holds only 2 hidden entries"
    assert result.notes == ("passed over 2 hidden file(s) or folder(s)",)


async def test_on_outcome_sees_every_outcome(tmp_path: Path) -> None:
    text_pdf(tmp_path / "a.pdf", ["one"])
    (tmp_path / "b.txt").write_text("two", encoding="utf-8")
    (tmp_path / "c.json").write_text("{}", encoding="utf-8")
    seen_sync: list[Outcome] = []
    seen_async: list[Outcome] = []

    async def record(outcome: Outcome) -> None:
        await asyncio.sleep(0)
        seen_async.append(outcome)

    both = [tmp_path, tmp_path / "c.json"]  # c.json named: refused, not skipped
    first = await load_documents(both, on_outcome=seen_sync.append)
    second = await load_documents(both, on_outcome=record)
    assert sorted(map(str, seen_sync)) == sorted(map(str, first.outcomes))
    assert len(seen_sync) == 3 and len(seen_async) == 3
    assert {o.path for o in seen_async} == {o.path for o in second.outcomes}


# --- the table of bad inputs ----------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """One bad input: how to make it, what it must become, and its reason."""

    name: str
    make: Callable[[Path], Path]
    error: type[DocumentError]
    reason: str | None = None          # exact reason, when it is fixed
    reason_match: str | None = None    # else a pattern it must match (re.search)


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path
    return make


def _missing(folder: Path) -> Path:
    return folder / "no-such-file.pdf"


def _empty_folder(folder: Path) -> Path:
    path = folder / "empty-folder"
    path.mkdir()
    return path


CAP = 32 * 1024  # every other fixture is well under this
TOO_LARGE = r"^[0-9.]+ (bytes|KiB|MiB) is over the [0-9.]+ (bytes|KiB|MiB) cap \(max_file_mb\)$"

BAD_INPUTS = [
    Bad("missing", _missing, PathNotFound, reason="no such file or folder"),
    Bad("empty folder", _empty_folder, EmptyFolder, reason="folder holds no files"),
    Bad("empty txt", _write("empty.txt", b""), EmptyDocument, reason="empty file (0 bytes)"),
    Bad("empty pdf", _write("empty.pdf", b""), EmptyDocument, reason="empty file (0 bytes)"),
    Bad("whitespace txt", _write("blank.txt", b" \n\t\r\n  \f \n"), EmptyDocument,
        reason="no text: the file holds only whitespace"),
    Bad("not a pdf at all", _write("corrupt.pdf", random.Random(7).randbytes(4000)), CorruptPdf,
        reason="not a PDF (no %PDF header): renamed or damaged?"),
    Bad("pdf header then garbage",
        _write("garbage.pdf", b"%PDF-1.7\n" + random.Random(8).randbytes(4000)), CorruptPdf,
        reason_match="^corrupt or truncated PDF"),
    # Cut in half, the xref table, the trailer and some objects are gone: neither PDFium
    # nor pypdf recovers it (checked); see test_pdf_missing_only_its_tail_is_recovered.
    Bad("truncated pdf", lambda f: truncated_pdf(f / "truncated.pdf", ["Alpha", "Bravo"]),
        CorruptPdf, reason_match="^corrupt or truncated PDF"),
    Bad("encrypted aes-256",
        lambda f: encrypted_pdf(f / "aes.pdf", ["Secret"], "secret", "owner", "AES-256"),
        EncryptedPdf, reason=ENCRYPTED),
    Bad("encrypted rc4 (pypdf default)",
        lambda f: encrypted_pdf(f / "rc4.pdf", ["Secret"], "secret", "owner"),
        EncryptedPdf, reason=ENCRYPTED),
    Bad("encrypted aes-128",
        lambda f: encrypted_pdf(f / "aes128.pdf", ["Secret"], "secret", "owner", "AES-128"),
        EncryptedPdf, reason=ENCRYPTED),
    Bad("no text: rectangle", lambda f: image_only_pdf(f / "rectangle.pdf", pages=1),
        NoTextLayer, reason=NO_TEXT),
    Bad("no text: rectangle and image", lambda f: image_only_pdf(f / "scan.pdf", pages=3),
        NoTextLayer, reason=NO_TEXT),
    Bad("unsupported docx", _write("letter.docx", b"PK\x03\x04"), UnsupportedType,
        reason="unsupported file type .docx (use .pdf, .txt or .md)"),
    Bad("too large txt", _write("huge.txt", b"word " * (CAP // 5 + 100)), FileTooLarge,
        reason_match=TOO_LARGE),
    Bad("too large pdf",
        lambda f: large_pdf(f / "huge.pdf", "Big but valid", 3 * CAP),
        FileTooLarge, reason_match=TOO_LARGE),
    Bad("binary txt", _write("binary.txt", bytes(range(256)) * 8), UnreadableFile,
        reason="binary content, not text (NUL bytes)"),
    Bad("zero-filled txt", _write("zeros.txt", bytes(2048)), UnreadableFile,
        reason="binary content, not text (NUL bytes)"),
]


@pytest.fixture(scope="module")
def bad_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Outcome]]:
    """Every bad input, made in one folder and loaded in one call."""
    folder = tmp_path_factory.mktemp("bad")
    paths = [case.make(folder) for case in BAD_INPUTS]
    result = load(list(paths), max_file_bytes=CAP)
    assert outcome_paths(result) == paths
    return {case.name: (path, outcome)
            for case, path, outcome in zip(BAD_INPUTS, paths, result.outcomes, strict=True)}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c.name for c in BAD_INPUTS])
def test_bad_input(case: Bad, bad_outcomes: dict[str, tuple[Path, Outcome]]) -> None:
    path, outcome = bad_outcomes[case.name]
    assert type(outcome) is case.error, f"{path.name}: {outcome!r}"
    assert isinstance(outcome, DocumentError)
    assert outcome.path == path
    assert_one_line(outcome)
    if case.reason is not None:
        assert outcome.reason == case.reason
    if case.reason_match is not None:
        assert re.search(case.reason_match, outcome.reason), outcome.reason


async def test_the_size_cap_is_what_refuses_a_large_file(tmp_path: Path) -> None:
    pdf = large_pdf(tmp_path / "big.pdf", "Big but valid", 3 * CAP)
    txt = tmp_path / "big.txt"
    txt.write_bytes(b"word " * CAP)
    size = pdf.stat().st_size
    loaded = await load_documents([pdf, txt], LoadOptions(max_file_bytes=5 * CAP + 1))
    assert [d.text for d in loaded.documents] == ["Big but valid", "word " * CAP]
    at_cap = await load_documents([pdf], LoadOptions(max_file_bytes=size))
    assert at_cap.errors == []
    over = await load_documents([pdf], LoadOptions(max_file_bytes=size - 1))
    assert [type(e) for e in over.errors] == [FileTooLarge]


async def test_pdf_missing_only_its_tail_is_recovered(tmp_path: Path) -> None:
    # Only "startxref … %%EOF" missing: PDFium rebuilds the cross-reference table.
    data = pdf_bytes(["Recovered text"])
    path = tmp_path / "no-tail.pdf"
    path.write_bytes(data[: data.rindex(b"startxref")])
    doc = only_document(await load_documents([path]))
    assert doc.pages == ("Recovered text",)


@pytest.mark.parametrize("algorithm", ["AES-256", None], ids=["aes-256", "rc4"])
async def test_owner_password_only_pdf_loads(tmp_path: Path, algorithm: str | None) -> None:
    path = encrypted_pdf(tmp_path / "owner-only.pdf", ["Owner locked page one", "Page two"],
                         user="", owner="owner", algorithm=algorithm)
    doc = only_document(await load_documents([path]))
    assert doc.pages == ("Owner locked page one", "Page two")
    assert doc.kind == "pdf"


async def test_pdf_with_some_blank_pages_loads_with_a_note(tmp_path: Path) -> None:
    path = mixed_pdf(tmp_path / "mixed.pdf", ["First page text", None, "Third page text", None,
                                              None])
    doc = only_document(await load_documents([path]))
    assert doc.pages == ("First page text", "", "Third page text", "", "")
    assert doc.notes == ("3 of 5 pages have no text (scanned?); OCR is not supported",)


async def test_a_file_without_read_permission_is_unreadable(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    txt = tmp_path / "locked.txt"
    txt.write_text("secret", encoding="utf-8")
    pdf = text_pdf(tmp_path / "locked.pdf", ["secret"])
    txt.chmod(0)
    pdf.chmod(0)
    try:
        result = await load_documents([txt, pdf])
    finally:
        txt.chmod(0o600)
        pdf.chmod(0o600)
    for err, path in zip(result.outcomes, [txt, pdf], strict=True):
        assert type(err) is UnreadableFile, repr(err)
        assert err.path == path
        assert err.reason == "cannot read: Permission denied"


async def test_a_dangling_symlink_in_a_folder_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("good", encoding="utf-8")
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "deleted.txt")
    result = await load_documents([tmp_path])
    [err] = result.errors
    assert type(err) is UnreadableFile
    assert err.path == link
    assert err.reason == "cannot read: No such file or directory"
    assert [d.path.name for d in result.documents] == ["good.txt"]


async def test_bad_inputs_never_stop_the_good_ones(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    bad = {case.name: case.make(folder) for case in BAD_INPUTS
           if case.name not in {"missing", "empty folder"}}
    (folder / "empty-subfolder").mkdir()
    good: dict[Path, str] = {}
    for index in range(4):
        good[text_pdf(folder / f"good-{index}.pdf", [f"Good PDF number {index}"])] = (
            f"Good PDF number {index}")
        txt = folder / f"good-{index}.txt"
        txt.write_text(f"Good text number {index}", encoding="utf-8")
        good[txt] = f"Good text number {index}"
    owner_only = encrypted_pdf(folder / "owner-only.pdf", ["Owner only"], "", "owner")
    good[owner_only] = "Owner only"
    missing = tmp_path / "missing.txt"

    result = await load_documents([missing, folder, tmp_path / "no-folder"],
                                  LoadOptions(max_file_bytes=CAP))

    skipped = bad.pop("unsupported docx")  # found in a folder: skipped, not failed
    assert result.skipped == (Skipped(skipped, "unsupported type .docx"),)
    assert len(result.outcomes) == len(bad) + len(good) + 2
    assert {d.path: d.text for d in result.documents} == good
    errors = {e.path: type(e) for e in result.errors}
    assert errors == {missing: PathNotFound, tmp_path / "no-folder": PathNotFound,
                      **{bad[case.name]: case.error for case in BAD_INPUTS if case.name in bad}}
    for err in result.errors:
        assert_one_line(err)


# --- pages, offsets and page_of --------------------------------------------------------------


PAGE_TEXTS = ["Page one: Alpha\nsecond line of page one",
              "Page two: Bravo",
              "Page three: Charlie\nthe very end"]


def check_page_offsets(doc: Document, pages: list[str]) -> None:
    assert doc.pages == tuple(pages)
    assert doc.page_count == len(pages)
    assert doc.text == "\n".join(pages)
    assert len(doc.page_starts) == len(pages)
    assert doc.page_starts[0] == 0
    for index, page in enumerate(pages):
        start = doc.page_starts[index]
        assert doc.text[start:].startswith(page)
        assert doc.text[start:start + len(page)] == page
        last = start + len(page) - 1
        for offset in (start, start + len(page) // 2, last):
            assert doc.page_of(offset) == index + 1, (index, offset)
        if index + 1 < len(pages):
            # The newline joining two pages counts as the end of the page before it.
            assert doc.text[last + 1] == "\n"
            assert doc.page_of(last + 1) == index + 1
            assert doc.page_of(last + 2) == index + 2
    assert doc.page_of(len(doc.text) - 1) == len(pages)
    for outside in (-1, len(doc.text), len(doc.text) + 10):
        with pytest.raises(IndexError):
            doc.page_of(outside)


async def test_pdf_pages_and_offsets(tmp_path: Path) -> None:
    path = text_pdf(tmp_path / "three.pdf", PAGE_TEXTS)
    doc = only_document(await load_documents([path]))
    assert doc.kind == "pdf"
    check_page_offsets(doc, PAGE_TEXTS)
    assert doc.page_starts == (0, len(PAGE_TEXTS[0]) + 1,
                               len(PAGE_TEXTS[0]) + len(PAGE_TEXTS[1]) + 2)


async def test_text_file_form_feeds_make_pages(tmp_path: Path) -> None:
    path = tmp_path / "paged.txt"
    path.write_bytes(("\f".join(PAGE_TEXTS) + "\f").replace("\n", "\r\n").encode("utf-8"))
    doc = only_document(await load_documents([path]))
    assert doc.kind == "text"
    check_page_offsets(doc, PAGE_TEXTS)


async def test_text_file_without_form_feeds_is_one_page(tmp_path: Path) -> None:
    path = tmp_path / "one.md"
    path.write_text("just one page\nof two lines", encoding="utf-8")
    doc = only_document(await load_documents([path]))
    assert doc.pages == ("just one page\nof two lines",)
    assert doc.page_starts == (0,)
    assert doc.page_of(0) == doc.page_of(len(doc.text) - 1) == 1


async def test_guessed_encoding_becomes_a_document_note(tmp_path: Path) -> None:
    path = tmp_path / "ansi.txt"
    path.write_bytes(b"caf\xe9 \x80 5")
    doc = only_document(await load_documents([path]))
    assert doc.text == "café € 5"
    assert len(doc.notes) == 1 and "cp1252" in doc.notes[0]


def test_page_of_on_a_hand_built_document() -> None:
    doc = Document.from_pages(Path("x.txt"), "text", ["ab", "", "cde"])
    # text is "ab\n\ncde": page 2 is empty and holds only its trailing separator.
    assert doc.text == "ab\n\ncde"
    assert doc.page_starts == (0, 3, 4)
    assert [doc.page_of(i) for i in range(len(doc.text))] == [1, 1, 1, 2, 3, 3, 3]


async def test_the_folder_walk_and_the_stamp_checks_run_off_the_event_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from extractor_tui.core import documents

    for n in range(3):
        (tmp_path / f"d{n}.txt").write_text(f"document {n}\n", encoding="utf-8")
    walked: list[str] = []
    asked: list[str] = []
    real = documents.discover

    def recording(paths: object) -> object:
        walked.append(threading.current_thread().name)
        return real(paths)  # type: ignore[arg-type]

    def reuse(path: Path, stamp: object) -> bool:
        asked.append(threading.current_thread().name)
        return path.name == "d1.txt"

    monkeypatch.setattr(documents, "discover", recording)
    loop_thread = threading.current_thread().name
    result = await load_documents([tmp_path], reuse=reuse)
    assert walked and loop_thread not in walked  # 10,000 files held the loop 300 ms
    assert len(asked) == 3 and loop_thread not in asked
    assert [p.name for p in result.unchanged] == ["d1.txt"]
    assert sorted(d.path.name for d in result.documents) == ["d0.txt", "d2.txt"]


async def test_many_files_are_loaded_by_a_few_loaders_not_a_task_each(tmp_path: Path) -> None:
    for n in range(300):
        (tmp_path / f"d{n:03d}.txt").write_text(f"document {n}\n", encoding="utf-8")
    alive: list[int] = []
    options = LoadOptions(workers=2, text_concurrency=8)
    result = await load_documents([tmp_path], options,
                                  on_outcome=lambda _: alive.append(len(asyncio.all_tasks())))
    assert [d.path.name for d in result.documents] == [f"d{n:03d}.txt" for n in range(300)]
    # 10,000 tasks made and first run together held the loop about 200 ms
    assert max(alive) <= 8 + 4 * 2 + 3

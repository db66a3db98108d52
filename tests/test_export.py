"""The report contract and its exports: JSON keys, CSV safety and encoding, JSONL, exit codes."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from extractor_tui.core.export import (
    PRETTY_DOCUMENTS,
    csv_cell,
    export,
    neutralise,
    write_csv,
    write_failures_jsonl,
    write_json,
)
from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType
from extractor_tui.core.merge import merge_document
from extractor_tui.core.model import (
    ChunkId,
    ChunkOutcome,
    ChunkStatus,
    EndpointHealth,
    FieldResult,
    RawCandidate,
    ResultStatus,
    WorkItem,
)
from extractor_tui.core.report import (
    NOT_LOADED,
    DocumentReport,
    RunSummary,
    build_report,
    document_report,
    exit_code,
    failed_document,
)
from extractor_tui.errors import ConfigError, ErrorKind, OutputError

FIELDS = FieldSet((FieldSpec("party", required=True), FieldSpec("total", FieldType.NUMBER),
                   FieldSpec("signers", many=True)))
TEXT_ONE = "Agreement between Zoë Müller and =SUM(A1) Ltd. Total: $1,234.50."
TEXT_TWO = "Signed by Zoë Müller and [/bold] Bob."


def work(text: str, chunk: int, start: int = 0) -> WorkItem:
    return WorkItem(id=ChunkId(0, chunk), document="a.pdf", text=text, start=start,
                    end=start + len(text), page_starts=(0, 50), tokens=20, key=f"k{chunk}")


def completed(item: WorkItem, *raws: RawCandidate) -> ChunkOutcome:
    return ChunkOutcome(item, ChunkStatus.COMPLETED, 1, raws, raw='{"ok": true}',
                        prompt_tokens=100, completion_tokens=20)


def good_document(path: str = "docs/a.pdf") -> DocumentReport:
    one, two = work(TEXT_ONE, 1), work(TEXT_TWO, 2, start=60)
    outcomes = [
        completed(one, RawCandidate("party", "Zoë Müller", "between zoë müller", 0.9),
                  RawCandidate("total", "$1,234.50", "Total: $1,234.50", None)),
        completed(two, RawCandidate("signers", "Zoë Müller", "Zoë Müller", None),
                  RawCandidate("signers", "[/bold] Bob", "[/bold] Bob", None)),
    ]
    results = merge_document(FIELDS, [(o.item, o.candidates) for o in outcomes])
    return document_report(path, FIELDS, outcomes, results, cost_usd=0.0012)


def partial_document() -> DocumentReport:
    one, two = work(TEXT_ONE, 1), work(TEXT_TWO, 2, start=60)
    outcomes = [completed(one, RawCandidate("party", "=SUM(A1) Ltd.", "=SUM(A1) Ltd", None),
                          RawCandidate("total", "-12.5", "", None)),
                ChunkOutcome(two, ChunkStatus.FAILED, 4, raw="{not json",
                             reason=ErrorKind.INVALID_OUTPUT,
                             message="not JSON: Expecting property name", prompt_tokens=300,
                             completion_tokens=9)]
    results = merge_document(FIELDS, [(outcomes[0].item, outcomes[0].candidates)])
    return document_report("docs/b.pdf", FIELDS, outcomes, results, cost_usd=None)


def report(*documents: DocumentReport) -> dict[str, Any]:
    summary = RunSummary.from_documents(documents, requests=5, retries=2,
                                        elapsed_seconds=1.23456, provider="offline",
                                        model="offline",
                                        endpoints=(EndpointHealth("offline", answers=5),))
    return build_report(documents, summary)


# --------------------------------------------------------------------------- the contract


def test_json_keys_are_exactly_the_contract(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(report(good_document(), partial_document(),
                      failed_document("c.pdf", "encrypted: a password is needed", FIELDS)),
               target)
    data = json.loads(target.read_text(encoding="utf-8"))
    assert set(data) == {"version", "documents", "skipped", "summary"}
    assert set(data["summary"]) == {"documents", "chunks", "requests", "retries",
                                    "failed_chunks", "prompt_tokens", "completion_tokens",
                                    "tokens_estimated", "cost_usd", "elapsed_seconds",
                                    "provider", "model", "fatal", "cancelled", "skipped",
                                    "batch", "stages", "endpoints"}
    assert set(data["summary"]["batch"]) == {"requests", "prompt_tokens",
                                             "completion_tokens", "cost_usd"}
    for endpoint in data["summary"]["endpoints"]:
        assert set(endpoint) == {"name", "models", "requests", "answers", "rate_limited",
                                 "errors", "breaker", "reason", "mode", "limit", "maximum"}
    for document in data["documents"]:
        assert set(document) == {"path", "status", "error", "fields", "chunks",
                                 "failed_chunks", "stages", "tokens", "cost_usd"}
        assert list(document["fields"]) == ["party", "total", "signers"]
        assert set(document["chunks"]) == {"total", "completed", "failed", "cancelled"}
        assert set(document["tokens"]) == {"prompt", "completion", "estimated"}
        for field in document["fields"].values():
            assert {"value", "valid", "errors", "grounded", "sources", "candidates",
                    "conflicts", "edited", "edited_by", "edited_at", "verified",
                    "stage"} <= set(field)
            for source in field["sources"]:
                assert set(source) == {"chunk", "page", "quote"}
        for chunk in document["failed_chunks"]:
            assert {"chunk", "error", "attempts"} <= set(chunk)
    good, partial, failed = data["documents"]
    assert good["status"] == "complete" and good["error"] is None
    assert good["fields"]["total"] == {**good["fields"]["total"], "value": 1234.5,
                                       "valid": True}
    assert good["fields"]["party"]["sources"] == [
        {"chunk": "1", "page": 1, "quote": "between zoë müller"}]
    assert good["chunks"] == {"total": 2, "completed": 2, "failed": 0, "cancelled": 0}
    assert partial["status"] == "partial"
    assert partial["failed_chunks"][0]["reason"] == "invalid-output"
    assert partial["tokens"] == {"prompt": 400, "completion": 29, "estimated": False}
    assert failed["status"] == "failed" and failed["chunks"]["total"] == 0
    assert failed["fields"]["party"]["errors"] == [NOT_LOADED]
    assert data["summary"]["cost_usd"] is None  # b.pdf's price is unknown
    assert data["summary"]["chunks"] == 4 and data["summary"]["failed_chunks"] == 1


def test_status_rules() -> None:
    good = good_document()
    assert good.status is ResultStatus.COMPLETE
    invalid = {**good.fields, "total": FieldResult("total", "lots", valid=False,
                                                   errors=("not a number: 'lots'",))}
    first = [completed(work(TEXT_ONE, 1))]
    assert document_report("x", FIELDS, first, invalid, None).status is ResultStatus.PARTIAL
    cancelled = [*first, ChunkOutcome(work(TEXT_TWO, 2), ChunkStatus.CANCELLED, 0,
                                      reason=ErrorKind.CANCELLED, message="cancelled by the user")]
    cancelled_report = document_report("x", FIELDS, cancelled, good.fields, None)
    assert cancelled_report.status is ResultStatus.PARTIAL
    assert cancelled_report.chunks.cancelled == 1
    assert cancelled_report.failed_chunks[0].reason == "cancelled"
    nothing_done = [replace(o, status=ChunkStatus.FAILED) for o in first]
    assert document_report("x", FIELDS, nothing_done, good.fields,
                           None).status is ResultStatus.FAILED


@pytest.mark.parametrize(("statuses", "code"), [
    (["complete", "complete"], 0),
    (["complete", "partial"], 1),
    (["complete", "failed"], 1),
    (["partial"], 1),
    (["failed", "failed"], 2),
    ([], 2),
])
def test_exit_codes(statuses: list[str], code: int) -> None:
    assert exit_code({"documents": [{"status": s} for s in statuses]}) == code


def test_exit_code_of_built_reports() -> None:
    assert exit_code(report(good_document())) == 0
    assert exit_code(report(good_document(), partial_document())) == 1
    assert exit_code(report(failed_document("x.pdf", "corrupt", FIELDS))) == 2


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(("value", "cell"), [
    ("=SUM(A1)", "'=SUM(A1)"),
    ("+1", "'+1"),
    ("-1+2", "'-1+2"),
    ("@cmd", "'@cmd"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("  =1", "'  =1"),  # formula after leading whitespace
    ("-12.5", "'-12.5"),  # text, not a number
    (12.5, "12.5"),
    (-3, "-3"),
    (-12.5, "-12.5"),
    (True, "true"),
    (None, ""),
    ("[/bold]", "[/bold]"),
    ("Zoë Müller", "Zoë Müller"),
    ("a = b", "a = b"),
    (["a", "b"], "a; b"),
    (["-1", "b"], "'-1; b"),
    ([1.5, 2], "1.5; 2"),
    ([], ""),
])
def test_csv_cells(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def test_neutralise_leaves_plain_text_alone() -> None:
    assert neutralise("Acme") == "Acme" and neutralise("") == ""


def test_csv_rows_columns_lists_and_encoding(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    data = report(good_document("=cmd|' /C calc'!A0.pdf"), partial_document(),
                  failed_document("ç.pdf", "corrupt", FIELDS))
    write_csv(data, target)
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    offline = ["offline (no LLM)", ""]  # never taken for an LLM's result
    assert rows == [
        ["path", "status", "provider", "model", "party", "total", "signers"],
        ["'=cmd|' /C calc'!A0.pdf", "complete", *offline, "Zoë Müller", "1234.5",
         "Zoë Müller; [/bold] Bob"],
        ["docs/b.pdf", "partial", *offline, "'=SUM(A1) Ltd.", "-12.5", ""],
        ["ç.pdf", "failed", *offline, "", "", ""],
    ]


def test_csv_on_stdout_has_no_bom(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    write_csv(report(good_document()), None)
    out = capsysbinary.readouterr().out
    assert out.startswith(b"path,status,provider,model,party") and "Zoë".encode() in out


# --------------------------------------------------------------------------- JSON, JSONL


def test_json_is_utf8_not_escaped(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    write_json(report(good_document()), target)
    text = target.read_text(encoding="utf-8")
    assert "Zoë Müller" in text and "\\u00eb" not in text and text.endswith("}\n")


def test_dash_writes_json_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    export(report(good_document()), "-")
    assert json.loads(capsys.readouterr().out)["documents"][0]["path"] == "docs/a.pdf"


def test_jsonl_has_one_object_per_failed_chunk(tmp_path: Path) -> None:
    target = tmp_path / "failed.jsonl"
    export(report(good_document(), partial_document()), target)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row == {"document": "docs/b.pdf", "chunk": "2", "pages": [2, 2],
                   "reason": "invalid-output", "error": "not JSON: Expecting property name",
                   "attempts": 4, "text": TEXT_TWO, "raw": "{not json"}


def test_export_picks_the_format_by_extension(tmp_path: Path) -> None:
    data = report(good_document())
    export(data, tmp_path / "R.JSON")
    export(data, str(tmp_path / "r.csv"))
    assert json.loads((tmp_path / "R.JSON").read_text(encoding="utf-8")) == data
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig").startswith("path,status")
    with pytest.raises(ConfigError, match=r"\.json.*\.csv.*\.jsonl"):
        export(data, tmp_path / "r.xlsx")
    with pytest.raises(ConfigError, match="no extension"):
        export(data, tmp_path / "r")


def test_an_unwritable_target_is_one_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_json({"documents": []}, tmp_path / "missing" / "r.json")


# --------------------------------------------------------------------------- atomic writes


def test_a_failed_serialisation_leaves_the_old_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text('{"old": true}\n', encoding="utf-8")
    with pytest.raises(TypeError):
        write_json({"documents": [object()]}, target)
    assert target.read_text(encoding="utf-8") == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_crash_before_the_rename_leaves_the_old_file_untouched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.csv"
    target.write_text("old", encoding="utf-8")

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OutputError, match="No space left"):
        write_csv(report(good_document()), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_a_large_report_is_one_document_per_line_and_reads_back_the_same(
        tmp_path: Path) -> None:
    documents = [{"path": f"doc-{n}.txt", "status": "complete", "fields": {"total": {
        "value": n, "quote": "Total: \u202e€ \\ \"x\""}}} for n in range(PRETTY_DOCUMENTS + 1)]
    data = {"version": 2, "documents": documents, "skipped": [], "summary": {"documents": 101}}
    target = tmp_path / "big.json"
    write_json(data, target)
    text = target.read_text(encoding="utf-8")
    assert json.loads(text) == data
    lines = text.splitlines()
    count = PRETTY_DOCUMENTS + 1
    assert lines[:2] == ['{"version": 2,', '"documents": [']
    assert [json.loads(line.rstrip(",")) for line in lines[2:2 + count]] == documents
    assert lines[2 + count:] == ["],", '"skipped": [],', '"summary": {"documents": 101}}']
    assert "\u202e" not in text  # still escaped for terminals


def test_a_small_report_stays_indented(tmp_path: Path) -> None:
    data = {"documents": [{"path": "a.txt"}], "summary": {"documents": 1}}
    target = tmp_path / "small.json"
    write_json(data, target)
    assert target.read_text(encoding="utf-8") == json.dumps(data, indent=2) + "\n"


def test_a_large_report_goes_to_its_file_a_part_at_a_time_and_a_bad_value_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from extractor_tui.core import export as export_module

    documents = [{"path": f"doc-{n}.txt", "fields": {"total": {"value": n}}}
                 for n in range(PRETTY_DOCUMENTS + 50)]
    data: dict[str, Any] = {"version": 2, "documents": documents, "summary": {}}
    writes: list[int] = []
    real = export_module._encoded

    def counting(parts: Any, encoding: str) -> Any:
        for payload in real(parts, encoding):
            writes.append(len(payload))
            yield payload

    monkeypatch.setattr(export_module, "_OUTPUT_BYTES", 1000)
    monkeypatch.setattr(export_module, "_encoded", counting)
    target = tmp_path / "big.json"
    write_json(data, target)
    assert json.loads(target.read_text(encoding="utf-8")) == data
    assert len(writes) > 5 and max(writes) < 2000  # never the whole text at once
    documents[120]["fields"]["total"]["value"] = object()  # cannot be JSON
    with pytest.raises(TypeError):
        write_json(data, tmp_path / "bad.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.json"]  # no half file, no temp

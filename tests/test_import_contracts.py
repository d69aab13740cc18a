"""The import contracts of sadvae and realtime (``.importlinter``), and the torch-free live hot path.

Each contract of ``.importlinter`` runs through import-linter, the tool CI keeps (``lint-imports`` runs
the same file by hand). Imports inside functions count: a cycle hidden by a function-level import fails
like any other. The hot-path check reads module-level imports only, since a live machine (a Jetson)
runs the pipeline without torch and imports the torch-only parts on request.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter is in the dev extra")
grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (dev extra)")

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"

# never imported at module level by the live side (as tests/realtime/test_no_torch.py blocks them at run time)
HEAVY = ("torch", "sentence_transformers", "transformers", "onnx", "onnxscript")
# the torch backend: realtime.backends loads it on request only (load_backend("torch", ...))
TORCH_ON_REQUEST = ("realtime.backends.torch",)


def lint(contract: str) -> subprocess.CompletedProcess:
    """import-linter on one contract of ``.importlinter``, in a child process (returncode 0: kept).

    A child, because import-linter's CLI reconfigures logging (``logging.config.dictConfig``), which
    would silence the loggers of the modules the other tests check.
    """
    code = (
        "import sys\n"
        "from importlinter.cli import lint_imports\n"
        f"sys.exit(lint_imports(config_filename={str(CONFIG)!r}, limit_to_contracts=({contract!r},), "
        "no_cache=True, no_logo=True))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "contract",
    [
        "sadvae-never-imports-realtime",
        "sadvae-layers",
        "realtime-layers",
        "sadvae-acyclic",
        "realtime-acyclic",
    ],
)
def test_import_contract(contract):
    result = lint(contract)
    assert result.returncode == 0, (
        f"import contract {contract!r} of .importlinter is broken:\n{result.stdout}{result.stderr}"
    )


def _module_level_import_lines(path: Path) -> set[int]:
    """Line numbers of the import statements that run when the module is imported (not inside a function)."""
    lines: set[int] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                lines.add(child.lineno)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return lines


def _module_file(module: str) -> Path | None:
    """The source file of a module of this repository (found without importing it)."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def module_level_graph() -> dict[str, set[str]]:
    """importer -> modules it imports at module level, for every module of sadvae and realtime.

    ``if TYPE_CHECKING:`` imports are left out (grimp's ``exclude_type_checking_imports``); importing
    ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, which the walk in
    :func:`heavy_chain` adds.
    """
    graph = grimp.build_graph(
        "sadvae", "realtime", include_external_packages=True, exclude_type_checking_imports=True, cache_dir=None
    )
    edges: dict[str, set[str]] = {}
    for importer in graph.modules:
        if not importer.startswith(("sadvae", "realtime")):
            continue
        path = _module_file(importer)
        top = _module_level_import_lines(path) if path is not None else set()
        for imported in graph.find_modules_directly_imported_by(importer):
            details = graph.get_import_details(importer=importer, imported=imported)
            if any(d["line_number"] in top for d in details):
                edges.setdefault(importer, set()).add(imported)
    return edges


def heavy_chain(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    """The shortest module-level import chain from ``start`` to a :data:`HEAVY` package, or None."""

    def with_parents(module: str) -> list[str]:
        parts = module.split(".")
        return [".".join(parts[: i + 1]) for i in range(len(parts))]

    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        if module.split(".")[0] in HEAVY:
            chain = [module]
            while previous[chain[-1]] is not None:
                chain.append(previous[chain[-1]])
            return chain[::-1]
        for nxt in sorted(edges.get(module, ())):
            for m in with_parents(nxt):
                if m not in previous and m not in TORCH_ON_REQUEST:
                    previous[m] = module
                    queue.append(m)
    return None


def test_live_side_imports_no_torch_at_module_level():
    edges = module_level_graph()
    live = sorted(m for m in edges.keys() | {"realtime"} if m.startswith("realtime") and m not in TORCH_ON_REQUEST)
    assert "realtime.pipeline" in live and "realtime.cli" in live
    chains = {m: chain for m in live if (chain := heavy_chain(m, edges))}
    assert not chains, "realtime modules that import a torch-side package at module level:\n" + "\n".join(
        " -> ".join(chain) for chain in chains.values()
    )

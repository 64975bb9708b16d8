"""The package's layers: imports point one way, no cycles, no private names across modules.

Read from the source with ``ast`` (nothing is imported), so a violation is reported with
the file and line that introduced it.
"""
import ast
import os
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fca_utils"

#: What each layer may import from the package (besides itself). The top-level
#: modules (``__init__``, ``reproduce``) are entry points and may import anything.
ALLOWED = {
    "core": set(),
    "features": {"core"},
    "datasets": {"core"},
    "pipeline": {"core", "features"},
    "evaluation": {"core", "features", "datasets", "pipeline"},
    "paper": {"core", "features", "datasets", "pipeline", "evaluation"},
    "cli": {"core", "features", "datasets", "pipeline", "evaluation", "paper"},
}
ENTRY_POINTS = {"fca_utils", "fca_utils.reproduce"}


def module_name(path: Path) -> str:
    parts = ["fca_utils", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level else []
    return ".".join(base + ([target] if target else []))


def imports(path: Path):
    """(line, imported module, imported names) of every ``fca_utils`` import in one file."""
    module = module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = resolve(module, path.name == "__init__.py", node.level, node.module) if node.level else node.module
            if target and target.split(".")[0] == "fca_utils":
                yield node.lineno, target, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "fca_utils":
                    yield node.lineno, alias.name, []


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


FILES = sorted(PACKAGE.rglob("*.py"))


def test_the_layers_are_subpackages():
    top = sorted(p.name for p in PACKAGE.iterdir() if p.suffix == ".py")
    assert top == ["__init__.py", "pipeline.py", "reproduce.py"]
    for name in ALLOWED:
        if name != "pipeline":
            assert (PACKAGE / name / "__init__.py").is_file(), name


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    module = module_name(path)
    if module in ENTRY_POINTS:
        return
    own = layer(module)
    for line, target, names in imports(path):
        targets = [target] + ([f"{target}.{n}" for n in names] if target == "fca_utils" else [])
        for t in targets:
            other = layer(t)
            if other is None or other == own:
                continue
            assert other in ALLOWED[own], f"{path.name}:{line}: layer {own!r} imports {t} (layer {other!r})"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_names_across_modules(path):
    module = module_name(path)
    for line, target, names in imports(path):
        if target == module:
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{path.name}:{line}: imports private {private} from {target}"
        assert not any(part.startswith("_") and not part.startswith("__") for part in target.split(".")), \
            f"{path.name}:{line}: imports the private module {target}"
    tree = ast.parse(path.read_text())
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level
                for a in n.names}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            raise AssertionError(f"{path.name}:{node.lineno}: uses private {node.value.id}.{node.attr}")


def test_no_import_cycles():
    graph = {}
    for path in FILES:
        module = module_name(path)
        edges = set()
        for _, target, names in imports(path):
            for t in [target] + [f"{target}.{n}" for n in names]:
                edges.add(t)
        graph[module] = edges
    known = set(graph)
    graph = {m: {t for t in e if t in known and t != m and not m.startswith(t + ".")} for m, e in graph.items()}
    # a package's __init__ re-exporting its own modules is not a cycle of the design
    graph = {m: {t for t in e if not t.startswith(m + ".")} for m, e in graph.items()}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_paths_of_the_checkout_point_at_the_repository():
    from fca_utils.cli import reproduce
    from fca_utils.datasets import catalog

    repository = PACKAGE.parent
    assert reproduce.NOTEBOOKS == repository / "notebooks" and reproduce.NOTEBOOKS.is_dir()
    assert catalog.data_dir() == repository / "data" or "FCA_DATA_DIR" in os.environ

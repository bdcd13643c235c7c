"""The house rules as tests (issue 17): other packages through their public API only, no module over 400 lines,
no function over complexity 15, the runtime never importing the tools in ``lab`` when it is imported. Each failure
lists every violation as ``file:line: what``."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("thonminh", "edge", "server", "dashboards", "lab")
#: what a gateway or the service runs; ``lab`` (simulator, demo, local services) is imported only by its commands
RUNTIME = ("thonminh", "edge", "server", "dashboards")
TOOLS = "lab"
MAX_LINES = 400
MAX_COMPLEXITY = 15
#: Underscored names that are public API: the documented methods and attribute of ``collections.namedtuple``
#: (and so of ``typing.NamedTuple``), which start with ``_`` so they cannot clash with field names.
PUBLIC_UNDERSCORED = frozenset({"_asdict", "_replace", "_fields", "_field_defaults", "_make"})


def sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in PUBLIC_UNDERSCORED


def third_party(module: str) -> bool:
    top = module.split(".")[0]
    return bool(top) and top not in PACKAGES and top not in sys.stdlib_module_names


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def our_private_names(tree: ast.Module) -> set[str]:
    """Every underscored name a module defines: functions, classes, attributes it assigns, parameters."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            names.add(node.value)  # __slots__ entries, dataclass fields named in strings
    return {n for n in names if private(n)}


def imported_modules(tree: ast.Module) -> dict[str, str]:
    """Local name -> module, for every ``import x`` and ``import x as y`` of a module."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
    return bound


def private_uses(
    path: Path, tree: ast.Module, ours: set[str], inherited: set[str] | frozenset[str] = frozenset()
) -> Iterator[str]:
    """The private names of other packages ``tree`` uses. ``ours``: the underscored names this module defines;
    ``inherited``: those all our modules define (what ``self._x`` may reach through our own base classes)."""
    where = path.relative_to(ROOT)
    modules = imported_modules(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and third_party(node.module):
            if any(private(part) for part in node.module.split(".")):
                yield f"{where}:{node.lineno}: imports from the private module {node.module}"
            for alias in node.names:
                if private(alias.name):
                    yield f"{where}:{node.lineno}: imports the private name {alias.name} from {node.module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if third_party(alias.name) and any(private(part) for part in alias.name.split(".")):
                    yield f"{where}:{node.lineno}: imports the private module {alias.name}"
        elif isinstance(node, ast.Attribute) and private(node.attr):
            base = node.value
            module = modules.get(base.id) if isinstance(base, ast.Name) else None
            if module is not None and third_party(module):
                yield f"{where}:{node.lineno}: uses the private name {module}.{node.attr}"
            elif module is None and node.attr not in ours and not (_is_self(base) and node.attr in inherited):
                # an underscored attribute this module never defines belongs to another package's object
                yield f"{where}:{node.lineno}: uses the private attribute .{node.attr} of another package's object"


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def test_no_private_name_of_another_package_outside_tests():
    trees = {path: parse(path) for path in sources()}
    inherited = set().union(*(our_private_names(tree) for tree in trees.values()))
    violations = []
    for path, tree in trees.items():
        # an underscored attribute of another object is the business of the module that defines it (anything
        # else is another package's private state); self's may come from one of our own base classes
        violations += private_uses(path, tree, our_private_names(tree), inherited)
    assert not violations, "other packages through their public API only:\n" + "\n".join(violations)


def test_no_module_over_400_lines():
    long = []
    for path in sources():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long.append(f"{path.relative_to(ROOT)}:{lines}: {lines} lines (at most {MAX_LINES})")
    assert not long, "modules over the limit:\n" + "\n".join(long)


def test_no_function_over_complexity_15():
    # ruff's mccabe check (C901), with max-complexity from pyproject's [tool.ruff.lint.mccabe]
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [
            str(ruff),
            "check",
            "--select",
            "C901",
            "--output-format",
            "concise",
            "--no-cache",
            "--config",
            f"lint.mccabe.max-complexity = {MAX_COMPLEXITY}",
            *PACKAGES,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    found = [line for line in result.stdout.splitlines() if ": C901 " in line]
    assert not found, f"functions over complexity {MAX_COMPLEXITY}:\n" + "\n".join(found)


def test_the_scan_finds_private_names_of_other_packages():
    module = ROOT / "edge" / "_house_probe.py"  # scanned as if it were ours; never written to the tree
    tree = ast.parse(
        "import os\nimport paho.mqtt._private\nfrom paho.mqtt.client import Client, _socketpair_compat\n"
        "from aiomqtt._client import x\nimport aiomqtt as am\n\n"
        "def f(client, row):\n    os._exit(0)\n    am._helper()\n    client._sock.recv(1)\n    row._asdict()\n"
        "    client._ours()\n\nclass C(am.Client):\n    def g(self):\n"
        "        self._inherited()\n        self._lib_state()\n"
    )
    found = list(private_uses(module, tree, {"_ours"}, {"_ours", "_inherited"}))
    assert found == [
        "edge/_house_probe.py:2: imports the private module paho.mqtt._private",
        "edge/_house_probe.py:3: imports the private name _socketpair_compat from paho.mqtt.client",
        "edge/_house_probe.py:4: imports from the private module aiomqtt._client",
        "edge/_house_probe.py:9: uses the private name aiomqtt._helper",
        "edge/_house_probe.py:10: uses the private attribute ._sock of another package's object",
        "edge/_house_probe.py:17: uses the private attribute ._lib_state of another package's object",
    ]


def import_time_imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, module) of every import that runs when the module is imported: at module level, in class bodies and
    in ``if``/``try``/``with`` blocks, not inside functions (those run when called)."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        pending.extend(ast.iter_child_nodes(node))


def tools_imports(path: Path, tree: ast.Module) -> Iterator[str]:
    for line, module in import_time_imports(tree):
        if module == TOOLS or module.startswith(f"{TOOLS}."):
            yield f"{path.relative_to(ROOT)}:{line}: imports {module} when it is imported"


def test_no_runtime_module_imports_the_tools_at_import_time():
    paths = sorted(p for package in RUNTIME for p in (ROOT / package).rglob("*.py"))
    violations = [v for path in paths for v in tools_imports(path, parse(path))]
    assert not violations, (
        f"the runtime imports {TOOLS} only inside the commands that need it:\n" + "\n".join(violations)
    )


def test_importing_every_runtime_module_loads_none_of_the_tools():
    script = (
        "import importlib, pkgutil, sys\n"
        f"for name in {RUNTIME!r}:\n"
        "    package = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(package.__path__, name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        f"print(sorted(m for m in sys.modules if m == {TOOLS!r} or m.startswith({TOOLS + '.'!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"importing the runtime loaded {done.stdout.strip()}"


def test_the_import_scan_sees_module_level_imports_only():
    tree = ast.parse(
        "import os\nif os.name:\n    from lab.demo import demo\ntry:\n    import lab.simulate\nexcept ImportError:\n"
        "    pass\n\nclass C:\n    from lab import x\n\ndef f():\n    import lab.localservices\n"
    )
    found = list(tools_imports(ROOT / "edge" / "_house_probe.py", tree))
    assert sorted(found) == [
        "edge/_house_probe.py:10: imports lab when it is imported",
        "edge/_house_probe.py:3: imports lab.demo when it is imported",
        "edge/_house_probe.py:5: imports lab.simulate when it is imported",
    ]


def test_a_package_shadowed_by_a_test_folder_defines_nothing_in_its_init():
    """``make test`` runs pytest's script with tests/ on its path and the project installed by an editable finder:
    ``server`` is then a namespace package joined with tests/server, and server/__init__.py never runs. A name
    defined there (API_PREFIX was) imports in one way of running the tests and not in CI's."""
    for folder in sorted(p for p in (ROOT / "tests").iterdir() if (ROOT / p.name / "__init__.py").exists()):
        tree = ast.parse((ROOT / folder.name / "__init__.py").read_text())
        defined = [
            ast.unparse(node)
            for node in tree.body
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))  # the docstring
            and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
            and not (isinstance(node, ast.AnnAssign | ast.Assign) and "__all__" in ast.unparse(node))
        ]
        assert not defined, f"{folder.name}/__init__.py: {defined}"

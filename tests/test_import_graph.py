"""The import graph: data flows one way (files → tracker → web, jobs, cli), and no module reaches
into another's private names.

Read with `ast`, not by importing: an import inside a function counts as much as one at the top.
Each failure names the file, the line and the import or attribute, e.g. (two it found before cli/ existed)

    tracker/demo_setup.py:60: tracker imports web: from web import create_app
    jobs/cli.py:20: private name of tracker.cli: from tracker.cli import _engine
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tracker", "web", "jobs", "cli")
# what each package must never import: tracker is the bottom; the command line sits on top of all
ABOVE = {"tracker": {"web", "jobs", "cli"}, "web": {"cli"}, "jobs": {"cli"}, "cli": set()}


def private(name: str) -> bool:
    """`_engine` is private; `__version__`, `__future__` are not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a `from … import` names, relative imports resolved against `module`."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def attribute_chain(node: ast.Attribute) -> tuple[ast.expr, list[str]]:
    """`a.b._c` → (Name a, ['b', '_c']); the root may be a call: `A(x)._c` → (Call, ['_c'])."""
    attrs = []
    cur: ast.expr = node
    while isinstance(cur, ast.Attribute):
        attrs.append(cur.attr)
        cur = cur.value
    return cur, attrs[::-1]


def problems(rel: str, text: str) -> Iterator[str]:
    """What is wrong with the imports of the module at `rel` (a path from the repository root)."""
    path = ROOT / rel
    module = module_name(path)
    is_package = path.name == "__init__.py"
    package = module.split(".")[0]
    above = ABOVE[package]
    tree = ast.parse(text, filename=rel)
    imported: dict[str, str] = {}  # a name bound by an import from our packages → where it comes from

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in above:
                    yield f"{rel}:{node.lineno}: {package} imports {top}: import {alias.name}"
                if top in PACKAGES:
                    bound = alias.asname or top
                    imported[bound] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            source = absolute(node, module, is_package)
            top = source.split(".")[0]
            if top in above:
                names = ", ".join(a.name for a in node.names)
                yield f"{rel}:{node.lineno}: {package} imports {top}: from {source} import {names}"
            if top not in PACKAGES:
                continue  # os._exit, argparse's classes: other projects' business
            for alias in node.names:
                if private(alias.name):
                    yield f"{rel}:{node.lineno}: private name of {source}: from {source} import {alias.name}"
                imported[alias.asname or alias.name] = f"{source}.{alias.name}"

    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        root, attrs = attribute_chain(node)
        # ast.walk visits every link of `a._b.c`: only the one ending at the first private name reports
        if not private(attrs[-1]) or any(private(a) for a in attrs[:-1]):
            continue
        if isinstance(root, ast.Call):  # `SmtpTransport(settings)._connect`: private to that class
            root, attrs = attribute_chain(root.func) if isinstance(root.func, ast.Attribute) else (root.func, [])
            attrs.append("")
        if isinstance(root, ast.Name) and root.id in imported:
            owner = ".".join([imported[root.id], *attrs[:-1]])
            yield f"{rel}:{node.lineno}: private name of {owner}: {ast.unparse(node)}"


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_the_walk_sees_every_package() -> None:
    found = {module_name(p).split(".")[0] for p in sources()}
    assert found == set(PACKAGES), f"missing packages: {set(PACKAGES) - found}"


def test_imports_go_one_way_and_no_module_imports_private_names() -> None:
    found = [p for path in sources()
             for p in sorted(problems(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")),
                             key=lambda line: int(line.split(":")[1]))]
    assert not found, "import graph:\n" + "\n".join(found)


def check(source: str, rel: str = "tracker/example.py") -> list[str]:
    return list(problems(rel, source))


def test_the_check_catches_each_kind_of_problem() -> None:
    assert check("from web import create_app\n") == [
        "tracker/example.py:1: tracker imports web: from web import create_app"]
    assert check("def f():\n    import jobs.delivery\n") == [
        "tracker/example.py:2: tracker imports jobs: import jobs.delivery"]
    assert check("import cli.main as m\n") == ["tracker/example.py:1: tracker imports cli: import cli.main"]
    assert check("from cli.common import CliError\n", "jobs/x.py") == [
        "jobs/x.py:1: jobs imports cli: from cli.common import CliError"]
    assert check("from .loader import _record\n", "tracker/ingest/x.py") == [
        "tracker/ingest/x.py:1: private name of tracker.ingest.loader: from tracker.ingest.loader import _record"]
    assert check("from tracker.config import _mapping\n", "cli/x.py") == [
        "cli/x.py:1: private name of tracker.config: from tracker.config import _mapping"]
    assert check("import tracker.config\ntracker.config._mapping({})\n", "web/x.py") == [
        "web/x.py:2: private name of tracker.config: tracker.config._mapping"]
    assert check("from jobs.delivery import SmtpTransport\nc = SmtpTransport(s)._connect\n", "cli/x.py") == [
        "cli/x.py:2: private name of jobs.delivery.SmtpTransport: SmtpTransport(s)._connect"]
    # what is allowed: web and the CLI import tracker; a module's own private names; dunders; self._x
    assert check("from tracker.config import Settings\nimport web\nimport jobs.digest\n", "cli/x.py") == []
    assert check("from tracker.config import Settings\n", "web/x.py") == []
    assert check("_x = 1\nclass A:\n    def f(self):\n        return self._y, _x\n") == []
    assert check("from __future__ import annotations\nimport tracker\nprint(tracker.__version__)\n") == []
    assert check("import os\nfrom argparse import _SubParsersAction\nos._exit(1)\n") == []  # not ours

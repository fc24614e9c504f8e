"""The dependency graph of docs/architecture.md, as a test: every module's imports (top-level and lazy
ones inside functions), read with `ast`, go downward only, and no app imports another app's private
names (`_x`). A new app is placed in LAYERS before it imports anything."""

import ast
from pathlib import Path

import bianmin

ROOT = Path(bianmin.__file__).resolve().parent

# core <- org <- {licences, credit} <- catalog <- cases <- {bundles, …} <- supervision <- {web, demo} <- the project
LAYERS = [
    {"core"},
    {"org"},
    {"licences", "credit"},
    {"catalog"},
    {"cases"},
    {"bundles", "benefits", "feedback", "intermediaries", "inspections"},
    {"supervision"},
    {"web", "demo"},
    {""},  # the project's own modules: settings, urls, api (the router list), cli, wsgi
]
RANK = {app: i for i, layer in enumerate(LAYERS) for app in layer}


def _app_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def _imports(path: Path):
    """(line, imported module, [names]) for every absolute import of bianmin, wherever it sits."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "bianmin":
            yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "bianmin":
                    yield node.lineno, alias.name, []


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue  # migrations name other apps' migrations, not their code
        app = _app_of(path, root)
        where = path.relative_to(root)
        if app not in RANK:
            found.append(f"{where}: the app {app!r} has no place in the dependency graph (LAYERS)")
            continue
        for line, module, names in _imports(path):
            parts = module.split(".")
            target = parts[1] if len(parts) > 2 or (len(parts) == 2 and (root / parts[1]).is_dir()) else ""
            if len(parts) == 1:
                # `from bianmin import x`: x is an app (or a project module)
                for name in names:
                    target_app = name if (root / name).is_dir() else ""
                    if target_app != app and RANK.get(target_app, 99) >= RANK[app]:
                        found.append(f"{where}:{line}: {app or 'bianmin'} imports bianmin.{name}, which is not below it")
                continue
            if target == app:
                continue
            if RANK.get(target, 99) >= RANK[app]:
                found.append(f"{where}:{line}: {app or 'bianmin'} imports {module}, and {target or 'the project'} is not below it")
            private = [n for n in names if _private(n)] + [p for p in parts[2:] if _private(p)]
            if private:
                found.append(f"{where}:{line}: {app or 'bianmin'} imports private {', '.join(private)} from {module}")
    return found


def test_every_import_goes_down_the_dependency_graph():
    assert violations() == []


def test_the_check_finds_an_upward_import_a_lazy_one_and_a_private_name(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "licences").mkdir()
    (tmp_path / "cases").mkdir()
    (tmp_path / "supervision").mkdir()
    (tmp_path / "licences" / "demo.py").write_text("def load():\n    from bianmin.cases.models import Applicant\n")
    (tmp_path / "licences" / "excel.py").write_text("from bianmin.catalog.excel import Column\n")
    (tmp_path / "supervision" / "api.py").write_text("from bianmin.cases.api import ERRORS, _staff\n")
    (tmp_path / "cases" / "hooks.py").write_text("from bianmin.core import hooks\nfrom . import notify\n")
    (tmp_path / "cases" / "migrations").mkdir()
    (tmp_path / "cases" / "migrations" / "0001.py").write_text("from bianmin.supervision import x\n")
    (tmp_path / "newapp").mkdir()
    (tmp_path / "newapp" / "models.py").write_text("")
    found = violations(tmp_path)
    assert found == [
        "licences/demo.py:2: licences imports bianmin.cases.models, and cases is not below it",
        "licences/excel.py:1: licences imports bianmin.catalog.excel, and catalog is not below it",
        "newapp/models.py: the app 'newapp' has no place in the dependency graph (LAYERS)",
        "supervision/api.py:1: supervision imports private _staff from bianmin.cases.api",
    ]

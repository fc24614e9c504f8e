"""Writes happen only in services (DESIGN.md, issue 10.3): a view or an API endpoint parses, calls a
service or a selector, and renders. This test reads the source of every page and API module (by
their syntax tree, not by grep) and fails on an ORM write or a transaction found there, naming the
file, the line and the call. Move the write into the app's `services.py` (keyword-only arguments,
one transaction, an audit entry) instead of adding it below."""

from __future__ import annotations

import ast
from pathlib import Path

import bianmin

SRC = Path(bianmin.__file__).parent

# Methods that write whatever they are called on (querysets, managers, related managers, instances).
WRITE_METHODS = {"create", "bulk_create", "bulk_update", "get_or_create", "update_or_create", "delete",
                 "select_for_update", "set_rollback"}
# Queryset methods whose result `.update()` would write through.
QUERYSET_METHODS = {"filter", "exclude", "all", "select_related", "prefetch_related", "only", "defer", "order_by",
                    "annotate", "values", "values_list", "distinct", "none", "using", "select_for_update"}

# Writes that other helpers are moving into services in this session, by (app, function), so that a
# file moving inside its app keeps its entry. The lead empties this list when their branches merge;
# an entry that matches nothing any more fails the test, so that it cannot linger.
ALLOWED: dict[tuple[str, str], str] = {}  # (app, function) -> why; empty: every write is a service's


def is_page_or_api_module(path: Path) -> bool:
    name = path.name
    return "views" in name or name.startswith("api") or name.endswith("_api.py")


def _queryset_expr(node: ast.AST, querysets: set[str]) -> bool:
    """`X.objects`, `X.objects.filter(...)...`, `instance.related.all()`, or a name bound to one."""
    if isinstance(node, ast.Attribute):
        return node.attr == "objects" or _queryset_expr(node.value, querysets)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in QUERYSET_METHODS or _queryset_expr(node.func.value, querysets)
    if isinstance(node, ast.Name):
        return node.id in querysets
    return False


def writes_in(source: str, filename: str = "<source>") -> list[tuple[int, str, str]]:
    """[(line, enclosing function, call)] for each ORM write or transaction in the source."""
    tree = ast.parse(source, filename)
    # names assigned a queryset anywhere in the module (`qs = Message.objects.filter(...)`)
    querysets = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and _queryset_expr(node.value, set())
                 for target in node.targets if isinstance(target, ast.Name)}
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:  # `@transaction.atomic` belongs to the function it wraps
                visit(decorator, node.name)
            for child in [*node.args.defaults, *node.args.kw_defaults, *node.body]:
                if child is not None:
                    visit(child, node.name)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, node.func.value
            if (method in WRITE_METHODS
                    or (method == "save" and not node.args)  # Model.save(); not workbook.save(buffer)
                    or (method == "update" and _queryset_expr(receiver, querysets))):
                found.append((node.lineno, function, ast.unparse(node)[:120]))
        elif (isinstance(node, ast.Attribute) and node.attr == "atomic") or (isinstance(node, ast.Name) and node.id == "atomic"):
            found.append((node.lineno, function, ast.unparse(node)))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def scan() -> list[tuple[Path, int, str, str]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts or not is_page_or_api_module(path):
            continue
        out += [(path, line, function, call) for line, function, call in writes_in(path.read_text("utf-8"), str(path))]
    return out


def _app(path: Path) -> str:
    return path.relative_to(SRC).parts[0]


def test_no_orm_write_in_views_or_api_modules():
    found = scan()
    offending = [f"{path.relative_to(SRC.parent.parent)}:{line} in {function}(): {call}"
                 for path, line, function, call in found if (_app(path), function) not in ALLOWED]
    assert not offending, ("ORM writes or transactions in views/API modules; move each into the app's services.py "
                           "(one transaction, with its audit entry):\n  " + "\n  ".join(offending))
    stale = set(ALLOWED) - {(_app(path), function) for path, _, function, _ in found}
    assert not stale, f"allow-list entries that match no write any more, remove them: {sorted(stale)}"


def test_the_scan_sees_every_kind_of_write():
    """The scanner itself: each form of write is found, reads and dict updates are not."""
    source = '''
from django.db import transaction
from django.db.transaction import atomic

@transaction.atomic
def decorated(request):
    return 1

def view(request, ctx, wb, buffer):
    ctx.update(a=1)                                    # a dict: no
    wb.save(buffer)                                    # openpyxl: no
    list(Message.objects.filter(pk=1))                 # a read: no
    Message.objects.filter(pk=1).update(read_at=None)  # 1
    qs = Message.objects.filter(recipient=request.user)
    qs.update(read_at=None)                            # 2
    request.user.messages.all().update(read_at=None)   # 3
    m = Message(title="x")
    m.save()                                           # 4
    m.save(update_fields=["title"])                    # 5
    m.delete()                                         # 6
    Message.objects.create(title="x")                  # 7
    case.events.create(kind="x")                       # 8
    Message.objects.bulk_create([])                    # 9
    Message.objects.get_or_create(title="x")           # 10
    Message.objects.update_or_create(title="x")        # 11
    Message.objects.select_for_update().get(pk=1)      # 12
    with transaction.atomic():                         # 13
        pass
    with atomic():                                     # 14
        pass
'''
    found = writes_in(source)
    assert [function for _, function, _ in found] == ["decorated"] + ["view"] * 14
    calls = [call for _, _, call in found]
    assert calls[0] == "transaction.atomic" and calls[-1] == "atomic"
    assert not any("ctx.update" in c or "wb.save" in c or c.startswith("list(") for c in calls)
    assert is_page_or_api_module(Path("x/console_views.py")) and is_page_or_api_module(Path("x/api_kpis.py"))
    assert is_page_or_api_module(Path("x/holder_api.py")) and not is_page_or_api_module(Path("x/services.py"))

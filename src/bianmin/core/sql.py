"""INSERT fragments built from models, for the hot paths that write several tables in one PostgreSQL
statement (data-modifying CTEs: `cases.services` submitting a case). Table, column names, types and
database values all come from the models' fields, so the SQL follows the models; every value is a
typed parameter."""

from __future__ import annotations

from functools import lru_cache

from django.db import connection, connections, models


@lru_cache(maxsize=256)
def _template(model, exprs: tuple, rows: int, source: str, returning: str, vendor: str) -> tuple[str, tuple]:
    """The statement for `rows` instances and the fields whose values it takes, in order (one per
    shape: column names and types are the same every time)."""
    db = connections["default"]
    exprs = dict(exprs)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    given = tuple(f for f in fields if f.name not in exprs)
    columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
    if rows == 1:
        select = [exprs[f.name] if f.name in exprs else f"%s::{f.db_type(db)}" for f in fields]
        sql = f"SELECT {', '.join(select)}" + (f" FROM {source}" if source else "")
    else:
        names = {f.name: f"v{i}" for i, f in enumerate(given)}
        row = "(" + ", ".join(f"%s::{f.db_type(db)}" for f in given) + ")"
        select = [exprs[f.name] if f.name in exprs else f"v.{names[f.name]}" for f in fields]
        sql = (f"SELECT {', '.join(select)} FROM {source + ', ' if source else ''}"
               f"(VALUES {', '.join([row] * rows)}) AS v({', '.join(names.values())})")
    sql = f"INSERT INTO {db.ops.quote_name(model._meta.db_table)} ({columns}) {sql}"
    return (sql + f" RETURNING {returning}" if returning else sql), given


def insert_select(instances: list[models.Model], *, source: str = "", exprs: dict[str, str] | None = None,
                  returning: str = "") -> tuple[str, list]:
    """`INSERT INTO <table> (...) SELECT ...` writing `instances` (unsaved, of one model). `exprs` gives
    some fields an SQL expression instead of the instance's value (`{"case": "c.id"}`), which may name
    the `source` (`"c"`: an earlier CTE). One instance: its values inline; several: a VALUES list."""
    sql, fields = _template(type(instances[0]), tuple(sorted((exprs or {}).items())), len(instances), source, returning,
                            connection.vendor)
    db = connections["default"]
    # pre_save fills auto_now_add timestamps as Model.save() would
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), db) for obj in instances for f in fields]
    return sql, params

"""INSERT fragments built from models, for the hot paths that write several tables in one PostgreSQL
statement (data-modifying CTEs: `cases.services` submitting a case). Table, column names, types and
database values all come from the models' fields, so the SQL follows the models; every value is a
typed parameter."""

from __future__ import annotations

import time
from functools import lru_cache

from django.conf import settings
from django.db import connection, connections, models


@lru_cache(maxsize=256)
def _template(model, exprs: tuple, given: tuple, rows: int, source: str, returning: str) -> str:
    """The statement for `rows` instances giving values for the fields named in `given` (the others
    take the SQL expressions in `exprs`, or are left to the column's default, NULL). Cached: column
    names and types are the same every time."""
    db = connections["default"]
    exprs = dict(exprs)
    fields = [f for f in model._meta.concrete_fields if f.name in exprs or f.name in given]
    valued = [f for f in fields if f.name not in exprs]
    columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
    if rows == 1:
        select = [exprs[f.name] if f.name in exprs else f"%s::{f.db_type(db)}" for f in fields]
        sql = f"SELECT {', '.join(select)}" + (f" FROM {source}" if source else "")
    else:
        names = {f.name: f"v{i}" for i, f in enumerate(valued)}
        row = "(" + ", ".join(f"%s::{f.db_type(db)}" for f in valued) + ")"
        select = [exprs[f.name] if f.name in exprs else f"v.{names[f.name]}" for f in fields]
        sql = (f"SELECT {', '.join(select)} FROM {source + ', ' if source else ''}"
               f"(VALUES {', '.join([row] * rows)}) AS v({', '.join(names.values())})")
    sql = f"INSERT INTO {db.ops.quote_name(model._meta.db_table)} ({columns}) {sql}"
    return sql + f" RETURNING {returning}" if returning else sql


def insert_select(instances: list[models.Model], *, source: str = "", exprs: dict[str, str] | None = None,
                  returning: str = "") -> tuple[str, list]:
    """`INSERT INTO <table> (...) SELECT ...` writing `instances` (unsaved, of one model). `exprs` gives
    some fields an SQL expression instead of the instance's value (`{"case": "c.id"}`), which may name
    the `source` (`"c"`: an earlier CTE). One instance: its values inline; several: a VALUES list.
    Nullable fields that are None in every instance are left out (fewer parameters to send)."""
    model = type(instances[0])
    exprs = exprs or {}
    db = connections["default"]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in exprs]
    # pre_save fills auto_now_add timestamps as Model.save() would
    values = [[f.get_db_prep_save(f.pre_save(obj, add=True), db) for f in fields] for obj in instances]
    keep = [i for i, f in enumerate(fields) if not f.null or any(row[i] is not None for row in values)]
    sql = _template(model, tuple(sorted(exprs.items())), tuple(fields[i].name for i in keep), len(instances), source, returning)
    return sql, [row[i] for row in values for i in keep]


@lru_cache(maxsize=1)
def _prepared_cursor_class():
    import psycopg  # only with PostgreSQL

    class Prepared(psycopg.Cursor):  # server-side binding; prepared when the setting says so
        def execute(self, query, params=None, **kwargs):
            return super().execute(query, params, prepare=settings.PG_PREPARED_STATEMENTS, **kwargs)

    return Prepared


def fetchone_prepared(sql: str, params: list):
    """Run one statement and return its first row. On PostgreSQL the statement is bound on the server
    and prepared there once per connection (PG_PREPARED_STATEMENTS), for the statements of a hot path
    whose text repeats: parsing and planning a statement of several CTEs cost more than running it.
    Every parameter needs a type from its context or a cast (`%s::text`): the server sees no literals."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()
    connection.ensure_connection()
    started = time.monotonic()
    try:
        with connection.wrap_database_errors, _prepared_cursor_class()(connection.connection) as cur:  # Django's error classes
            cur.execute(sql, params)
            return cur.fetchone()
    finally:
        if connection.queries_logged:  # Django's query log (tests, DEBUG) with the statement as written
            connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})

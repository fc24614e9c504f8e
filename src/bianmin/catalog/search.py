"""Full-text search over the catalog, in Chinese words, pinyin, pinyin initials and codes.

Each item gets a search document of two parts: the name part (weighted high) and the body
(department, conditions' key words, materials). Both are space-separated tokens:
jieba's search-mode words, each single Chinese character of the name, the pinyin of the name
and of each word, and their initials (`bdcdj` for 不动产登记). The database does the rest:
an FTS5 table on SQLite, a GIN-indexed tsvector column on PostgreSQL, both with prefix match,
so `bdc` finds 不动产登记 while the user is still typing.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba
from django.db import connection
from pypinyin import Style, lazy_pinyin

jieba.setLogLevel(logging.WARNING)
FTS_TABLE = "catalog_item_fts"
CJK = re.compile(r"[\u3400-\u9fff]")
ASCII_WORD = re.compile(r"[a-z0-9]+")
CODE_LIKE = re.compile(r"^[0-9a-z][0-9a-z\-]{3,79}$")
MAX_QUERY = 60


@lru_cache(maxsize=50_000)
def _pinyin(word: str) -> tuple[str, str]:
    syllables = lazy_pinyin(word, style=Style.NORMAL, errors="ignore")
    initials = lazy_pinyin(word, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(syllables).lower(), "".join(initials).lower()


def _words(text: str) -> list[str]:
    return [w.strip().lower() for w in jieba.cut_for_search(text) if w.strip() and (CJK.search(w) or ASCII_WORD.fullmatch(w.strip().lower()))]


def name_tokens(name: str) -> list[str]:
    words = _words(name)
    tokens = list(words)
    tokens += sorted(set(CJK.findall(name)))  # single characters: 证 finds 身份证
    full, initials = _pinyin(name)
    tokens += [full, initials]
    for w in words:
        if CJK.search(w):
            tokens += list(_pinyin(w))
    return [t for t in dict.fromkeys(tokens) if t]


def body_tokens(*texts: str) -> list[str]:
    tokens: list[str] = []
    for text in texts:
        tokens += _words(text)
    return list(dict.fromkeys(tokens))


def query_terms(q: str) -> list[str]:
    """The terms a query must all match. Chinese is cut into words (precise mode); latin words
    and digits stay whole; each term is then matched as a prefix."""
    q = q.strip().lower()[:MAX_QUERY]
    terms: list[str] = []
    for w in jieba.cut(q):
        w = w.strip()
        if CJK.search(w):
            terms.append("".join(CJK.findall(w)))
        else:
            terms += ASCII_WORD.findall(w)
    return list(dict.fromkeys(t for t in terms if t))


def looks_like_code(q: str) -> bool:
    q = q.strip().lower()
    return bool(CODE_LIKE.match(q)) and any(c.isdigit() for c in q)


def documents(item) -> tuple[str, str]:
    materials = " ".join(m.name for m in item.materials.all())
    body = body_tokens(item.department.name, item.result_name, materials)
    return " ".join(name_tokens(item.name)), " ".join(body)


def index_item(item) -> None:
    """Refresh one item's search document (called by the services in their transaction)."""
    name_doc, body_doc = documents(item)
    write_index([(item.pk, name_doc, body_doc)])


def write_index(rows: list[tuple[int, str, str]]) -> None:
    if not rows:
        return
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.executemany(
                "UPDATE catalog_serviceitem SET search_vector = setweight(to_tsvector('simple', %s), 'A') || "
                "setweight(to_tsvector('simple', %s), 'B') WHERE id = %s",
                [(n, b, pk) for pk, n, b in rows],
            )
        else:
            cur.executemany(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [(pk,) for pk, _, _ in rows])
            cur.executemany(f"INSERT INTO {FTS_TABLE}(rowid, name_doc, body_doc) VALUES (%s, %s, %s)", rows)


# A one-character term matches whole tokens only: as a prefix it would match a large part of the
# catalog (every pinyin starting with b) and tell the user nothing.
def _sqlite_match(terms: list[str]) -> str:
    return " AND ".join(f'"{t}"*' if len(t) > 1 else f'"{t}"' for t in terms)


def _pg_tsquery(terms: list[str]) -> str:
    return " & ".join(f"'{t}':*" if len(t) > 1 else f"'{t}'" for t in terms)


def apply(qs, q: str):
    """Restrict a ServiceItem queryset to items matching `q`, annotated with `rank` (higher is better)
    and ordered by it. A code-like query also matches implementation and basic codes by prefix."""
    from django.db.models import Q, Value
    from django.db.models.functions import Length

    if looks_like_code(q):
        raw = q.strip().upper()  # codes are stored upper-case (services.clean_item)
        by_code = qs.filter(Q(code__startswith=raw) | Q(basic_code__startswith=raw))
        if by_code.exists():  # a code is an exact identifier: no need for text matches
            return by_code.annotate(rank=Value(1.0)).order_by("code")
    terms = query_terms(q)
    if not terms:
        return qs.none()
    if connection.vendor == "postgresql":
        tsq = _pg_tsquery(terms)
        matched = qs.extra(
            select={"rank": "ts_rank_cd('{0.1, 0.2, 0.4, 1.0}', search_vector, to_tsquery('simple', %s))"},
            select_params=[tsq],
            where=["search_vector @@ to_tsquery('simple', %s)"],
            params=[tsq],
        )
        order = ["-rank", "id"]
    else:
        # SQLite: the FTS5 table answers two IN sub-queries, each run once (a join with bm25() ranking
        # makes SQLite probe the index once per item: seconds at 50,000 items). Rank: the name matches
        # first, shorter (more exact) names first among them.
        match = _sqlite_match(terms)
        in_fts = f"catalog_serviceitem.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)"
        matched = qs.extra(select={"rank": in_fts}, select_params=[f"name_doc : ({match})"], where=[in_fts], params=[match])
        order = ["-rank", Length("name").asc(), "id"]
    return matched.order_by(*order)


def create_index_sql(schema_editor) -> None:
    """Called by the catalog migration: the FTS5 table on SQLite, the tsvector column on PostgreSQL."""
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(name_doc, body_doc, tokenize='unicode61 remove_diacritics 0')")
    elif vendor == "postgresql":
        schema_editor.execute("ALTER TABLE catalog_serviceitem ADD COLUMN IF NOT EXISTS search_vector tsvector")
        schema_editor.execute("CREATE INDEX IF NOT EXISTS catalog_item_search_gin ON catalog_serviceitem USING gin (search_vector)")
        # prefix search on codes (LIKE 'ABC%') whatever the database's collation
        schema_editor.execute("CREATE INDEX IF NOT EXISTS catalog_item_code_prefix ON catalog_serviceitem (code text_pattern_ops)")
        schema_editor.execute("CREATE INDEX IF NOT EXISTS catalog_item_basic_code_prefix ON catalog_serviceitem (basic_code text_pattern_ops)")


def drop_index_sql(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif vendor == "postgresql":
        schema_editor.execute("ALTER TABLE catalog_serviceitem DROP COLUMN IF EXISTS search_vector")

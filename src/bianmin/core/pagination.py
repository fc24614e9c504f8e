"""One page of a list and its total, with the page number and size validated (4xx on bad input)."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import Count, Window

from .errors import ValidationError

MAX_PAGE_SIZE = 100


def paginate(qs, page, page_size=20, *, count_with_rows: bool = False) -> Page:
    """A Django `Page` of `qs`. Past the last page gives the last page.

    count_with_rows: take the total from COUNT(*) OVER () on the page's own rows — one query
    instead of two. Right for full-text search, where finding the matches is the expensive part;
    wrong for lists an index already orders (task lists, my cases), where the window would make
    the database join every row instead of stopping after one page.
    """
    try:
        page = int(page or 1)
        page_size = int(page_size or 20)
    except (TypeError, ValueError):
        raise ValidationError("页码应为正整数", code="invalid_page", field="page")
    if page < 1 or page_size < 1 or page_size > MAX_PAGE_SIZE:
        raise ValidationError(f"页码应大于 0,每页条数应在 1 到 {MAX_PAGE_SIZE} 之间", code="invalid_page", field="page")
    offset = (page - 1) * page_size
    if count_with_rows:
        rows = list(qs.annotate(_total=Window(Count("pk")))[offset:offset + page_size])
        total = rows[0]._total if rows else None
    else:
        rows = list(qs[offset:offset + page_size])
        total = offset + len(rows) if 0 < len(rows) < page_size else None
    if total is None:
        total = qs.count()
        if not rows and total:  # past the last page: show the last page
            return paginate(qs, (total - 1) // page_size + 1, page_size, count_with_rows=count_with_rows)
    paginator = Paginator([], page_size)
    paginator.__dict__["count"] = total  # Paginator.count is a cached_property: give it the known total
    return Page(rows, page, paginator)

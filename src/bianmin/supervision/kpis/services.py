"""KPI writes: recounting the precomputed monthly case figures (`CaseStat`), the periodic job's part."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from bianmin.cases import clock
from bianmin.cases.models import Case

from ..models import CaseStat, StatRefresh
from .stats import COUNTS, LOOKBACK_DAYS, NAME, NEVER, _as_date, live_rows, month_of


def refresh_stats(since: date | None = None, *, today: date | None = None) -> dict[str, int]:
    """Recount CaseStat for every month from `since` (default: the month holding the last refresh
    minus LOOKBACK_DAYS; everything on the first run) up to yesterday, in one transaction.

    Idempotent and safe to run concurrently (the StatRefresh row is locked). Returns
    {"stat_months": months recounted, "stat_rows": rows written}.
    """
    today = today or clock.today()
    through = today - timedelta(days=1)
    StatRefresh.objects.get_or_create(name=NAME, defaults={"through": NEVER, "refreshed_at": timezone.now()})
    with transaction.atomic():
        state = StatRefresh.objects.select_for_update().get(name=NAME)
        if since is None:
            if state.through == NEVER:
                first = Case.objects.filter(decided_on__isnull=False).aggregate(m=Min("decided_on"))["m"]
                since = _as_date(first) if first else through
            else:
                since = state.through - timedelta(days=LOOKBACK_DAYS)
        first_month = month_of(min(since, through))
        rows = live_rows(first_month, through)
        CaseStat.objects.filter(month__gte=first_month).delete()
        CaseStat.objects.bulk_create(
            [CaseStat(month=r.month, department_id=r.department_id, hall_level=r.hall_level, channel=r.channel,
                      **{c: getattr(r, c) for c in COUNTS}) for r in rows], batch_size=2000)
        state.through, state.refreshed_at = through, timezone.now()
        state.save(update_fields=["through", "refreshed_at"])
    months = len({r.month for r in rows})
    return {"stat_months": months, "stat_rows": len(rows)}

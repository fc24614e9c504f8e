"""Periodic work: deadline alerts and the notification outbox (`bianmin tick`, or Celery beat).

With a broker (CELERY_BROKER_URL) beat runs `tick_task` on settings.CELERY_BEAT_SCHEDULE (every ten
minutes); without one, `bianmin run` runs `tick()` in a background thread and `bianmin tick` runs it
once. Every part is idempotent, so overlapping or repeated rounds do no harm.
"""

from celery import shared_task


def tick() -> dict[str, int]:
    """One round of periodic work; idempotent. Returns what it did, by kind."""
    from bianmin.cases.tasks import send_pending_outbox
    from bianmin.licences.services import expire_licences

    from .alerts.services import run_alerts
    from .kpis.services import refresh_stats

    done = dict(run_alerts())
    sent = send_pending_outbox()
    done["outbox"] = sent or 0
    done["licences_expired"] = expire_licences()
    done.update(refresh_stats())  # KPI figures: recount the months since the last refresh
    return done


@shared_task(ignore_result=True)
def tick_task() -> dict[str, int]:
    return tick()

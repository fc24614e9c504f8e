"""Periodic work: deadline alerts and the notification outbox (`bianmin tick`, or Celery beat)."""


def tick() -> dict[str, int]:
    """One round of periodic work; idempotent. Returns what it did, by kind."""
    from bianmin.cases.tasks import send_pending_outbox

    sent = send_pending_outbox()
    return {"outbox": sent or 0}

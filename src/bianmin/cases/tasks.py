"""Background work of the cases app (Celery; inline when no broker is set).

`send_outbox(message_id)` sends one outbox row through its channel's backend (notify.backend_for).
It is idempotent: the row is locked and only a pending row is sent, so a task delivered twice sends
once. A failure is retried with exponential backoff; after MAX_ATTEMPTS the row is marked failed
with the error. `send_pending_outbox` re-enqueues rows left pending (e.g. the broker was down).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import notify
from .models import OutboxMessage

log = logging.getLogger("bianmin.notify")

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 30  # 30 s, 1 min, 2 min, 4 min between the five attempts


def backoff(attempts: int) -> int:
    return BACKOFF_SECONDS * 2 ** max(0, attempts - 1)


def attempt(message_id: int) -> tuple[str, str]:
    """One try: (state after it, error). Sends only a pending row, under a row lock."""
    with transaction.atomic():
        msg = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
        if msg is None:
            return "missing", ""
        if msg.state != OutboxMessage.State.PENDING:
            return msg.state, ""
        msg.attempts += 1
        try:
            notify.backend_for(msg.channel).send(msg)
        except Exception as exc:  # any backend failure: record it, and retry or give up
            msg.error = f"{type(exc).__name__}: {exc}"[:300]
            if msg.attempts >= MAX_ATTEMPTS:
                msg.state = OutboxMessage.State.FAILED
            msg.save(update_fields=["attempts", "error", "state"])
            return msg.state, msg.error
        msg.state, msg.sent_at, msg.error = OutboxMessage.State.SENT, timezone.now(), ""
        msg.save(update_fields=["attempts", "state", "sent_at", "error"])
        return msg.state, ""


@shared_task(bind=True, max_retries=MAX_ATTEMPTS - 1, acks_late=True, ignore_result=True)
def send_outbox(self, message_id: int) -> str:
    state, error = attempt(message_id)
    if state == OutboxMessage.State.PENDING:  # failed, attempts left
        if self.request.is_eager:
            # Inline (no broker): nobody would run a scheduled retry, so try again now.
            for _ in range(MAX_ATTEMPTS):
                state, error = attempt(message_id)
                if state != OutboxMessage.State.PENDING:
                    break
        else:
            attempts = OutboxMessage.objects.filter(pk=message_id).values_list("attempts", flat=True).first() or 1
            raise self.retry(countdown=backoff(attempts), exc=RuntimeError(error))
    if state == OutboxMessage.State.FAILED:
        log.warning("outbox message %s failed after %s attempts: %s", message_id, MAX_ATTEMPTS, error)
    return state


@shared_task(ignore_result=True)
def send_pending_outbox(older_than_seconds: int = 600) -> int:
    """Re-enqueue pending rows older than this (for a periodic schedule)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING, created_at__lt=cutoff)
               .values_list("pk", flat=True)[:1000])
    notify.enqueue(ids)
    return len(ids)


@shared_task(ignore_result=True)
def sweep_files() -> dict[str, int]:
    """Stored uploads without a row and stale temporary upload files (cases.files.sweep); from
    `bianmin tick` and Celery beat (settings.CELERY_BEAT_SCHEDULE)."""
    from . import files

    return files.sweep()

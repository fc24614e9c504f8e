"""Notifications to applicants: an in-site inbox message now, SMS/e-mail through the outbox."""

from __future__ import annotations

from django.db import transaction

NOTIFY_KINDS = {"accepted", "rejected", "supplement_requested", "decided", "delivered"}


def case_event(case, event) -> None:
    if event.kind not in NOTIFY_KINDS:
        return
    transaction.on_commit(lambda: _send(case.pk, event.pk))


def _send(case_id: int, event_id: int) -> None:
    from .models import CaseEvent, Message

    event = CaseEvent.objects.select_related("case__applicant", "case__item").get(pk=event_id)
    case = event.case
    user_id = case.applicant.user_id
    if user_id:
        Message.objects.create(recipient_id=user_id, case=case, kind=event.kind,
                               title=f"{case.item.name}:{event.message[:60]}", body=f"办件 {case.number}:{event.message}")

"""Notifications to applicants: an in-site inbox message, and SMS/e-mail through the outbox.

`case_event(case, event)` is called by `hooks.after_event` inside the service's transaction. It does
nothing then: the work is registered with `transaction.on_commit`, so a transaction that rolls back
tells nobody anything. After the commit it writes the inbox `Message` and the `OutboxMessage` rows
(SMS to the applicant's phone, e-mail when there is an address) and enqueues `tasks.send_outbox`
for each, again after that commit (with no broker Celery runs it inline).

The texts name the item, the case number and what the applicant must do. They never contain an ID
number: anything in free text (reasons, notes) that looks like a resident ID or a unified social
credit code is masked.

Sending goes through a backend: `BIANMIN_SMS_BACKEND` (SMS) and `BIANMIN_EMAIL_BACKEND` (e-mail) name
a class with `send(message)`; the default `LoggingBackend` only logs. `DjangoEmailBackend` sends
e-mail with Django's mail framework (EMAIL_BACKEND).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from bianmin.core.identities import mask_phone, scrub  # the one masking of free text (also imported from here)

log = logging.getLogger("bianmin.notify")

NOTIFY_KINDS = {"accepted", "rejected", "supplement_requested", "decided", "delivered"}
SMS_REASON_CHARS = 60  # free text quoted in an SMS is cut here; the inbox message has all of it

# ----------------------------------------------------------------------------- backends

_PHONE_IN_TEXT = re.compile(r"(?<!\d)1\d{10}(?!\d)")


def masked_recipient(to: str) -> str:
    """A phone number or e-mail address as a log may show it: 138****5678, z***@example.com."""
    to = to or ""
    if "@" in to:
        local, _, domain = to.partition("@")
        return (local[:1] + "***@" + domain) if local else "***@" + domain
    return mask_phone(to)


class LoggingBackend:
    """The default: note in the log that a message was sent, and count it as sent. The log is read by
    operators, not the applicant: at INFO the recipient masked and the text's length only; at DEBUG the
    text with ID and phone numbers masked."""

    def send(self, message) -> None:
        log.info("outbox %s to %s: %d characters", message.channel, masked_recipient(message.to), len(message.body or ""))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("outbox text: %s", _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), scrub(message.body)))


class DjangoEmailBackend(LoggingBackend):
    """E-mail through Django's mail framework (EMAIL_BACKEND, EMAIL_HOST, DEFAULT_FROM_EMAIL)."""

    def send(self, message) -> None:
        from django.core.mail import send_mail

        send_mail(message.subject or "办件通知", message.body, None, [message.to], fail_silently=False)


def backend_for(channel: str):
    name = {"sms": "BIANMIN_SMS_BACKEND", "email": "BIANMIN_EMAIL_BACKEND"}.get(channel, "BIANMIN_SMS_BACKEND")
    path = getattr(settings, name, "") or "bianmin.cases.notify.LoggingBackend"
    return import_string(path)()


# ----------------------------------------------------------------------------- texts

@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    body: str   # the inbox message and the e-mail
    sms: str    # shorter


def _cn_date(d) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def _short(text: str, n: int = SMS_REASON_CHARS) -> str:
    text = scrub(re.sub(r"\s+", " ", text or "").strip()).rstrip("。")
    return text if len(text) <= n else text[: n - 1] + "…"


def expects_window_pickup(case) -> bool:
    """Is the result to be collected at a window? The applicant's choice in form_data
    (delivery_method: window/express/electronic); without one, applications made in person."""
    chosen = (case.form_data or {}).get("delivery_method") if isinstance(case.form_data, dict) else None
    if chosen in ("window", "express", "electronic"):
        return chosen == "window"
    return case.channel in ("window", "kiosk")


def pickup_place(case) -> str:
    if case.hall_id:
        return case.hall.name
    return case.item.location or f"{case.department.name}办事窗口"


def compose(case, event) -> list[Notice]:
    """The notices an event gives the applicant (usually one; a decision to be collected at a window
    also gives a 'ready for pick-up' notice)."""
    from bianmin.cases import clock

    item, number = case.item.name, case.number
    head = f"您申请的“{item}”（办件编号 {number}）"
    data = event.data or {}
    kind = event.kind
    if kind == "accepted":
        c = clock.clock(case)
        due = f"，承诺于{_cn_date(c.promised_deadline)}前办结" if c.promised_deadline else ""
        pending = [str(x) for x in data.get("pending") or []]
        extra = f"请在办结前补交以下容缺材料：{'、'.join(pending)}。" if pending else ""
        body = f"{head}已于{_cn_date(case.accepted_on)}受理{due}。{extra}可在“我的办件”查看办理进度。"
        return [Notice(kind, "申请已受理", body, body)]
    if kind == "rejected":
        reason = scrub(case.rejection_reason)
        body = f"{head}不予受理。理由：{reason.rstrip('。')}。如有疑问，请咨询{case.item.phone or case.department.name}。"
        sms = f"{head}不予受理。理由：{_short(reason)}。详情请登录政务服务网查看。"
        return [Notice(kind, "申请不予受理", body, sms)]
    if kind == "supplement_requested":
        names = [str(x) for x in data.get("materials") or []]
        note = _short(data.get("note") or "", 200)
        listed = "".join(f"\n{i}. {n}" for i, n in enumerate(names, 1))
        body = (f"{head}需要补正材料。请一次性补正以下 {len(names)} 项材料：{listed}"
                + (f"\n说明：{note}。" if note else "")
                + "\n请在“我的办件”中提交补正材料；补正期间不计入办理时限。")
        sms = f"{head}需补正材料：{'、'.join(names)}。请登录“我的办件”一次性提交，补正期间不计时。"
        return [Notice(kind, "请补正材料", body, sms)]
    if kind == "decided":
        verdict = "准予" if case.approved else "不予"
        licensing = case.item.kind == "licensing"
        if licensing:
            result = "准予行政许可" if case.approved else "不予行政许可"
        else:
            result = "予以办理" if case.approved else "不予办理"
        body = f"{head}已办结，结果：{result}。可在“我的办件”查看并下载决定书。"
        if not case.approved:
            body += "如不服决定，可依法申请行政复议或提起行政诉讼，详见决定书。"
        notices = [Notice(kind, f"办件已办结（{verdict}）", body, f"{head}已办结，结果：{result}。详情请登录“我的办件”查看。")]
        if case.approved and expects_window_pickup(case) and not hasattr_delivery(case):
            place = pickup_place(case)
            pick = f"{head}的办理结果已可领取，请携带身份证件到{place}领取。"
            notices.append(Notice("ready_for_pickup", "办理结果可领取", pick, pick))
        return notices
    if kind == "delivered":
        method = data.get("method")
        delivery = getattr(case, "delivery", None)
        if method == "express":
            tracking = delivery.tracking_number if delivery else ""
            how = f"已通过邮寄送达，快递单号 {tracking}" if tracking else "已通过邮寄送达"
        elif method == "electronic":
            how = "已电子送达，请在“我的办件”中查看下载"
        else:
            how = "已在窗口领取"
        body = f"{head}的办理结果{how}。感谢您的办理，欢迎对本次服务作出评价。"
        return [Notice(kind, "办理结果已送达", body, f"{head}的办理结果{how}。")]
    return []


def hasattr_delivery(case) -> bool:
    from .models import Delivery

    return Delivery.objects.filter(case_id=case.pk).exists()


# ----------------------------------------------------------------------------- the work

def case_event(case, event) -> None:
    """Called in the service's transaction: register the work for after the commit."""
    if event.kind not in NOTIFY_KINDS:
        return
    event_id = event.pk
    transaction.on_commit(lambda: _after_commit(event_id))


def _after_commit(event_id: int) -> None:
    try:
        deliver_event(event_id)
    except Exception:  # the case is committed; a notification problem must not turn its answer into an error
        log.exception("notification for case event %s failed", event_id)


@transaction.atomic
def deliver_event(event_id: int) -> list:
    """Write the inbox message and the outbox rows of one event; enqueue the sending after commit."""
    from .models import CaseEvent, Message, OutboxMessage
    from .selectors import account_sees_case

    event = (CaseEvent.objects.select_related("case__applicant", "case__item", "case__department", "case__hall")
             .filter(pk=event_id).first())
    if event is None:
        return []
    case = event.case
    if _immediate_in_one_step(case, event):
        return []
    applicant = case.applicant
    outbox: list[OutboxMessage] = []
    for notice in compose(case, event):
        if account_sees_case(applicant, case):  # not an unverified account's inbox for a window case
            Message.objects.create(recipient_id=applicant.user_id, case=case, kind=notice.kind, title=notice.title[:100],
                                   body=notice.body)
        if applicant.phone:
            outbox.append(OutboxMessage(channel=OutboxMessage.Channel.SMS, to=applicant.phone, body=f"【{_site()}】{notice.sms}",
                                        case=case))
        if applicant.email:
            outbox.append(OutboxMessage(channel=OutboxMessage.Channel.EMAIL, to=applicant.email,
                                        subject=f"{notice.title}：{case.item.name}"[:200],
                                        body=f"{applicant.name}：\n\n{notice.body}\n\n{_site()}\n（本邮件由系统发出，请勿回复）",
                                        case=case))
    for row in outbox:
        row.save()
    ids = [row.pk for row in outbox]
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
    return ids


def _immediate_in_one_step(case, event) -> bool:
    """即办件: accepted, decided and handed over in one go at the window; one notice (delivered) is enough."""
    return (event.kind in ("accepted", "decided") and case.item.is_immediate and case.status == "delivered"
            and case.accepted_on is not None and case.accepted_on == case.decided_on)


def _site() -> str:
    return getattr(settings, "BIANMIN_SITE_NAME", "政务服务网")


def enqueue(ids) -> None:
    from .tasks import send_outbox

    for pk in ids:
        try:
            send_outbox.delay(pk)
        except Exception:  # broker down: the row stays pending; `tasks.send_pending_outbox` picks it up
            log.exception("could not enqueue outbox message %s", pk)

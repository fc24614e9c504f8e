"""Notifications: the inbox message and the SMS/e-mail outbox for each event the applicant cares
about, with the Chinese text worked out; nothing on rollback; no ID numbers; idempotent sending with
retries and a final failure (the Celery task run eagerly, as with no broker)."""

import re
from datetime import date

import pytest
from django.db import transaction

from bianmin.cases import clock, notify, services, tasks
from bianmin.cases.models import Message, OutboxMessage

ID_LIKE = re.compile(r"\d{15,18}|\d{17}[0-9Xx]")


@pytest.fixture
def item(make_item):
    return make_item(audience="both", phone="0759-3333333")


@pytest.fixture
def monday(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 9, 28))


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run the after-commit work as a real commit would (the test itself is one transaction)."""
    def _run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return _run


def submit(people, item, **kw):
    materials = {m.pk: {"at_window": True} for m in item.materials.all()}
    return services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"], materials=materials, **kw)


def inbox(people):
    return list(Message.objects.filter(recipient=people["citizen_user"]).order_by("id"))


def sms(people):
    return list(OutboxMessage.objects.filter(channel="sms").order_by("id"))


HEAD = "您申请的“食品经营许可证核发”（办件编号 440800-20260928-000001）"


def test_accepted(people, item, monday, run_on_commit):
    case = run_on_commit(services.accept_case, submit(people, item), actor=people["clerk"].user)
    [m] = inbox(people)
    assert (m.kind, m.title, m.case_id) == ("accepted", "申请已受理", case.pk)
    # 5 working days from Mon 2026-09-28 across National Day: Sat 10-10 (see test_flow)
    assert m.body == HEAD + "已于2026年9月28日受理，承诺于2026年10月10日前办结。可在“我的办件”查看办理进度。"
    [s] = sms(people)
    assert s.to == "13800000000" and s.state == "sent" and s.attempts == 1 and s.sent_at is not None
    assert s.body == "【湛江市政务服务网】" + m.body
    assert not OutboxMessage.objects.filter(channel="email").exists()  # the applicant gave no e-mail address


def test_accepted_with_pending_materials_names_them(people, item, monday, run_on_commit):
    case = submit(people, item)
    pending = case.materials.get(name="食品安全管理制度文本")
    run_on_commit(services.accept_case, case, actor=people["clerk"].user, pending_material_ids=[pending.pk])
    assert "请在办结前补交以下容缺材料：食品安全管理制度文本。" in inbox(people)[0].body


def test_rejected_masks_id_numbers_in_the_reason(people, item, monday, run_on_commit):
    idn = people["citizen"].id_number
    run_on_commit(services.reject_case, submit(people, item), actor=people["clerk"].user,
                  reason=f"申请人 {idn} 已持有有效许可证，不得重复申请")
    [m] = inbox(people)
    masked = idn[:6] + "********" + idn[-4:]
    assert m.body == HEAD + f"不予受理。理由：申请人 {masked} 已持有有效许可证，不得重复申请。如有疑问，请咨询0759-3333333。"
    assert idn not in sms(people)[0].body


def test_supplement_lists_exactly_what_is_missing(people, item, monday, run_on_commit):
    case = submit(people, item)
    wanted = list(case.materials.filter(name__in=["营业执照", "食品安全管理制度文本"]).order_by("order"))
    run_on_commit(services.request_supplement, case, actor=people["clerk"].user, missing_ids=[m.pk for m in wanted],
                  note="营业执照已过期")
    [m] = inbox(people)
    assert (m.kind, m.title) == ("supplement_requested", "请补正材料")
    assert m.body == (HEAD + "需要补正材料。请一次性补正以下 2 项材料：\n1. 营业执照\n2. 食品安全管理制度文本"
                      "\n说明：营业执照已过期。\n请在“我的办件”中提交补正材料；补正期间不计入办理时限。")
    assert sms(people)[0].body == ("【湛江市政务服务网】" + HEAD + "需补正材料：营业执照、食品安全管理制度文本。"
                                   "请登录“我的办件”一次性提交，补正期间不计时。")
    assert "食品经营许可申请书" not in m.body


def _to_decision(people, item, **kw):
    case = services.accept_case(submit(people, item, **kw), actor=people["clerk"].user)
    services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="同意")
    return case


def test_decided_online_approval(people, item, monday, run_on_commit):
    case = _to_decision(people, item)
    run_on_commit(services.decide_case, case, actor=people["approver"].user, approved=True, reasons="符合条件")
    [m] = [x for x in inbox(people) if x.kind != "accepted"]
    assert (m.kind, m.title) == ("decided", "办件已办结（准予）")
    assert m.body == HEAD + "已办结，结果：准予行政许可。可在“我的办件”查看并下载决定书。"


def test_decided_window_approval_is_ready_for_pickup(people, item, monday, run_on_commit):
    case = _to_decision(people, item, channel="window")
    run_on_commit(services.decide_case, case, actor=people["approver"].user, approved=True, reasons="符合条件")
    kinds = [x.kind for x in inbox(people)]
    assert kinds == ["decided", "ready_for_pickup"]  # 'accepted' was not run on commit here
    pick = inbox(people)[1]
    assert pick.title == "办理结果可领取"
    assert pick.body == HEAD + "的办理结果已可领取，请携带身份证件到湛江市政务服务中心领取。"
    assert len(sms(people)) == 2


def test_decided_denial_mentions_appeal(people, item, monday, run_on_commit):
    case = _to_decision(people, item, channel="window")
    run_on_commit(services.decide_case, case, actor=people["approver"].user, approved=False,
                  reasons="经现场核查，经营场所与申请材料不符")
    [m] = inbox(people)  # a denial is not 'ready for pick-up'
    assert m.title == "办件已办结（不予）"
    assert m.body == (HEAD + "已办结，结果：不予行政许可。可在“我的办件”查看并下载决定书。"
                      "如不服决定，可依法申请行政复议或提起行政诉讼，详见决定书。")


def test_delivered_by_express_with_email(people, item, monday, run_on_commit):
    people["citizen"].email = "zhangsan@example.cn"
    people["citizen"].save()
    case = _to_decision(people, item)
    services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合条件")
    run_on_commit(services.deliver_result, case, actor=people["clerk"].user, method="express",
                  address="湛江市赤坎区中山一路1号", tracking_number="SF1234567890")
    [m] = inbox(people)
    assert m.body == HEAD + "的办理结果已通过邮寄送达，快递单号 SF1234567890。感谢您的办理，欢迎对本次服务作出评价。"
    email = OutboxMessage.objects.get(channel="email")
    assert email.to == "zhangsan@example.cn" and email.state == "sent"
    assert email.subject == "办理结果已送达：食品经营许可证核发"
    assert email.body.startswith("张三：\n\n" + m.body)


def test_immediate_item_gets_one_notice(people, make_item, monday, run_on_commit):
    quick = make_item(name="个体工商户名称自主申报", is_immediate=True, promised_days=0, audience="both")
    run_on_commit(services.handle_immediately, submit(people, quick, channel="window"), actor=people["clerk"].user)
    assert [m.kind for m in inbox(people)] == ["delivered"]
    assert inbox(people)[0].body.endswith("的办理结果已在窗口领取。感谢您的办理，欢迎对本次服务作出评价。")


def test_no_id_numbers_anywhere(people, item, monday, run_on_commit):
    people["citizen"].email = "zhangsan@example.cn"
    people["citizen"].save()
    case = run_on_commit(services.accept_case, submit(people, item, channel="window"), actor=people["clerk"].user)
    run_on_commit(services.complete_task, case.tasks.get(), actor=people["reviewer"].user, opinion="同意")
    run_on_commit(services.decide_case, case, actor=people["approver"].user, approved=True, reasons="符合条件")
    run_on_commit(services.deliver_result, case, actor=people["clerk"].user, method="window")
    texts = [m.title + m.body for m in inbox(people)] + [o.subject + o.body for o in OutboxMessage.objects.all()]
    assert len(texts) == 4 + 8  # accepted, decided, ready for pick-up, delivered; SMS and e-mail for each
    for t in texts:
        assert not ID_LIKE.search(t), t
        assert people["citizen"].id_number not in t


def test_other_events_tell_nobody(people, item, run_on_commit):
    case = run_on_commit(submit, people, item)
    run_on_commit(services.record_visit, case, actor=people["clerk"].user, purpose="咨询")
    assert not Message.objects.exists() and not OutboxMessage.objects.exists()


def test_nothing_is_sent_when_the_transaction_rolls_back(people, item, run_on_commit):
    case = submit(people, item)

    def accept_then_fail():
        with transaction.atomic():
            services.accept_case(case, actor=people["clerk"].user)
            raise RuntimeError("something later in the same transaction failed")

    with pytest.raises(RuntimeError):
        run_on_commit(accept_then_fail)
    assert not Message.objects.exists() and not OutboxMessage.objects.exists()
    case.refresh_from_db()
    assert case.status == "submitted"


@pytest.mark.django_db(transaction=True)
def test_rollback_and_commit_for_real(people, item):
    """With real commits (no test transaction around): a rolled-back accept tells nobody; a committed one does."""
    case = submit(people, item)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.accept_case(case, actor=people["clerk"].user)
            raise RuntimeError("boom")
    assert not Message.objects.exists() and not OutboxMessage.objects.exists()
    services.accept_case(case, actor=people["clerk"].user)
    assert [m.kind for m in Message.objects.all()] == ["accepted"]
    assert list(OutboxMessage.objects.values_list("state", flat=True)) == ["sent"]


# ----------------------------------------------------------------------------- the sending task

class Counting:
    sent: list = []
    fail_times = 0

    def send(self, message):
        if Counting.fail_times > 0:
            Counting.fail_times -= 1
            raise ConnectionError("短信网关超时")
        Counting.sent.append(message.pk)


@pytest.fixture
def counting(settings):
    settings.BIANMIN_SMS_BACKEND = "tests.cases.test_notify.Counting"
    Counting.sent, Counting.fail_times = [], 0
    return Counting


def outbox_row(**kw):
    return OutboxMessage.objects.create(channel="sms", to="13800000000", body="【湛江市政务服务网】测试", **kw)


def test_sending_twice_sends_once(db, counting):
    row = outbox_row()
    assert tasks.send_outbox.delay(row.pk).get() == "sent"
    assert tasks.send_outbox.delay(row.pk).get() == "sent"
    tasks.send_outbox(row.pk)
    assert counting.sent == [row.pk]
    row.refresh_from_db()
    assert (row.state, row.attempts, row.error) == ("sent", 1, "")


def test_transient_failures_are_retried(db, counting):
    counting.fail_times = 2
    row = outbox_row()
    tasks.send_outbox.delay(row.pk)
    row.refresh_from_db()
    assert (row.state, row.attempts, row.error) == ("sent", 3, "")
    assert counting.sent == [row.pk]


def test_gives_up_after_five_attempts(db, counting):
    counting.fail_times = 99
    row = outbox_row()
    assert tasks.send_outbox.delay(row.pk).get() == "failed"  # no exception reaches the caller
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("failed", 5)
    assert row.error == "ConnectionError: 短信网关超时"
    assert tasks.send_outbox.delay(row.pk).get() == "failed"  # and it stays so
    row.refresh_from_db()
    assert row.attempts == 5 and counting.sent == []


def test_with_a_broker_a_failure_is_retried_later_with_backoff(db, counting, monkeypatch):
    """The non-eager path: the task asks Celery to retry with an exponential countdown."""
    counting.fail_times = 1
    row = outbox_row()
    asked = {}

    class Retry(Exception):
        pass

    def fake_retry(countdown=None, exc=None, **kw):
        asked.update(countdown=countdown, exc=str(exc))
        return Retry()

    monkeypatch.setattr(tasks.send_outbox, "retry", fake_retry)
    tasks.send_outbox.push_request(is_eager=False, retries=0)
    try:
        with pytest.raises(Retry):
            tasks.send_outbox.run(row.pk)
    finally:
        tasks.send_outbox.pop_request()
    assert asked == {"countdown": 30, "exc": "ConnectionError: 短信网关超时"}
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("pending", 1)
    assert [tasks.backoff(n) for n in range(1, 5)] == [30, 60, 120, 240]


def test_missing_row_and_pending_sweep(db, counting):
    assert tasks.send_outbox.delay(987654).get() == "missing"
    row = outbox_row()
    OutboxMessage.objects.filter(pk=row.pk).update(created_at=row.created_at.replace(year=2020))
    assert tasks.send_pending_outbox.delay(60).get() == 1
    row.refresh_from_db()
    assert row.state == "sent"


def test_scrub():
    assert notify.scrub("身份证 440802199001011238 与代码 91440800MA4W000019") == "身份证 440802********1238 与代码 914408********0019"
    assert notify.scrub("快递单号 SF1234567890,电话 13800000000") == "快递单号 SF1234567890,电话 13800000000"


# ----------------------------------------------------------------------------- a real worker (optional)

def _redis_url():
    import os

    url = os.environ.get("BIANMIN_TEST_BROKER_URL", "redis://127.0.0.1:6379/14")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        return None
    return url


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_sends_through_redis(people, item, monkeypatch):
    """Celery worker process + Redis broker + the test database: the after-commit enqueue reaches the
    worker, which sends the SMS once. Needs PostgreSQL (the worker must see the test database) and Redis."""
    import os
    import subprocess
    import sys
    import time
    import uuid

    from celery import Celery
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a worker process cannot see the in-memory SQLite test database")
    broker = _redis_url()
    if broker is None:
        pytest.skip("no Redis to use as a broker")
    s = connection.settings_dict
    db_url = f"postgresql://{s['USER']}{':' + s['PASSWORD'] if s['PASSWORD'] else ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    queue = f"bianmin-test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, DATABASE_URL=db_url, CELERY_BROKER_URL=broker, BIANMIN_TESTING="1")
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "bianmin", "worker", "--pool=solo", "-Q", queue,
                               "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = Celery("bianmin-test-client", broker=broker)
    sent_ids = []

    def delay(pk):
        sent_ids.append(pk)
        client.send_task("bianmin.cases.tasks.send_outbox", args=[pk], queue=queue)

    monkeypatch.setattr(tasks.send_outbox, "delay", delay)
    try:
        case = submit(people, item)
        services.accept_case(case, actor=people["clerk"].user)  # commits; on_commit enqueues through Redis
        assert len(sent_ids) == 1
        delay(sent_ids[0])  # delivered twice: sent once
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = OutboxMessage.objects.get(pk=sent_ids[0])
            if row.state == "sent":
                break
            time.sleep(0.3)
        assert row.state == "sent", worker.stdout.read1(10000).decode(errors="replace") if worker.poll() is not None else row.state
        time.sleep(1.5)  # let the duplicate run too
        row.refresh_from_db()
        assert row.attempts == 1
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        client.close()

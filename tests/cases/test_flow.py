"""A case's whole life through the services, with the clock worked out by hand."""

from datetime import date

import pytest

from bianmin.cases import clock, services
from bianmin.cases.models import CaseMaterial, CaseStatus, ReviewTask
from bianmin.core.errors import Conflict, NotFound, PermissionDenied, ValidationError


@pytest.fixture
def item(make_item):
    return make_item(audience="both", statutory_days=20, promised_days=5)


def materials_of(item, **extra):
    """Every material of the item given at the window, unless overridden."""
    return {m.pk: {"at_window": True} for m in item.materials.all()} | extra


def submit(people, item, **kw):
    return services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials=kw.pop("materials", materials_of(item)), **kw)


def test_full_life_online(people, item, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: date(2026, 9, 28))  # Monday
    case = submit(people, item)
    assert case.status == CaseStatus.SUBMITTED
    assert case.number.startswith("440800-20260928-")
    case = services.accept_case(case, actor=people["clerk"].user)
    # 5 working days from Mon 2026-09-28: 9-29 (1), 9-30 (2), National Day 10-01…10-07, 10-08 (3), 10-09 (4),
    # Sat 10-10 is a make-up working day (5).
    assert case.promised_deadline == date(2026, 10, 10)
    task = case.tasks.get()
    assert (task.name, task.role, task.department_id) == ("审查", "reviewer", item.department_id)
    services.complete_task(task, actor=people["reviewer"].user, opinion="材料齐全,符合条件")
    approve_task = case.tasks.get(state=ReviewTask.State.ACTIVE)
    assert approve_task.role == "approver"
    case = services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合《食品安全法》规定的条件")
    assert case.status == CaseStatus.DECIDED and case.approved
    assert case.handover.department == item.department
    services.deliver_result(case, actor=people["clerk"].user, method="express", address="湛江市赤坎区中山一路1号", tracking_number="SF123")
    case.refresh_from_db()
    assert case.status == CaseStatus.DELIVERED
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds == ["submitted", "accepted", "task_completed", "decided", "delivered"]
    assert clock.clock(case).state == clock.State.FINISHED


def test_supplement_stops_the_clock(people, item, monkeypatch):
    today = [date(2026, 11, 2)]  # Monday
    monkeypatch.setattr(clock, "today", lambda: today[0])
    case = services.accept_case(submit(people, item), actor=people["clerk"].user)
    assert case.promised_deadline == date(2026, 11, 9)  # Tue 3 … Fri 6 (4), Mon 9 (5)
    today[0] = date(2026, 11, 4)
    licence = case.materials.get(name="营业执照")
    case = services.request_supplement(case, actor=people["reviewer"].user, missing_ids=[licence.pk], note="营业执照已过期")
    assert case.status == CaseStatus.SUPPLEMENT
    c = clock.clock(case)
    assert c.state == clock.State.PAUSED and c.remaining == 3  # 11-05, 11-06, 11-09 left when it stopped
    today[0] = date(2026, 11, 6)  # supplement arrives Friday: Thu 5 and Fri 6 do not count
    case = services.submit_supplement(case, actor=people["clerk"].user, files={licence.pk: ["at_window"]})
    assert case.status == CaseStatus.IN_REVIEW
    assert case.stopped_days == 2
    assert case.promised_deadline == date(2026, 11, 11)  # 5 + 2 working days from Mon 11-02
    with pytest.raises(Conflict):
        services.request_supplement(case, actor=people["reviewer"].user, missing_ids=[licence.pk])


def test_applicant_cannot_mark_a_supplement_as_given_without_a_file(people, item):
    case = submit(people, item)
    m = case.materials.first()
    case = services.request_supplement(case, actor=people["clerk"].user, missing_ids=[m.pk])
    for bad in (["at_window"], [999999], []):
        with pytest.raises((ValidationError, NotFound)):
            services.submit_supplement(case, actor=people["citizen_user"], files={m.pk: bad})
    case.refresh_from_db()
    assert case.status == CaseStatus.SUPPLEMENT


def test_window_supplement_is_told_once(people, item):
    case = submit(people, item)
    m = case.materials.first()
    services.request_supplement(case, actor=people["clerk"].user, missing_ids=[m.pk])
    case.refresh_from_db()
    services.submit_supplement(case, actor=people["clerk"].user, files={m.pk: ["at_window"]})
    case.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        services.request_supplement(case, actor=people["clerk"].user, missing_ids=[m.pk])
    assert exc.value.code == "supplement_already_requested"


def test_accept_with_pending_only_for_marked_materials(people, item):
    case = submit(people, item)
    pending = case.materials.get(name="食品安全管理制度文本")  # pending_allowed in the fixture
    not_allowed = case.materials.get(name="营业执照")
    with pytest.raises(ValidationError) as exc:
        services.accept_case(case, actor=people["clerk"].user, pending_material_ids=[not_allowed.pk])
    assert exc.value.code == "pending_not_allowed"
    case = services.accept_case(case, actor=people["clerk"].user, pending_material_ids=[pending.pk])
    assert case.materials.get(pk=pending.pk).state == CaseMaterial.State.PENDING


def test_immediate_item_in_one_step(people, make_item):
    item = make_item(name="个体工商户名称自主申报", is_immediate=True, promised_days=0, audience="both")
    case = services.handle_immediately(submit(people, item, channel="window"), actor=people["clerk"].user)
    assert case.status == CaseStatus.DELIVERED
    assert case.accepted_on == case.decided_on
    assert [e.kind for e in case.events.all()] == ["submitted", "accepted", "decided", "delivered"]


def test_parallel_review_waits_for_every_department(people, item, departments):
    from bianmin.catalog.models import RouteStep

    RouteStep.objects.create(item=item, stage=1, name="市场监管审查", role="reviewer")
    RouteStep.objects.create(item=item, stage=1, name="公安会签", role="reviewer", department=departments["police"])
    RouteStep.objects.create(item=item, stage=2, name="决定", role="approver")
    case = services.accept_case(submit(people, item), actor=people["clerk"].user)
    market_task, police_task = case.tasks.order_by("id")
    services.complete_task(market_task, actor=people["reviewer"].user, opinion="同意")
    assert not case.tasks.filter(role="approver").exists()  # police has not signed yet
    with pytest.raises(NotFound):  # a reviewer cannot act on another department's task
        services.complete_task(police_task, actor=people["reviewer"].user, opinion="同意")
    services.complete_task(police_task, actor=people["police_reviewer"].user, opinion="同意")
    assert case.tasks.filter(role="approver", state="active").count() == 1


def test_return_to_previous_stage(people, item):
    case = services.accept_case(submit(people, item), actor=people["clerk"].user)
    with pytest.raises(Conflict):
        services.return_task(case.tasks.get(), actor=people["reviewer"].user, reason="首环节")
    services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="同意")
    approve = case.tasks.get(state="active")
    with pytest.raises(ValidationError):
        services.complete_task(approve, actor=people["approver"].user, opinion="同意")
    services.return_task(approve, actor=people["approver"].user, reason="现场核查记录缺页")
    assert list(case.tasks.filter(state="active").values_list("role", flat=True)) == ["reviewer"]


def test_illegal_transitions_change_nothing(people, item):
    case = submit(people, item)
    with pytest.raises(Conflict) as exc:
        services.decide_case(case, actor=people["approver"].user, approved=True, reasons="同意")
    assert exc.value.code == "illegal_transition"
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED and case.events.count() == 1


def test_only_the_owner_withdraws(people, item):
    case = submit(people, item)
    with pytest.raises(NotFound):
        services.withdraw_case(case, actor=people["other_user"], reason="x")
    case = services.withdraw_case(case, actor=people["citizen_user"], reason="不需要了")
    assert case.status == CaseStatus.WITHDRAWN


def test_idempotent_submission(people, item):
    a = submit(people, item, idempotency_key="k-1")
    b = submit(people, item, idempotency_key="k-1")
    assert a.pk == b.pk


def test_visits_flag_beyond_promise(people, make_item):
    item = make_item(max_visits=1, audience="both")
    case = submit(people, item)
    services.record_visit(case, actor=people["clerk"].user, purpose="提交材料")
    case.refresh_from_db()
    assert not case.visits_exceeded
    services.record_visit(case, actor=people["clerk"].user, purpose="补交材料")
    case.refresh_from_db()
    assert case.visits_exceeded


def test_extension_limited_to_ten_days(people, item):
    case = services.accept_case(submit(people, item), actor=people["clerk"].user)
    with pytest.raises(PermissionDenied):
        services.extend_deadline(case, actor=people["reviewer"].user, days=5, reason="需要专家论证")
    before = case.promised_deadline
    case = services.extend_deadline(case, actor=people["approver"].user, days=5, reason="需要补充调查")
    assert case.promised_deadline > before
    with pytest.raises(ValidationError):
        services.extend_deadline(case, actor=people["approver"].user, days=6, reason="再延长")


def _upload(applicant, name="scan.pdf", *, user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from bianmin.cases import files
    from tests.cases.test_files import tiny_pdf

    return files.store_upload(applicant, SimpleUploadedFile(name, tiny_pdf(), content_type="application/pdf"), actor=user)


def test_a_file_belongs_to_one_case(people, item):
    f = _upload(people["citizen"], user=people["citizen_user"])
    first_material = item.materials.first()
    given = materials_of(item) | {first_material.pk: {"files": [f.pk]}}
    submit(people, item, materials=given)
    with pytest.raises(NotFound):  # the same upload cannot be moved onto a second case
        submit(people, item, materials=given)


def test_pending_material_needs_a_file_from_the_applicant(people, item):
    case = submit(people, item)
    pending = case.materials.get(name="食品安全管理制度文本")
    case = services.accept_case(case, actor=people["clerk"].user, pending_material_ids=[pending.pk])
    with pytest.raises(ValidationError):
        services.receive_pending_material(case, actor=people["citizen_user"], case_material_id=pending.pk)
    stranger_file = _upload(people["other"], user=people["other_user"])
    with pytest.raises(NotFound):
        services.receive_pending_material(case, actor=people["citizen_user"], case_material_id=pending.pk, file_ids=[stranger_file.pk])
    own = _upload(people["citizen"], user=people["citizen_user"])
    services.receive_pending_material(case, actor=people["citizen_user"], case_material_id=pending.pk, file_ids=[own.pk])
    assert case.materials.get(pk=pending.pk).state == CaseMaterial.State.PROVIDED


def test_a_pending_material_may_be_absent_at_submission_and_accepted_as_pending(people, item):
    pending = item.materials.get(name="食品安全管理制度文本")  # required, 容缺 allowed
    others = {m.pk: {"at_window": True} for m in item.materials.exclude(pk=pending.pk)}
    case = submit(people, item, materials=others)
    absent = case.materials.get(material=pending)
    assert absent.state == CaseMaterial.State.MISSING
    with pytest.raises(ValidationError) as exc:  # not accepted as complete
        services.accept_case(case, actor=people["clerk"].user)
    assert exc.value.code == "materials_missing"
    case = services.accept_case(case, actor=people["clerk"].user, pending_material_ids=[absent.pk])
    assert case.status == CaseStatus.IN_REVIEW
    # a required material without 容缺 must be there at submission
    licence = item.materials.get(name="营业执照")
    with pytest.raises(ValidationError) as exc:
        submit(people, item, materials={m.pk: {"at_window": True} for m in item.materials.exclude(pk=licence.pk)})
    assert exc.value.code == "materials_missing" and "营业执照" in exc.value.message


def test_window_registration_counts_as_a_visit(people, item, halls):
    case = submit(people, item, channel="window", hall=halls["city"])
    assert case.visit_count == 1 and case.visits.get().hall == halls["city"]


@pytest.mark.parametrize("channel", ["online", "kiosk", "mobile"])
def test_only_online_items_take_applications_outside_a_hall(people, make_item, channel):
    offline = make_item(online_level=2, audience="both")
    with pytest.raises(ValidationError) as exc:
        submit(people, offline, channel=channel)
    assert exc.value.code == "item_not_online"
    assert submit(people, offline, channel="window").status == CaseStatus.SUBMITTED


def test_case_numbers_count_per_region_and_day_and_grow_past_six_digits(people, item, monkeypatch):
    from bianmin.core.models import Sequence

    monkeypatch.setattr(clock, "today", lambda: date(2026, 9, 28))
    first, second = submit(people, item), submit(people, item)
    assert (first.number, second.number) == ("440800-20260928-000001", "440800-20260928-000002")
    first.refresh_from_db()
    assert first.number == "440800-20260928-000001"  # stored, not only set on the object
    Sequence.objects.filter(name="case:440800:20260928").update(value=999_999)
    big = submit(people, item)
    big.refresh_from_db()
    assert big.number == "440800-20260928-1000000"
    monkeypatch.setattr(clock, "today", lambda: date(2026, 9, 29))
    assert submit(people, item).number == "440800-20260929-000001"


def test_submission_writes_its_audit_entry_in_the_chain(people, item, monkeypatch):
    """The submission's audit entry (on PostgreSQL written by the submitting statement itself) names
    the case and its number, and the chain verifies across it and the next entries."""
    from bianmin.core import audit
    from bianmin.core.models import AuditEntry

    monkeypatch.setattr(clock, "today", lambda: date(2026, 9, 28))
    earlier = AuditEntry.objects.count()  # the fixtures' users, items…
    first = submit(people, item, idempotency_key="audit-1")
    second = submit(people, item)
    services.accept_case(first, actor=people["clerk"].user)
    entries = list(AuditEntry.objects.filter(action="case.submitted").order_by("id"))
    assert [(e.object_type, e.object_id, e.actor) for e in entries] == [
        ("cases.case", str(first.pk), people["citizen_user"].username), ("cases.case", str(second.pk), people["citizen_user"].username)]
    assert entries[0].data == {"number": first.number, "from": "draft", "to": "submitted"}
    assert first.number == "440800-20260928-000001" and second.number == "440800-20260928-000002"
    result = audit.verify()
    assert result.ok and result.checked == AuditEntry.objects.count() == earlier + 3  # two submitted, one accepted


def test_submission_puts_back_a_missing_chain_head(people, item):
    """A head row gone (a flushed database, a data-only restore) is put back at the newest entry."""
    from bianmin.core import audit
    from bianmin.core.models import AuditEntry, AuditHead

    before = submit(people, item)
    AuditHead.objects.all().delete()
    after = submit(people, item)
    assert after.number != before.number
    assert AuditEntry.objects.filter(action="case.submitted").count() == 2
    assert audit.verify().ok


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_new_case_is_one_statement_and_its_own_transaction(people, item):
    """Outside a transaction the submission's only write is one statement, which commits by itself
    (no BEGIN or COMMIT round trips); a retry with the same key writes nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bianmin.cases.models import Case
    from bianmin.core.models import AuditEntry

    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes a case with the ORM in one transaction")
    submit(people, item, idempotency_key="warm")  # the chain's head row (this test's database was flushed)
    given = materials_of(item)
    with CaptureQueriesContext(connection) as ctx:
        case = submit(people, item, materials=given, idempotency_key="one")
    writes = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith("SELECT")]  # reads: materials, licences
    assert len(writes) == 1 and writes[0].startswith("WITH seq AS (INSERT INTO core_sequence")
    assert Case.objects.get(pk=case.pk).number == case.number
    assert case.materials.count() == item.materials.count()
    assert case.events.get().kind == "submitted"
    entries = AuditEntry.objects.count()
    again = submit(people, item, materials=given, idempotency_key="one")
    assert again.pk == case.pk and again.is_replay
    assert AuditEntry.objects.count() == entries and Case.objects.count() == 2

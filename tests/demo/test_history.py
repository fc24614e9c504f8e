"""The demo's synthetic year of cases: every state present, deadlines from the clock, numbers unique."""

from datetime import date

import pytest

from bianmin.cases import clock, services
from bianmin.cases.models import Case, CaseStatus
from bianmin.demo import history, loader


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            loader.load_reference_data()
            created = history.generate_history(600, today=date(2026, 11, 20))
            yield created
            transaction.set_rollback(True)


@pytest.mark.django_db
def test_every_state_is_present(demo):
    assert demo == 600
    present = set(Case.objects.values_list("status", flat=True))
    assert present >= {CaseStatus.SUBMITTED, CaseStatus.SUPPLEMENT, CaseStatus.IN_REVIEW, CaseStatus.SUSPENDED,
                       CaseStatus.DECIDED, CaseStatus.DELIVERED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN}


@pytest.mark.django_db
def test_deadlines_are_the_clocks(demo):
    for case in Case.objects.filter(accepted_on__isnull=False).select_related("item")[:200]:
        promised, statutory, _ = clock.deadlines(case)
        assert (case.promised_deadline, case.statutory_deadline) == (promised, statutory)


@pytest.mark.django_db
def test_history_starts_with_submission_and_numbers_continue(demo):
    case = Case.objects.filter(status=CaseStatus.DELIVERED).first()
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds[0] == "submitted" and kinds[-1] == "delivered"
    assert Case.objects.values("number").distinct().count() == 600
    # a new case on a day the generator used gets the next free number
    region, day, last = case.number.split("-")
    taken = Case.objects.filter(number__startswith=f"{region}-{day}-").count()
    assert services.next_case_number(region, date(int(day[:4]), int(day[4:6]), int(day[6:]))) == f"{region}-{day}-{taken + 1:06d}"


@pytest.mark.django_db
def test_second_run_adds_nothing(demo):
    assert history.generate_history(10) == 0


@pytest.mark.django_db
def test_demo_citizen_and_company_log_in_to_their_own_pages(demo):
    from django.test import Client

    from bianmin.cases.models import Applicant

    accounts = dict(loader.ensure_demo_applicant_accounts())
    assert set(accounts) == {"citizen", "company"}
    assert loader.ensure_demo_applicant_accounts() == list(accounts.items())  # idempotent: the same two
    person = Applicant.objects.get(user__username="citizen")
    firm = Applicant.objects.get(user__username="company")
    assert (person.kind, firm.kind) == ("person", "legal_person")
    assert person.is_verified and (person.verified_by, firm.verified_by) == ("demo", "demo")  # issue 11
    assert person.cases.exists()  # the first synthetic person of the history
    c = Client()
    assert c.login(username="citizen", password=loader.DEMO_PASSWORD)
    page = c.get("/my/").content.decode()
    assert person.name in page and firm.name not in page and "账号尚未实名核验" not in page
    c = Client()
    assert c.login(username="company", password=loader.DEMO_PASSWORD)
    assert "企业专属网页" in c.get("/my/").content.decode()

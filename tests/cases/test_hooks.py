"""Hooks named in settings (BIANMIN_HOOKS, core.hooks): another app changes what cases does by naming
its function in settings, without cases importing it (issue 10.5)."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from bianmin.cases import services
from bianmin.core import hooks
from bianmin.core.errors import PermissionDenied
from bianmin.licences.models import Licence

CALLS = []


def blacklisted(applicant):
    """A credit app's answer: this applicant is on the black list."""
    return True


def record_approval(case):
    CALLS.append(("approved", case.number))


def record_event(case, event):
    CALLS.append((event.kind, case.number))


def with_hooks(**changes):
    from django.conf import settings

    return override_settings(BIANMIN_HOOKS={**settings.BIANMIN_HOOKS, **changes})


def _submit(people, item, materials=None):
    return services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials=materials or {m.pk: {"at_window": True} for m in item.materials.all()})


def _pending(case):
    return [cm.pk for cm in case.materials.all() if cm.material.pending_allowed]


def test_a_black_listing_hook_refuses_rongque(people, make_item):
    item = make_item(audience="both")
    case = _submit(people, item)
    with with_hooks(is_blacklisted="tests.cases.test_hooks.blacklisted"):
        with pytest.raises(PermissionDenied) as refused:
            services.accept_case(case, actor=people["clerk"].user, pending_material_ids=_pending(case))
        assert refused.value.code == "blacklisted"
        case.refresh_from_db()
        assert case.status == "submitted" and not case.events.filter(kind="accepted").exists()
    accepted = services.accept_case(case, actor=people["clerk"].user, pending_material_ids=_pending(case))
    assert accepted.status == "in_review"  # the default hook: nobody is black-listed


def test_leniency_can_be_answered_without_the_black_list(people, make_item):
    """A credit app may answer 容缺 and 告知承诺 itself (e.g. by a credit score), not only by the black list."""
    item = make_item(audience="both", materials=[{"name": "承诺书", "commitment_allowed": True}])
    material = item.materials.get()
    with with_hooks(may_make_commitment="tests.cases.test_hooks.refuse"):
        with pytest.raises(PermissionDenied) as refused:
            _submit(people, item, {material.pk: {"commitment": True}})
        assert refused.value.code == "blacklisted"
    assert _submit(people, item, {material.pk: {"commitment": True}}).commitment is True


def refuse(applicant):
    return False


def test_approval_listeners_come_from_settings(people, make_item, django_capture_on_commit_callbacks):
    CALLS.clear()
    item = make_item(audience="both", result_name="居民身份证", result_licence_type="jmsfz")
    hooks_now = with_hooks(on_approved=["tests.cases.test_hooks.record_approval"],
                           after_event=["tests.cases.test_hooks.record_event"])
    with hooks_now:
        case = _submit(people, item)
        case = services.accept_case(case, actor=people["clerk"].user)
        services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="同意")
        services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合条件")
    # licences' listener was not named: no licence; ours ran once, and saw every event
    assert not Licence.objects.exists()
    assert CALLS.count(("approved", case.number)) == 1
    assert [k for k, _ in CALLS if k != "approved"][:2] == ["submitted", "accepted"]
    case2 = _submit(people, item)  # the settings' own listeners: licences issues the result licence
    case2 = services.accept_case(case2, actor=people["clerk"].user)
    services.complete_task(case2.tasks.get(), actor=people["reviewer"].user, opinion="同意")
    services.decide_case(case2, actor=people["approver"].user, approved=True, reasons="符合条件")
    assert list(Licence.objects.values_list("case_number", "licence_type__code")) == [(case2.number, "jmsfz")]


def test_a_hook_that_names_nothing_importable_is_a_configuration_error():
    with with_hooks(is_blacklisted="bianmin.nowhere.nothing"):
        with pytest.raises(ImproperlyConfigured, match="nowhere"):
            hooks.get("is_blacklisted")
    with override_settings(BIANMIN_HOOKS={}):
        with pytest.raises(ImproperlyConfigured, match="is_blacklisted"):
            hooks.get("is_blacklisted")

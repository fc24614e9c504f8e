"""Stateful fuzzing of the whole API (issue 11.6): first the state real users have — a draft, cases in
every stage, a decided case handed over, messages, personal tokens, another applicant's case — then odd
input to every route of the published OpenAPI document, as each role: anonymous, applicant (session
and bearer token), clerk, reviewer, approver, supervisor. Nothing may answer 5xx, and every answer must
match the published schema (tests/openapi_check.py checks each one). An empty database hides the
draft-500 class of bug; this finds it."""

import json
import re

import pytest
from django.test import Client

from bianmin.cases import services
from bianmin.cases.models import Message
from bianmin.core import services as core_services
from bianmin.core.models import ApiToken
from bianmin.org.models import Role
from tests import openapi_check
from tests.conftest import make_staff

ODD_TEXT = ["0", "x" * 300, "9" * 40]
ODD_QUERY = ["-1", "湛" * 300]
BODIES = [
    b"[]",
    json.dumps({"reason": 1, "opinion": None, "approved": "perhaps", "days": "ten", "planned_days": 1e300, "files": {"x": "y"},
                "missing_ids": "all", "pending_material_ids": [-1], "item_code": ["x"], "name": {"a": 1}, "score": "five",
                "progress": 10**20, "hours": -(2**40), "materials": {"abc": {}}}).encode(),
    json.dumps({"reason": "理由", "opinion": "同意", "reasons": "符合条件", "approved": True, "name": "令牌", "days": 3,
                "planned_days": 5, "kind": "expert_review", "method": "window", "purpose": "补交材料", "text": "进展",
                "progress": 50, "score": 5, "hours": 24, "missing_ids": [], "files": {}, "feedback": "已认领"}).encode(),
]


def _submit(people, item, applicant=None, user=None):
    return services.submit_application(applicant=applicant or people["citizen"], item=item, actor=user or people["citizen_user"],
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})


@pytest.fixture
def world(people, make_item, departments, django_capture_on_commit_callbacks):
    item = make_item(audience="both", statutory_days=20, promised_days=5)
    citizen, clerk = people["citizen"], people["clerk"].user
    with django_capture_on_commit_callbacks(execute=True):
        services.save_draft(applicant=citizen, item=item, actor=people["citizen_user"], form_data={"备注": "草稿"})
        submitted = _submit(people, item)
        in_review = services.accept_case(_submit(people, item), actor=clerk)
        decided = services.accept_case(_submit(people, item), actor=clerk)
        services.complete_task(decided.tasks.get(), actor=people["reviewer"].user, opinion="同意")
        services.decide_case(decided, actor=people["approver"].user, approved=True, reasons="符合条件")
        others = _submit(people, item, applicant=people["other"], user=people["other_user"])
    token = core_services.issue_token(people["citizen_user"], "手机")
    supervisor = make_staff("supervisor_f", departments["market"], Role.SUPERVISOR)
    values = {
        "number": [submitted.number, in_review.number, decided.number, others.number],
        "task_id": [str(in_review.tasks.get().pk)],
        "handover_id": [str(decided.handover.pk)],
        "message_id": [str(m) for m in Message.objects.filter(recipient=people["citizen_user"]).values_list("pk", flat=True)[:1]],
        "token_id": [str(ApiToken.objects.get().pk)],
        "item_code": [item.code],
        "code": [item.code],
    }
    roles = {"anonymous": Client(raise_request_exception=False)}
    for name, user in (("applicant", people["citizen_user"]), ("clerk", clerk), ("reviewer", people["reviewer"].user),
                       ("approver", people["approver"].user), ("supervisor", supervisor.user)):
        c = Client(raise_request_exception=False)
        c.force_login(user)
        roles[name] = c
    bearer = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {token}"})
    roles["applicant_token"] = bearer
    return values, roles


def _paths(template: str, values: dict) -> list[str]:
    """The route with real values for its parameters (another applicant's included), then odd ones."""
    names = re.findall(r"{(\w+)}", template)
    if not names:
        return [template]
    out = []
    for i in range(max(len(values.get(n, [])) for n in names) if any(values.get(n) for n in names) else 0):
        out.append(re.sub(r"{(\w+)}", lambda m: (values.get(m[1]) or ["1"])[min(i, len(values.get(m[1]) or ["1"]) - 1)], template))
    for odd in ODD_TEXT:
        out.append(re.sub(r"{(\w+)}", lambda m: odd, template))
    return out


def test_odd_input_to_every_route_as_every_role_is_never_a_5xx(world):
    values, roles = world
    failures = []
    requests = 0
    for template, ops in openapi_check.spec()["paths"].items():
        for method, op in ops.items():
            queries = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
            for role, c in roles.items():
                for path in _paths(template, values):
                    if method == "get":
                        variants = [{}] + [{q: odd for q in queries} for odd in (ODD_QUERY if queries else [])][:2]
                        for params in variants:
                            r = c.get(path, params)
                            requests += 1
                            if r.status_code >= 500:
                                failures.append(f"{role} GET {path} {params} -> {r.status_code}")
                    else:
                        for body in BODIES:
                            r = c.generic(method.upper(), path, body, content_type="application/json")
                            requests += 1
                            if r.status_code >= 500:
                                failures.append(f"{role} {method.upper()} {path} {body[:60]!r} -> {r.status_code}")
    assert requests > 1000  # every route, every role: the fuzz really ran
    assert failures == []

"""Issue 12: what the applicant's case page links and says — the decision letter and the licence the
approval issued (as the decision message promises), the clock before acceptance, withdrawal."""

from __future__ import annotations

import pytest

from bianmin.cases import services


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"


@pytest.fixture
def citizen(client, people):
    client.force_login(people["citizen_user"])
    return client


def _submitted(people, item):
    return services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})


def _decide(people, case, approved=True):
    case = services.accept_case(case, actor=people["clerk"].user)
    services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="符合条件")
    return services.decide_case(case, actor=people["approver"].user, approved=approved,
                                reasons="符合条件" if approved else "经审查,申请人不符合《食品安全法》第三十五条规定的条件")


def test_decision_letter_and_licence_linked_once_approved(citizen, client, people, make_item):
    from bianmin.licences.models import Licence

    item = make_item(audience="both", result_name="居民身份证", result_licence_type="jmsfz")
    case = _submitted(people, item)
    page = f"/my/cases/{case.number}/"
    letter = f"/my/cases/{case.number}/decision.pdf"
    html = citizen.get(page).content.decode()
    assert "decision.pdf" not in html and "/my/licences/" not in html.split("</header>")[1]
    assert citizen.get(letter).status_code == 404  # no decision yet, no letter

    case = _decide(people, case)
    licence = Licence.objects.get(case_number=case.number)
    html = citizen.get(page).content.decode()
    licence_pdf = f"/my/licences/{licence.identifier}/pdf/"
    assert f'href="{letter}"' in html and f'href="{licence_pdf}"' in html
    for url in (letter, licence_pdf):
        response = citizen.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert b"".join(response).startswith(b"%PDF")

    client.force_login(people["other_user"])  # another applicant: neither the page nor the letter
    assert client.get(page).status_code == 404
    assert client.get(letter).status_code == 404
    assert client.get(licence_pdf).status_code == 404


def test_a_refusal_links_its_letter_and_no_licence(citizen, people, make_item):
    item = make_item(audience="both", result_name="居民身份证", result_licence_type="jmsfz")
    case = _decide(people, _submitted(people, item), approved=False)
    html = citizen.get(f"/my/cases/{case.number}/").content.decode()
    assert f'href="/my/cases/{case.number}/decision.pdf"' in html and "/pdf/\"" not in html
    assert citizen.get(f"/my/cases/{case.number}/decision.pdf").status_code == 200


def test_an_item_without_a_licence_links_only_the_letter(citizen, people, make_item):
    case = _decide(people, _submitted(people, make_item(audience="both")))
    html = citizen.get(f"/my/cases/{case.number}/").content.decode()
    assert f'href="/my/cases/{case.number}/decision.pdf"' in html and "下载电子证照" not in html


# ----------------------------------------------------------------------------- the clock before acceptance

def test_a_supplement_before_acceptance_does_not_say_the_clock_stops(citizen, people, make_item):
    item = make_item(audience="both")
    case = _submitted(people, item)
    services.request_supplement(case, actor=people["clerk"].user, missing_ids=[case.materials.first().pk], note="请上传清晰件")
    section = citizen.get(f"/my/cases/{case.number}/").content.decode().split('id="asked-title"')[1].split("</section>")[0]
    assert "尚未开始计时" in section and "不计入办理时限" not in section and "暂停" not in section

    accepted = services.accept_case(_submitted(people, item), actor=people["clerk"].user)  # in review: the clock runs, then stops
    services.request_supplement(accepted, actor=people["reviewer"].user, missing_ids=[accepted.materials.first().pk])
    html = citizen.get(f"/my/cases/{accepted.number}/").content.decode()
    assert "补正期间不计入办理时限" in html and "暂停计时" in html and "尚未开始计时" not in html


# ----------------------------------------------------------------------------- staff and applicants apart

def test_the_my_cases_link_is_for_applicants_and_visitors_not_staff(client, people):
    assert '>我的办件</a>' in client.get("/").content.decode()  # a visitor: it leads to the login
    client.force_login(people["citizen_user"])
    assert '>我的办件</a>' in client.get("/").content.decode()
    client.force_login(people["clerk"].user)
    html = client.get("/").content.decode()
    assert '>我的办件</a>' not in html and 'href="/my/"' not in html and ">工作台</a>" in html


@pytest.mark.parametrize("path", ["/console/", "/console/cases/", "/console/catalog/", "/console/supervision/"])
def test_an_applicant_is_kept_out_of_the_console(citizen, people, path):
    r = citizen.get(path)
    html = r.content.decode()
    assert r.status_code == 403 and "工作台仅供工作人员使用" in html and 'href="/my/"' in html and 'href="/console/login/"' in html
    assert "退出" in html


def test_the_console_login_stays_open_and_staff_still_get_in(client, citizen, people):
    assert citizen.get("/console/login/").status_code == 200
    client.force_login(people["clerk"].user)
    assert client.get("/console/").status_code == 200

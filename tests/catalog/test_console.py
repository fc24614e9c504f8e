"""The catalog administrator's console: who may see what, the item form, versions, publish/withdraw, Excel."""

import io
import re

import openpyxl
import pytest
from django.test import Client

from bianmin.catalog.models import ItemVersion, Proof, ServiceItem, Theme
from tests.conftest import make_staff

BASE = "/console/catalog"


@pytest.fixture
def market_item(make_item, departments):
    return make_item(departments["market"], status="draft")


@pytest.fixture
def police_item(make_item, departments):
    return make_item(departments["police"])


def login(client, staff_member):
    client.force_login(staff_member.user)
    return client


def xlsx_upload(content: bytes, name="catalog.xlsx"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# ------------------------------------------------------------------------------------------ permissions

def _urls(item):
    return [
        ("get", f"{BASE}/"), ("get", f"{BASE}/new/"), ("get", f"{BASE}/import/"), ("get", f"{BASE}/export/"),
        ("get", f"{BASE}/{item.pk}/"), ("get", f"{BASE}/{item.pk}/edit/"),
        ("post", f"{BASE}/{item.pk}/publish/"), ("post", f"{BASE}/{item.pk}/withdraw/"),
    ]


def test_anonymous_users_are_sent_to_the_login_page(client, market_item):
    for method, url in _urls(market_item):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/console/login/?next=/console/catalog/"), url


@pytest.mark.parametrize("who", ["market_clerk", "supervisor"])
def test_other_roles_get_403(client, staff, market_item, who):
    login(client, staff[who])
    for method, url in _urls(market_item):
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
        assert "无权访问" in response.content.decode()
    market_item.refresh_from_db()
    assert market_item.status == "draft"


def test_a_user_without_staff_record_gets_403(client, db, market_item):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("citizen", password="Bianmin!2026"))
    assert client.get(f"{BASE}/").status_code == 403


def test_another_departments_catalog_admin_gets_404_for_the_item(client, staff, market_item):
    login(client, staff["police_admin"])
    expected = {f"{BASE}/": 200, f"{BASE}/new/": 200, f"{BASE}/import/": 200, f"{BASE}/export/": 200}
    for method, url in _urls(market_item):
        response = getattr(client, method)(url, {"reason": "x"}) if method == "post" else client.get(url)
        assert response.status_code == expected.get(url, 404), url
    assert market_item.name not in client.get(f"{BASE}/").content.decode()
    market_item.refresh_from_db()
    assert (market_item.status, market_item.version) == ("draft", 1)


@pytest.mark.parametrize("who", ["market_admin", "admin"])
def test_own_catalog_admin_and_admin_may_use_every_page(client, staff, market_item, who):
    login(client, staff[who])
    for method, url in _urls(market_item)[:6]:
        assert client.get(url).status_code == 200, url
    response = client.post(f"{BASE}/{market_item.pk}/publish/")
    assert response.status_code == 302
    response = client.post(f"{BASE}/{market_item.pk}/withdraw/", {"reason": "政策调整,暂停办理"})
    assert response.status_code == 302
    market_item.refresh_from_db()
    assert (market_item.status, market_item.version) == ("withdrawn", 3)


def test_superuser_without_staff_record_may_use_the_console(client, db, market_item, police_item):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="Bianmin!2026"))
    body = client.get(f"{BASE}/").content.decode()
    assert "共 2 项" in body


def test_publish_and_withdraw_only_by_post(client, staff, market_item):
    login(client, staff["market_admin"])
    assert client.get(f"{BASE}/{market_item.pk}/publish/").status_code == 405
    assert client.get(f"{BASE}/{market_item.pk}/withdraw/").status_code == 405


# ------------------------------------------------------------------------------------------ list

def test_list_shows_own_department_only_with_search_and_status_filter(client, staff, make_item, departments):
    make_item(departments["market"], name="食品经营许可证核发")
    make_item(departments["market"], name="药品零售许可", status="draft")
    make_item(departments["police"], name="居民身份证办理")
    login(client, staff["market_admin"])

    body = client.get(f"{BASE}/").content.decode()
    assert "共 2 项" in body and "居民身份证办理" not in body
    body = client.get(f"{BASE}/", {"status": "draft"}).content.decode()
    assert "共 1 项" in body and "药品零售许可" in body and "食品经营许可证核发" not in body
    body = client.get(f"{BASE}/", {"q": "零售"}).content.decode()
    assert "共 1 项" in body and "药品零售许可" in body
    assert client.get(f"{BASE}/", {"status": "nonsense"}).status_code == 400
    assert client.get(f"{BASE}/", {"page": "abc"}).status_code == 400

    login(client, staff["admin"])
    assert "共 3 项" in client.get(f"{BASE}/").content.decode()


def test_list_has_no_n_plus_one(client, staff, make_item, departments, django_assert_max_num_queries):
    for i in range(25):
        make_item(departments["market"] if i % 2 else departments["chikan_civil"])
    login(client, staff["admin"])
    with django_assert_max_num_queries(8):
        response = client.get(f"{BASE}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "共 25 项" in body and "第 1/2 页" in body
    assert body.count("/edit/") == 20
    with django_assert_max_num_queries(8):
        assert client.get(f"{BASE}/", {"page": 2}).content.decode().count("/edit/") == 5


# ------------------------------------------------------------------------------------------ create and edit

def form_post(department, materials=(), blank_rows=2, **over):
    data = {
        "name": "食品经营许可证核发", "basic_code": "11440800MB2C91", "code": "11440800MB2C91-440800000000-900",
        "kind": "licensing", "legal_basis": "《中华人民共和国食品安全法》第三十五条", "department": str(department.pk),
        "origin_department": "", "region": "", "level": "city", "audience": "legal_person",
        "conditions": "申请人具有与经营的食品品种、数量相适应的经营场所。", "route": "申请、受理、审查、决定、送达",
        "statutory_days": "20", "promised_days": "5", "fees": "", "fee_fen": "0", "online_level": "4",
        "nearby_levels": ["city", "county"], "max_visits": "0",
        "result_name": "食品经营许可证", "result_licence_type": "", "location": "湛江市政务服务中心",
        "hours": "工作日 8:30-12:00", "phone": "0759-1234567", "supervision_phone": "",
    }
    data.update(over)
    rows = list(materials) + [{}] * blank_rows
    data.update({"materials-TOTAL_FORMS": str(len(rows)), "materials-INITIAL_FORMS": "0",
                 "materials-MIN_NUM_FORMS": "0", "materials-MAX_NUM_FORMS": "1000"})
    for i, m in enumerate(rows):
        row = {"name": "", "description": "", "form": "original", "copies": "1", "satisfied_by": "", "proof": ""}
        row.update(m)
        for key, value in row.items():
            if value is not False:
                data[f"materials-{i}-{key}"] = value
    return data


def test_create_an_item_through_the_form(client, staff, departments, halls):
    Theme.objects.create(code="kaiban", name="开办企业")
    proof = Proof.objects.create(name="无犯罪记录证明", legal_basis="-", requesting_unit="-", issuing_unit="-")
    login(client, staff["market_admin"])
    page = client.get(f"{BASE}/new/").content.decode()
    assert '<label for="id_name">事项名称' in page and 'name="materials-TOTAL_FORMS"' in page
    assert "无犯罪记录证明" in page and "湛江市政务服务中心" in page

    data = form_post(departments["market"], materials=[
        {"name": "食品经营许可申请书", "form": "form", "required": "on"},
        {"name": "无犯罪记录证明", "proof": str(proof.pk), "required": "on", "commitment_allowed": "on", "copies": "2"},
    ], themes=["kaiban"], halls=[str(halls["city"].pk)], proofs=[str(proof.pk)],
        conditions="一、有场所;\r\n二、有人员。")
    response = client.post(f"{BASE}/new/", data)

    item = ServiceItem.objects.get(code="11440800MB2C91-440800000000-900")
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}/{item.pk}/"
    assert (item.status, item.version, item.department, item.region_id) == ("draft", 1, departments["market"], "440800")
    assert item.conditions == "一、有场所;\n二、有人员。"
    assert item.nearby_levels == "city,county"
    assert [(m.name, m.form, m.copies, m.commitment_allowed, m.proof_id) for m in item.materials.all()] == [
        ("食品经营许可申请书", "form", 1, False, None), ("无犯罪记录证明", "original", 2, True, proof.pk)]
    assert [t.code for t in item.themes.all()] == ["kaiban"]
    assert [h.pk for h in item.halls.all()] == [halls["city"].pk]
    v = item.versions.get()
    assert (v.action, v.changed_by) == ("create", staff["market_admin"].user)
    body = client.get(response["Location"]).content.decode()
    assert "已新建事项“食品经营许可证核发”(草稿)" in body


def test_errors_are_shown_beside_their_fields_and_nothing_is_saved(client, staff, departments):
    retired = Proof.objects.create(name="已取消的证明", legal_basis="-", requesting_unit="-", issuing_unit="-", is_retained=False)
    login(client, staff["market_admin"])
    data = form_post(departments["market"], name="", statutory_days="5", promised_days="8", materials=[
        {"name": "申请书", "required": "on"},
        {"name": "", "description": "只有说明没有名称"},
        {"name": "证明", "proof": str(retired.pk)},
    ])
    response = client.post(f"{BASE}/new/", data)

    assert response.status_code == 400
    assert not ServiceItem.objects.exists()
    body = response.content.decode()
    summary = re.search(r'<div class="alert alert-error error-summary" role="alert".*?</div>', body, re.S).group(0)
    assert "有 4 处需要修改" in summary
    assert '<a href="#id_name">事项名称:不能为空</a>' in summary
    assert '<p class="field-error" id="id_name_error">事项名称:不能为空</p>' in body
    assert 'id="id_promised_days_error">承诺办结时限(工作日):承诺时限(8 个工作日)不能超过法定时限(5 个工作日)</p>' in body
    assert 'aria-invalid="true"' in body
    # the material without a name is its own row's error (row 2 of the form)
    assert 'id="id_materials-1-name_error">申请材料:第 2 项材料名称不能为空</p>' in body
    assert "id=\"id_materials-2-proof_error\">所需证明:“已取消的证明”不在保留证明事项清单内,不得要求申请人提供</p>" in body
    assert 'value="只有说明没有名称"' in body  # what was typed is kept


def test_a_catalog_admin_cannot_create_for_another_department(client, staff, departments):
    login(client, staff["market_admin"])
    response = client.post(f"{BASE}/new/", form_post(departments["police"], materials=[{"name": "申请书", "required": "on"}]))
    assert response.status_code == 403
    assert "只能维护本部门的事项" in response.content.decode()
    assert not ServiceItem.objects.exists()


def test_edit_needs_a_reason_and_records_the_version_shown_on_the_item_page(client, staff, market_item):
    login(client, staff["market_admin"])
    page = client.get(f"{BASE}/{market_item.pk}/edit/").content.decode()
    assert 'value="食品经营许可证核发"' in page and 'value="食品安全管理制度文本"' in page

    mats = [{"name": "食品经营许可申请书", "form": "form", "required": "on"},
            {"name": "营业执照", "satisfied_by": "yyzz", "required": "on"},
            {"name": "食品安全管理制度文本", "required": "on", "pending_allowed": "on"}]
    data = form_post(market_item.department, materials=mats, code=market_item.code, promised_days="3")
    response = client.post(f"{BASE}/{market_item.pk}/edit/", data)
    assert response.status_code == 400
    assert "变更原因:修改事项须填写变更原因" in response.content.decode()
    market_item.refresh_from_db()
    assert (market_item.version, market_item.promised_days) == (1, 5)

    data["reason"] = "压缩承诺时限"
    response = client.post(f"{BASE}/{market_item.pk}/edit/", data)
    assert response.status_code == 302
    market_item.refresh_from_db()
    assert (market_item.version, market_item.promised_days) == (2, 3)
    v = market_item.versions.first()
    assert (v.version, v.action, v.reason, v.changed_by) == (2, "update", "压缩承诺时限", staff["market_admin"].user)
    # form_post also sets the guide fields the fixture left empty
    assert {d["field"] for d in v.diff} == {"promised_days", "result_name", "location", "hours", "phone"}

    body = client.get(f"{BASE}/{market_item.pk}/").content.decode()
    assert "已保存事项“食品经营许可证核发”,生成第 2 版" in body
    assert "第 2 版 · 修改" in body and "原因:压缩承诺时限" in body and "操作人:market_admin" in body
    assert "<tr><th scope=\"row\">承诺办结时限(工作日)</th><td>5</td><td>3</td></tr>" in body
    assert "<tr><th scope=\"row\">办理地点</th><td>(空)</td><td>湛江市政务服务中心</td></tr>" in body

    # the same form again changes nothing and makes no version
    response = client.post(f"{BASE}/{market_item.pk}/edit/", data, follow=True)
    assert "没有修改任何内容,未生成新版本" in response.content.decode()
    assert market_item.versions.count() == 2


# ------------------------------------------------------------------------------------------ publish / withdraw

def test_publish_then_withdraw_with_a_reason(client, staff, market_item):
    login(client, staff["market_admin"])
    response = client.post(f"{BASE}/{market_item.pk}/publish/", follow=True)
    assert "已发布事项“食品经营许可证核发”(第 2 版)" in response.content.decode()
    market_item.refresh_from_db()
    assert market_item.status == "published"

    response = client.post(f"{BASE}/{market_item.pk}/withdraw/", {"reason": "  "})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="withdraw-reason_error">撤回事项须说明原因</p>' in body
    assert 'role="alert"' in body
    market_item.refresh_from_db()
    assert market_item.status == "published"

    client.post(f"{BASE}/{market_item.pk}/withdraw/", {"reason": "法规废止"})
    market_item.refresh_from_db()
    assert (market_item.status, market_item.version) == ("withdrawn", 3)
    assert [(v.action, v.reason) for v in market_item.versions.all()] == [("withdraw", "法规废止"), ("publish", ""), ("create", "")]
    body = client.get(f"{BASE}/{market_item.pk}/").content.decode()
    assert "<tr><th scope=\"row\">状态</th><td>已发布</td><td>已撤回</td></tr>" in body


def test_an_item_without_materials_cannot_be_published(client, staff, make_item):
    item = make_item(status="draft", materials=[])
    login(client, staff["market_admin"])
    response = client.post(f"{BASE}/{item.pk}/publish/")
    assert response.status_code == 400
    assert "事项没有申请材料,不能发布" in response.content.decode()


def test_csrf_is_enforced(staff, market_item):
    client = Client(enforce_csrf_checks=True)
    login(client, staff["market_admin"])
    assert client.post(f"{BASE}/{market_item.pk}/publish/").status_code == 403
    market_item.refresh_from_db()
    assert market_item.status == "draft"

    page = client.get(f"{BASE}/{market_item.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(f"{BASE}/{market_item.pk}/publish/", {"csrfmiddlewaretoken": token}).status_code == 302
    market_item.refresh_from_db()
    assert market_item.status == "published"


# ------------------------------------------------------------------------------------------ Excel

def test_export_downloads_the_items_the_user_manages(client, staff, market_item, police_item):
    login(client, staff["market_admin"])
    response = client.get(f"{BASE}/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].startswith("attachment;")
    wb = openpyxl.load_workbook(io.BytesIO(response.content))
    codes = [r[2] for r in wb["事项"].iter_rows(min_row=2, values_only=True)]
    assert codes == [market_item.code]


def test_import_page_reports_the_summary_or_the_rows_in_error(client, staff, market_item, police_item):
    login(client, staff["market_admin"])
    exported = client.get(f"{BASE}/export/").content

    response = client.post(f"{BASE}/import/", {"file": xlsx_upload(exported), "dry_run": "1"})
    assert response.status_code == 200
    assert "检查通过(未写入任何数据):共 1 个事项" in response.content.decode()

    wb = openpyxl.load_workbook(io.BytesIO(exported))
    wb["事项"].cell(2, 14, 30)  # 承诺时限 > 法定时限
    wb["事项"].append(["新事项", "B1", "NEW-1", "行政许可", "依据", "湛江市公安局"])
    buf = io.BytesIO()
    wb.save(buf)
    response = client.post(f"{BASE}/import/", {"file": xlsx_upload(buf.getvalue())})
    assert response.status_code == 400
    body = response.content.decode()
    assert "导入失败:共 2 行有误,未导入任何事项" in body
    assert "<td>事项!第2行</td><td>N2</td><td>承诺时限</td><td>承诺时限:承诺时限(30 个工作日)不能超过法定时限(20 个工作日)</td>" in body
    assert "<td>事项!第3行</td><td>F3</td><td>实施主体</td><td>实施主体:只能维护本部门的事项</td>" in body
    market_item.refresh_from_db()
    assert market_item.promised_days == 5
    assert not ServiceItem.objects.filter(code="NEW-1").exists()


@pytest.mark.parametrize("content, message", [
    (b"", "文件是空的"),
    (b"\x00\x01garbage" * 10, "文件不是 Excel 工作簿(.xlsx)"),
    ("实施编码,事项名称\n".encode(), "文件不是 Excel 工作簿(.xlsx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "另存为"),
])
def test_import_page_refuses_files_that_are_not_xlsx(client, staff, db, content, message):
    login(client, staff["market_admin"])
    response = client.post(f"{BASE}/import/", {"file": xlsx_upload(content)})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'role="alert"' in response.content.decode()


def test_import_page_without_a_file_or_with_a_big_one(client, staff, monkeypatch):
    from bianmin.core import xlsx

    login(client, staff["market_admin"])
    assert "请选择要导入的 .xlsx 文件" in client.post(f"{BASE}/import/", {}).content.decode()
    monkeypatch.setattr(xlsx, "MAX_FILE_BYTES", 10)
    response = client.post(f"{BASE}/import/", {"file": xlsx_upload(b"PK\x03\x04" + b"\0" * 20)})
    assert response.status_code == 400
    assert "MB,请拆分后分批导入" in response.content.decode()


def test_import_through_the_page_records_the_user(client, staff, departments):
    from bianmin.catalog import excel

    other = make_staff("market_admin2", departments["market"], "catalog_admin")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "事项"
    ws.append([c.header for c in excel.ITEM_COLUMNS])
    row = {"事项名称": "个体工商户登记", "基本编码": "B2", "实施编码": "IMP-1", "事项类型": "行政许可", "设定依据": "《条例》",
           "实施主体": "湛江市市场监督管理局", "层级": "市级", "服务对象": "自然人", "受理条件": "有经营场所",
           "办理流程": "申请、受理、决定", "法定时限": 15, "承诺时限": 3, "状态": "已发布"}
    ws.append([row.get(c.header) for c in excel.ITEM_COLUMNS])
    ms = wb.create_sheet("申请材料")
    ms.append([c.header for c in excel.MATERIAL_COLUMNS])
    ms.append(["IMP-1", "登记申请书"])
    buf = io.BytesIO()
    wb.save(buf)
    login(client, other)
    response = client.post(f"{BASE}/import/", {"file": xlsx_upload(buf.getvalue())})
    assert response.status_code == 200
    assert "导入完成:共 1 个事项、1 条申请材料,新建 1 个、更新 0 个、0 个不变。其中发布 1 个、撤回 0 个。" in response.content.decode()
    item = ServiceItem.objects.get(code="IMP-1")
    assert item.status == "published"
    assert list(ItemVersion.objects.filter(item=item).values_list("action", "changed_by__username")) == [
        ("publish", "market_admin2"), ("import", "market_admin2")]

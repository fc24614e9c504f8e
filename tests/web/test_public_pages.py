"""The public catalog pages: home (T5), guide (T6), proofs (T8, T9), bundles; error and console pages.

Expected result sets are worked out by hand from the items the `catalog` fixture builds.
"""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bianmin.catalog.models import Bundle, BundleItem, CancelledProof, Proof, Theme
from bianmin.org.models import Department
from tests.conftest import make_department

pytestmark = pytest.mark.django_db

NAMES = {
    "food": "食品经营许可证核发",
    "estate": "不动产登记（首次登记）",
    "hukou": "户口迁移登记",
    "dibao": "最低生活保障金给付",
}


@pytest.fixture
def themes(db):
    return {
        "startup": Theme.objects.create(code="kaiban", name="开办企业", order=1),
        "house": Theme.objects.create(code="zhufang", name="住房不动产", order=2),
    }


@pytest.fixture
def catalog(make_item, departments, regions, halls, themes):
    """Four published items, one draft and one withdrawn, with distinct flags (and materials: the
    factory's default materials mention 食品, which a search also matches):

    item    dept          level   audience      kind          imm  online  nearby levels               visits
    food    market        city    legal_person  licensing     no   4       city,county                  0
    estate  land          city    both          confirmation  no   3       city,county,town             1
    hukou   police        city    person        public_svc    yes  2       city,county,town,village     1
    dibao   chikan_civil  county  person        benefit       no   3       county,town,village          2
    """
    land = make_department("湛江市自然资源局", regions["city"])
    items = {
        "food": make_item(name=NAMES["food"], basic_code="SP0001", code="SP0001-440800-001", themes=["kaiban"],
                          halls=[halls["city"].pk], location="湛江市政务服务中心二楼 A 区", hours="周一至周五 8:30-12:00,14:30-17:30",
                          phone="0759-3000001", supervision_phone="0759-3000002", result_name="食品经营许可证",
                          fees="不收费"),
        "estate": make_item(department=land, name=NAMES["estate"], basic_code="BDC0002", code="BDC0002-440800-001",
                            kind="confirmation", audience="both", online_level=3, nearby_levels="city,county,town",
                            max_visits=1, statutory_days=30, promised_days=5, themes=["zhufang"],
                            halls=[halls["city"].pk, halls["town"].pk], fees="按宗收取登记费", fee_fen=8000,
                            materials=[{"name": "不动产登记申请书", "form": "form"}, {"name": "身份证明", "satisfied_by": "sfz"}]),
        "hukou": make_item(department=departments["police"], name=NAMES["hukou"], basic_code="HK0003",
                           code="HK0003-440800-001", kind="public_service", audience="person", online_level=2,
                           nearby_levels="city,county,town,village", max_visits=1, is_immediate=True,
                           statutory_days=20, promised_days=0, materials=[{"name": "居民户口簿"}]),
        "dibao": make_item(department=departments["chikan_civil"], name=NAMES["dibao"], basic_code="DB0004",
                           code="DB0004-440802-001", kind="benefit", audience="person", online_level=3,
                           nearby_levels="county,town,village", max_visits=2, statutory_days=30, promised_days=15,
                           materials=[{"name": "家庭收入情况说明", "commitment_allowed": True}]),
        "draft": make_item(name="食品生产许可（草稿）", basic_code="SP0005", code="SP0005-440800-001", status="draft"),
        "withdrawn": make_item(name="食品小作坊登记（已撤回）", basic_code="SP0006", code="SP0006-440800-001", status="withdrawn"),
    }
    return items


def names_on(response) -> set[str]:
    """The item names in the result list of a catalog page."""
    html = response.content.decode()
    return set(re.findall(r'<h3 class="item-name"><a href="/items/[^"]+/">([^<]+)</a>', html))


def published(*keys) -> set[str]:
    return {NAMES[k] for k in keys}


# ---------- the catalog home ----------

def test_home_lists_published_items_only(client, catalog):
    r = client.get("/")
    assert r.status_code == 200
    assert names_on(r) == published("food", "estate", "hukou", "dibao")
    html = r.content.decode()
    assert "草稿" not in html and "已撤回" not in html
    assert "共 <strong>4</strong> 个事项" in html


def test_home_page_structure_and_labels(client, catalog):
    html = client.get("/").content.decode()
    assert '<html lang="zh-Hans">' in html
    assert '<a class="skip-link" href="#main">跳到正文</a>' in html
    assert '<label for="q" class="search-label">搜索事项</label>' in html
    assert 'placeholder="输入事项名称、拼音或编码，如 不动产登记 / bdcdj"' in html
    for label in ("部门", "层级", "事项类型", "主题", "服务对象", "马上办", "网上办", "就近办", "一次办", "个人办事", "法人办事"):
        assert f">{label}</" in html, label
    for field_id in ("f-department", "f-level", "f-kind", "f-theme", "f-immediate", "f-online", "f-nearby", "f-one_visit"):
        assert f'<label for="{field_id}">' in html, field_id
    # headings in order: exactly one h1, and no level skipped
    levels = [int(n) for n in re.findall(r"<h([1-6])[ >]", html)]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels
    # themes and bundles show while nothing is searched
    assert 'id="themes-title">主题服务</h2>' in html and 'href="/?theme=kaiban"' in html


def test_result_rows_show_department_kind_badges_and_days(client, catalog):
    html = client.get("/").content.decode()
    food = html[html.index(NAMES["food"]):html.index("</li>", html.index('class="item-days"', html.index(NAMES["food"])))]
    assert "湛江市市场监督管理局" in food and "行政许可" in food
    assert "全程网办" in food and "零跑动" in food and "就近办" not in food
    assert "承诺 <strong>5</strong> 个工作日" in food and "法定 20 个工作日" in food
    hukou = html[html.index(NAMES["hukou"]):]
    hukou = hukou[:hukou.index("</li>", hukou.index('class="item-days"'))]
    assert "即办" in hukou and "就近办" in hukou and "最多跑一次" in hukou and "当场办结" in hukou


@pytest.mark.parametrize("query, expected", [
    ("department={market}", {"food"}),
    ("department={police}", {"hukou"}),
    ("level=county", {"dibao"}),
    ("level=city", {"food", "estate", "hukou"}),
    ("level=town", set()),
    ("audience=person", {"estate", "hukou", "dibao"}),        # 'both' counts for either
    ("audience=legal_person", {"food", "estate"}),
    ("kind=benefit", {"dibao"}),
    ("kind=confirmation", {"estate"}),
    ("kind=award", set()),
    ("theme=kaiban", {"food"}),
    ("theme=zhufang", {"estate"}),
    ("immediate=1", {"hukou"}),
    ("online=1", {"food", "estate", "dibao"}),                # online_level >= 3
    ("nearby=1", {"estate", "hukou", "dibao"}),               # a town or village hall
    ("one_visit=1", {"food", "estate", "hukou"}),             # max_visits <= 1
    ("online=1&nearby=1", {"estate", "dibao"}),
    ("audience=person&one_visit=1", {"estate", "hukou"}),
    ("immediate=1&online=1", set()),
    ("q=&department=&level=&kind=&theme=&audience=", {"food", "estate", "hukou", "dibao"}),  # an untouched form
])
def test_each_filter_narrows_as_expected(client, catalog, departments, query, expected):
    query = query.format(market=departments["market"].pk, police=departments["police"].pk)
    r = client.get("/?" + query)
    assert r.status_code == 200
    assert names_on(r) == published(*expected)
    if not expected:
        assert "没有找到符合条件的事项" in r.content.decode()


def test_active_filters_can_be_removed_one_by_one(client, catalog):
    html = client.get("/?online=1&nearby=1&kind=benefit").content.decode()
    assert "已选条件" in html
    assert 'href="/?kind=benefit&amp;online=1"' in html  # remove 就近办, keep the rest
    assert "事项类型：行政给付" in html


@pytest.mark.parametrize("q, expected", [
    ("食品", {"food"}),                  # drafts and withdrawn items named 食品… stay hidden
    ("不动产", {"estate"}),
    ("bdcdj", {"estate"}),              # pinyin initials
    ("budongchan", {"estate"}),         # full pinyin
    ("budongchandengji", {"estate"}),
    ("户口", {"hukou"}),
    ("hkqy", {"hukou"}),
    ("SP0001-440800-001", {"food"}),    # implementation code
    ("DB0004", {"dibao"}),              # basic code
])
def test_search_finds_the_right_item(client, catalog, q, expected):
    r = client.get("/", {"q": q})
    assert r.status_code == 200
    assert names_on(r) == published(*expected)
    assert 'id="themes-title"' not in r.content.decode()  # themes and bundles only when browsing


def test_search_with_filters_combines(client, catalog):
    assert names_on(client.get("/", {"q": "登记", "audience": "person"})) == published("estate", "hukou")
    assert names_on(client.get("/", {"q": "登记", "immediate": "1"})) == published("hukou")


def test_empty_result_suggests_pinyin_and_fewer_filters(client, catalog):
    html = client.get("/", {"q": "火箭发射许可", "level": "city"}).content.decode()
    assert "没有找到符合条件的事项" in html
    assert "拼音" in html and "减少筛选条件" in html
    assert 'href="/?q=%E7%81%AB%E7%AE%AD%E5%8F%91%E5%B0%84%E8%AE%B8%E5%8F%AF"' in html  # keep only the words


@pytest.mark.parametrize("query, message, field", [
    ("level=bogus", "筛选条件 level 的取值“bogus”无效", "层级"),
    ("page=abc", "页码应为正整数", "页码"),
    ("page=0", "页码应大于 0", "页码"),
    ("audience=alien", "筛选条件 audience 的取值“alien”无效", "服务对象"),
    ("kind=%3Cscript%3E", "筛选条件 kind 的取值“&lt;script&gt;”无效", "事项类型"),
    ("department=abc", "部门参数“abc”无效", "部门"),
    ("immediate=maybe", "筛选条件 immediate 只能是 1 或 0", "马上办"),
])
def test_invalid_filter_is_a_400_in_chinese(client, catalog, query, message, field):
    r = client.get("/?" + query)
    assert r.status_code == 400
    html = r.content.decode()
    assert 'role="alert"' in html and f"筛选条件有误：{field}</h2>" in html
    assert message in html
    assert "<script>" not in html
    assert '<label for="q" class="search-label">搜索事项</label>' in html  # the form is still there


NASTY_QUERIES = [
    "x" * 1000,
    "食" * 1000,
    '"', '""', "'", "''", "*", "**", "AND(", "OR", "NOT", "NEAR", "NEAR(食品 许可)", "name_doc:食品", ":", "&", "|", "!",
    "食品 AND(", '"食品', "食品*", "食品'", "^食品", "-", "--", "-- DROP TABLE catalog_serviceitem;",
    "'; DROP TABLE catalog_serviceitem; --", "1' OR '1'='1", "%", "_", "%_%", "\\", "()", "(", ")", "{}", "[]", "<>",
    "a:*", "a & b | !c", "食品 & 许可", "!食品", "食品:*", "@@", "$$", "\t", "   ", "😀", "食品😀许可", "ｂｄｃｄｊ",
    "<script>alert(1)</script>", "null", "NULL", "%00", "\x00", "食品\x00许可", "\u200b", "ā", "SP0001-", "SP0001-440800-001'", "0" * 80,
]


@pytest.mark.parametrize("q", NASTY_QUERIES)
def test_nasty_queries_never_give_a_500(client, catalog, q):
    page = client.get("/", {"q": q})
    api = client.get("/api/v1/items", {"q": q})
    if "\x00" in q:  # a NUL never reaches the database: refused with a message (web/middleware.py)
        assert (page.status_code, api.status_code, api.json()["code"]) == (400, 400, "invalid_characters")
        return
    assert page.status_code == 200, q
    assert "<script>alert" not in page.content.decode()
    assert api.status_code == 200, (q, api.content[:200])
    assert isinstance(api.json()["results"], list)


def _many_items(make_item, departments, n, start=0):
    for i in range(start, start + n):
        make_item(department=departments["market" if i % 2 else "police"], name=f"测试事项{i:02d}号登记",
                  basic_code=f"T{i:04d}", code=f"T{i:04d}-440800-001", themes=["kaiban"])


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_stay_flat(client, make_item, departments, themes, django_assert_max_num_queries):
    _many_items(make_item, departments, 3)
    Bundle.objects.create(code="kbqy", name="开办企业", target_days=5)
    urls = ["/", "/?q=登记", "/?q=cssx", "/?online=1&nearby=0&theme=kaiban", "/?page=1&audience=legal_person"]
    few = {url: _count(client, url) for url in urls}
    _many_items(make_item, departments, 27, start=3)  # 30 items: two pages of results
    for url in urls:
        with django_assert_max_num_queries(8):
            r = client.get(url)
        assert r.status_code == 200
        # a full first page needs one COUNT query that a short one does not; nothing grows per item
        assert _count(client, url) <= few[url] + 1, url


def test_guide_query_count_does_not_grow_with_materials(client, make_item, halls, django_assert_max_num_queries):
    small = make_item(code="Q-SMALL-001")
    large = make_item(code="Q-LARGE-001", halls=[h.pk for h in halls.values()],
                      materials=[{"name": f"材料{i}", "satisfied_by": "yyzz" if i % 2 else ""} for i in range(25)])
    assert _count(client, f"/items/{small.code}/") == _count(client, f"/items/{large.code}/")
    with django_assert_max_num_queries(8):
        client.get(f"/items/{large.code}/")


def test_pagination_keeps_the_filters(client, make_item, departments, themes):
    _many_items(make_item, departments, 30)
    r = client.get("/?theme=kaiban&online=1")
    html = r.content.decode()
    assert "共 <strong>30</strong> 个事项" in html and "第 1/2 页" in html
    assert 'href="?theme=kaiban&amp;online=1&amp;page=2" rel="next"' in html
    r2 = client.get("/?theme=kaiban&online=1&page=2")
    assert len(names_on(r2)) == 10
    assert 'href="?theme=kaiban&amp;online=1&amp;page=1" rel="prev"' in r2.content.decode()
    assert client.get("/?theme=kaiban&online=1&page=99").status_code == 200  # past the end: the last page


# ---------- the guide page ----------

def test_guide_shows_the_ten_elements_and_more(client, catalog):
    r = client.get("/items/SP0001-440800-001/")
    assert r.status_code == 200
    html = r.content.decode()
    for label in ("事项名称", "事项编码", "事项类型", "设定依据", "实施主体", "受理条件", "申请材料", "办理流程", "办理时限", "收费标准",
                  "办理地点", "办理时间", "咨询电话", "监督电话", "办理结果"):
        assert label in html, label
    for value in (NAMES["food"], "SP0001", "SP0001-440800-001", "行政许可", "《中华人民共和国食品安全法》第三十五条",
                  "湛江市市场监督管理局", "经营场所", "法定 20 个工作日", "承诺 5 个工作日", "不收费",
                  "湛江市政务服务中心二楼 A 区", "周一至周五", "0759-3000001", "0759-3000002", "食品经营许可证"):
        assert value in html, value
    assert "<h1>食品经营许可证核发</h1>" in html
    levels = [int(n) for n in re.findall(r"<h([1-6])[ >]", html)]
    assert levels.count(1) == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels
    # the route as steps
    assert re.search(r'<ol class="steps"><li>申请</li><li>受理</li><li>审查</li><li>决定</li><li>送达</li></ol>', html)
    # 四办 in words
    assert "网上办" in html and "全程网办 (4)" in html and "零跑动" in html and "马上办" in html and "一次办" in html
    # halls grouped by level, version and update time
    assert "市级" in html and "湛江市政务服务中心" in html
    assert re.search(r"事项版本 v1，更新于 \d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", html)


def test_guide_materials_table(client, catalog):
    html = client.get("/items/SP0001-440800-001/").content.decode()
    table = html[html.index('<table class="data-table materials-table">'):html.index("</table>")]
    for header in ("材料名称", "形式", "份数", "必要性", "告知承诺", "免提交 / 证明事项"):
        assert f'<th scope="col">{header}</th>' in table
    rows = table.split("<tr>")[2:]
    assert len(rows) == 3
    assert "食品经营许可申请书" in rows[0] and "申请表" in rows[0] and "1 份" in rows[0]
    assert "营业执照" in rows[1] and "免提交（电子证照）" in rows[1]
    assert "食品安全管理制度文本" in rows[2] and "必要" in rows[2] and "容缺后补" in rows[2]
    assert "免提交（电子证照）" not in rows[0] and "容缺后补" not in rows[0]


def test_guide_immediate_item_says_on_the_spot(client, catalog):
    html = client.get("/items/HK0003-440800-001/").content.decode()
    assert "即办件，当场办结" in html and "法定 20 个工作日" in html
    assert "表格下载 (2)" in html
    assert "镇(街道)级" in html and "村(社区)级" in html


def test_guide_fee_in_yuan_and_town_hall(client, catalog):
    html = client.get("/items/BDC0002-440800-001/").content.decode()
    assert "按宗收取登记费" in html and "80.00 元" in html
    assert "镇(街道)级" in html and "中华街道便民服务中心" in html
    assert "最多跑一次" in html and "网上申办 (3)" in html


def test_guide_shows_origin_department_for_an_approval_bureau(client, make_item, regions, departments):
    bureau = make_department("湛江市行政审批局", regions["city"], kind=Department.Kind.APPROVAL_BUREAU)
    item = make_item(department=bureau, origin_department=departments["market"], code="SPJ-440800-001")
    html = client.get(f"/items/{item.code}/").content.decode()
    assert "原业务主管部门" in html and "湛江市市场监督管理局" in html and "湛江市行政审批局" in html
    plain = client.get("/items/" + make_item(code="SPJ-440800-002").code + "/").content.decode()
    assert "原业务主管部门" not in plain


def test_guide_links_proofs_to_the_list(client, make_item):
    proof = Proof.objects.create(name="无犯罪记录证明", legal_basis="《某条例》第八条", requesting_unit="市教育局",
                                 issuing_unit="公安派出所", guide="持身份证到户籍所在地派出所开具")
    item = make_item(code="PRF-440800-001", materials=[{"name": "无犯罪记录证明", "proof": proof.pk}])
    html = client.get(f"/items/{item.code}/").content.decode()
    assert f'href="/proofs/#proof-{proof.pk}"' in html and "证明事项" in html


@pytest.mark.parametrize("code", ["SP0005-440800-001", "SP0006-440800-001", "NO-SUCH-CODE", "x" * 300, "%E9%A3%9F"])
def test_guide_404_for_draft_withdrawn_or_unknown(client, catalog, code):
    r = client.get(f"/items/{code}/")
    assert r.status_code == 404
    html = r.content.decode()
    assert "找不到该页面" in html and "事项目录" in html
    assert '<html lang="zh-Hans">' in html


# ---------- proofs, bundles ----------

def test_proofs_page_lists_retained_proofs(client, make_item):
    kept = Proof.objects.create(name="出生医学证明", legal_basis="《中华人民共和国母婴保健法》第二十三条",
                                requesting_unit="市公安局", issuing_unit="助产医疗机构", guide="由出生医院开具")
    Proof.objects.create(name="已不保留的证明", legal_basis="无", requesting_unit="甲", issuing_unit="乙", is_retained=False)
    make_item(code="BIRTH-440800-001", name="出生登记", materials=[{"name": "出生医学证明", "proof": kept.pk}])
    r = client.get("/proofs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "<h1>保留证明事项清单</h1>" in html
    for header in ("证明名称", "设定依据", "索要单位", "开具单位", "办理指南"):
        assert f'<th scope="col">{header}</th>' in html
    assert "出生医学证明" in html and "助产医疗机构" in html and "由出生医院开具" in html
    assert "已不保留的证明" not in html
    assert f'id="proof-{kept.pk}"' in html and 'href="/items/BIRTH-440800-001/"' in html


def test_cancelled_proofs_page(client, db):
    CancelledProof.objects.create(name="亲属关系证明", requesting_unit="市民政局", reason="online_check",
                                  alternative="通过户籍信息系统核验", cancelled_on=datetime.date(2019, 6, 1), document="湛府办〔2019〕1号")
    CancelledProof.objects.create(name="无房证明", requesting_unit="市住建局", reason="commitment", cancelled_on=datetime.date(2019, 5, 1))
    r = client.get("/proofs/cancelled/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "取消理由" in html and "能通过网络核验" in html and "能采取申请人承诺方式解决" in html
    assert "通过户籍信息系统核验" in html and "2019年6月1日" in html and "湛府办〔2019〕1号" in html
    assert html.index("亲属关系证明") < html.index("无房证明")  # newest first


def test_bundles_pages(client, catalog):
    b = Bundle.objects.create(code="budongchan", name="不动产登记一件事", description="交易、缴税、登记一窗办理", target_days=5)
    BundleItem.objects.create(bundle=b, item=catalog["hukou"], order=1, parallel_group=0)
    BundleItem.objects.create(bundle=b, item=catalog["estate"], order=2, parallel_group=1)
    BundleItem.objects.create(bundle=b, item=catalog["food"], order=3, parallel_group=1)
    BundleItem.objects.create(bundle=b, item=catalog["draft"], order=4, parallel_group=0)
    html = client.get("/bundles/").content.decode()
    assert "不动产登记一件事" in html and "包含 3 个事项" in html and "承诺 5 个工作日办结" in html
    r = client.get("/bundles/budongchan/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "第 1 步" in html and "第 2 步" in html and "第 3 步" not in html
    assert "并联办理 · 2 个事项" in html
    assert html.index(NAMES["hukou"]) < html.index(NAMES["estate"]) < html.index(NAMES["food"])
    assert "食品生产许可（草稿）" not in html
    assert "约 5 个工作日" in html  # 0 (即办) + max(5, 5)
    assert client.get("/bundles/nope/").status_code == 404
    # the home page shows bundles while browsing
    assert 'href="/bundles/budongchan/"' in client.get("/").content.decode()
    assert "一件事" in client.get(f"/items/{catalog['estate'].code}/").content.decode()


# ---------- errors and console ----------

def test_unknown_page_is_a_chinese_404(client, db):
    r = client.get("/no/such/page/")
    assert r.status_code == 404
    html = r.content.decode()
    assert "页面不存在" in html and '<label for="error-q">搜索事项</label>' in html


def test_login_page(client, db):
    r = client.get("/console/login/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "工作人员登录" in html and '<label for="id_username">用户名</label>' in html and '<label for="id_password">密码</label>' in html
    # LoginView puts the host name in `site_name`; the page chrome must still name the portal
    assert "<title>工作人员登录 - 湛江市政务服务网</title>" in html and "testserver" not in html
    bad = client.post("/console/login/", {"username": "nobody", "password": "wrong-password"})
    assert bad.status_code == 400 and 'role="alert"' in bad.content.decode()


def test_console_home_by_role(client, staff):
    client.force_login(staff["market_admin"].user)
    html = client.get("/console/").content.decode()
    assert "market_admin" in html and "湛江市市场监督管理局" in html and "事项管理" in html
    assert 'href="/console/catalog/"' in html
    client.force_login(staff["admin"].user)
    assert 'href="/console/catalog/"' in client.get("/console/").content.decode()
    client.force_login(staff["market_clerk"].user)
    html = client.get("/console/").content.decode()
    assert "窗口受理" in html and 'href="/console/catalog/"' not in html


def test_console_requires_login(client, db):
    r = client.get("/console/")
    assert r.status_code == 302 and r["Location"].startswith("/console/login/")


def test_static_assets_are_our_own(client):
    from pathlib import Path

    static = Path(__file__).resolve().parents[2] / "src" / "bianmin" / "web" / "static" / "web"
    css = (static / "site.css").read_text()
    assert '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC"' in css
    assert "@media print" in css and ":focus-visible" in css
    assert "http://" not in css and "https://" not in css and "@import" not in css

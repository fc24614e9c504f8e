"""The catalog in a real browser: search in Chinese and pinyin, the guide page, the keyboard,
phones, no JavaScript, colour contrast. Screenshots go to ./var/screenshots/ for a human to look at.

Data is created in each test through the catalog services (live_server needs transactional_db).
"""

from __future__ import annotations

import datetime
import re

import pytest

from bianmin.catalog import services
from bianmin.catalog.models import Bundle, BundleItem, CancelledProof, Proof, Theme
from bianmin.org.models import Department, Hall, Level
from tests.conftest import make_department

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ESTATE_CODE = "11440800MB2C91X-440800000000-000-114408000000000001-1-00"

# Contrast of text against the nearest opaque background, WCAG 2.x formula; large text needs 3:1.
CONTRAST_JS = """
(selectors) => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(s => parseFloat(s)); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bgOf = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const out = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      const r = el.getBoundingClientRect(); if (!r.width || !r.height) continue;
      const st = getComputedStyle(el); if (st.visibility === 'hidden') continue;
      const fg = parse(st.color), bg = bgOf(el);
      const l1 = lum(fg), l2 = lum(bg);
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight) >= 700;
      const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
      out.push({sel, text: el.textContent.trim().slice(0, 20), ratio: Math.round(ratio * 100) / 100, need});
    }
  }
  return out;
}
"""

from tests.e2e.conftest import NO_OVERFLOW_JS


@pytest.fixture
def site(make_item, departments, regions, halls):
    """A small Zhanjiang catalog, built with the services."""
    Theme.objects.create(code="kaiban", name="开办企业", order=1)
    Theme.objects.create(code="budongchan", name="不动产登记", order=2)
    Theme.objects.create(code="huji", name="户籍办理", order=3)
    land = make_department("湛江市自然资源局", regions["city"])
    bureau = make_department("湛江市赤坎区行政审批局", regions["chikan"], Level.COUNTY, kind=Department.Kind.APPROVAL_BUREAU)
    station = Hall.objects.create(name="中国邮政湛江赤坎营业部", region=regions["chikan"], level=Level.COUNTY, kind=Hall.Kind.POST,
                                  address="湛江市赤坎区中山一路 1 号", hours="周一至周日 9:00-17:00")
    proof = Proof.objects.create(name="无犯罪记录证明", legal_basis="《中华人民共和国教师法》第十四条", requesting_unit="市教育局",
                                 issuing_unit="户籍所在地公安派出所", guide="本人持居民身份证到户籍所在地派出所申请，当场开具。")
    CancelledProof.objects.create(name="亲属关系证明", requesting_unit="市民政局", reason=CancelledProof.Reason.ONLINE_CHECK,
                                  alternative="通过户籍信息系统在线核验", cancelled_on=datetime.date(2019, 6, 1), document="湛府办〔2019〕12号")
    estate = services.save_item({
        **_base(land), "name": "不动产登记（首次登记）", "basic_code": "11440800MB2C91X", "code": ESTATE_CODE,
        "kind": "confirmation", "audience": "both", "online_level": 3, "nearby_levels": "city,county,town", "max_visits": 1,
        "statutory_days": 30, "promised_days": 5, "fees": "住宅每件 80 元；非住宅每件 550 元", "fee_fen": 8000,
        "legal_basis": "《不动产登记暂行条例》第十四条\n《不动产登记暂行条例实施细则》第二十四条",
        "conditions": "1. 申请人为不动产权利人；\n2. 不动产界址、空间界限、面积等权籍调查成果明确；\n3. 不动产权属来源材料齐全。",
        "route": "申请\n受理\n审核（含实地查看）\n登簿\n缮证发证",
        "result_name": "不动产权证书", "location": "湛江市政务服务中心一楼不动产登记综合窗口",
        "hours": "周一至周五 上午 8:30-12:00，下午 14:30-17:30（法定节假日除外）", "phone": "0759-3388123",
        "supervision_phone": "0759-3388100", "halls": [halls["city"].pk, halls["town"].pk], "themes": ["budongchan"],
        "materials": [
            {"name": "不动产登记申请书", "form": "form", "description": "可在窗口领取或网上下载"},
            {"name": "申请人身份证明", "form": "original", "satisfied_by": "sfz"},
            {"name": "不动产权属来源证明材料", "form": "copy", "copies": 2, "pending_allowed": True},
            {"name": "不动产界址、空间界限、面积等材料", "form": "original", "commitment_allowed": True},
            {"name": "相关税费缴纳凭证", "form": "electronic", "required": False},
        ],
    })
    mortgage = services.save_item({
        **_base(land), "name": "不动产抵押登记", "basic_code": "11440800MB2C92X", "code": "11440800MB2C92X-440800-001",
        "kind": "confirmation", "audience": "both", "statutory_days": 30, "promised_days": 3, "themes": ["budongchan"],
        "materials": [{"name": "不动产登记申请书", "form": "form"}, {"name": "主债权合同", "form": "original"}],
    })
    food = services.save_item({
        **_base(bureau), "name": "食品经营许可证核发", "basic_code": "11440800MB2C93X", "code": "11440800MB2C93X-440802-001",
        "origin_department": departments["market"], "audience": "legal_person", "online_level": 4, "max_visits": 0,
        "nearby_levels": "county", "themes": ["kaiban"], "halls": [station.pk],
        "materials": [{"name": "食品经营许可申请书", "form": "form"}, {"name": "营业执照", "satisfied_by": "yyzz"}],
    })
    hukou = services.save_item({
        **_base(departments["police"]), "name": "户口迁移登记", "basic_code": "11440800MB2C94X", "code": "11440800MB2C94X-440800-001",
        "kind": "public_service", "audience": "person", "online_level": 2, "is_immediate": True, "promised_days": 0,
        "statutory_days": 20, "nearby_levels": "city,county,town,village", "themes": ["huji"],
        "materials": [{"name": "居民户口簿"}, {"name": "无犯罪记录证明", "proof": proof.pk}],
    })
    services.save_item({**_base(departments["market"]), "name": "不动产草稿事项", "basic_code": "DRAFT1",
                        "code": "DRAFT1-440800-001", "status": "draft"})
    bundle = Bundle.objects.create(code="bdcdj", name="不动产登记“一件事”", target_days=5, audience="both",
                                   description="交易、缴税、登记一窗受理、并联办理，一套材料。")
    BundleItem.objects.create(bundle=bundle, item=hukou, order=1)
    BundleItem.objects.create(bundle=bundle, item=estate, order=2, parallel_group=1)
    BundleItem.objects.create(bundle=bundle, item=mortgage, order=3, parallel_group=1)
    Bundle.objects.create(code="kbqy", name="开办企业“一件事”", target_days=5, audience="legal_person",
                          description="营业执照、公章刻制、银行开户、发票申领一次申请。")
    return {"estate": estate, "mortgage": mortgage, "food": food, "hukou": hukou}


def _base(department) -> dict:
    return {
        "kind": "licensing", "legal_basis": "《中华人民共和国行政许可法》", "department": department,
        "conditions": "符合法定条件。", "route": "申请、受理、审查、决定、送达", "statutory_days": 20, "promised_days": 5,
        "audience": "person", "level": department.level, "online_level": 3, "nearby_levels": "city", "max_visits": 1,
        "status": "published",
    }


def _result_names(page) -> list[str]:
    return [t.strip() for t in page.locator(".item-list .item-name a").all_inner_texts()]


def _assert_contrast(page, selectors):
    rows = page.evaluate(CONTRAST_JS, selectors)
    assert rows, "no element matched the contrast selectors"
    bad = [r for r in rows if r["ratio"] < r["need"]]
    assert not bad, f"text below WCAG AA contrast: {bad}"


def _assert_no_horizontal_overflow(page, what):
    overflow = page.evaluate(NO_OVERFLOW_JS)
    assert overflow <= 0, f"{what}: page is {overflow}px wider than the screen"


def test_search_in_chinese_and_pinyin_then_open_the_guide(live_server, site, desktop, screenshots):
    page = desktop
    page.goto(live_server.url + "/")
    assert "政务服务事项目录" in page.title()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.get_by_role("heading", level=1).inner_text() == "政务服务事项目录"
    assert page.get_by_role("heading", name="主题服务").is_visible()
    assert "共 4 个事项" in page.locator(".result-count").inner_text()  # the draft is not shown
    page.screenshot(path=str(screenshots / "catalog-home-desktop.png"), full_page=True)

    # search in Chinese
    page.get_by_label("搜索事项").fill("不动产")
    page.get_by_label("搜索事项").press("Enter")
    page.wait_for_url(re.compile(r"q=%E4%B8%8D%E5%8A%A8%E4%BA%A7"))
    assert set(_result_names(page)) == {"不动产登记（首次登记）", "不动产抵押登记"}
    assert "共 2 个事项" in page.locator(".result-count").inner_text()
    page.screenshot(path=str(screenshots / "catalog-search-desktop.png"), full_page=True)

    # then in pinyin initials: 不动产登记 -> bdcdj
    page.get_by_label("搜索事项").fill("bdcdj")
    page.get_by_role("button", name="搜索", exact=True).click()
    page.wait_for_url(re.compile(r"q=bdcdj"))
    names = _result_names(page)
    assert names[0] == "不动产登记（首次登记）", names
    assert "不动产抵押登记" not in names

    # open the guide
    page.get_by_role("link", name="不动产登记（首次登记）").click()
    page.wait_for_url(f"**/items/{ESTATE_CODE}/")
    assert page.get_by_role("heading", level=1).inner_text() == "不动产登记（首次登记）"
    for heading in ("基本信息", "设定依据", "受理条件", "申请材料", "办理流程", "办理时限", "收费标准", "办理方式（四办）", "办理地点与咨询"):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
    body = page.locator("main").inner_text()
    for text in ("事项编码", ESTATE_CODE, "实施主体", "湛江市自然资源局", "法定 30 个工作日", "承诺 5 个工作日",
                 "免提交（电子证照）", "容缺后补", "可告知承诺", "0759-3388123", "0759-3388100", "不动产权证书",
                 "网上申办 (3)", "最多跑一次", "湛江市政务服务中心", "中华街道便民服务中心", "事项版本 v1"):
        assert text in body, text
    table = page.locator("table.materials-table")
    assert table.locator("tbody tr").count() == 5
    assert table.is_visible()
    assert page.get_by_role("button", name="打印本页").is_visible()  # the enhancement ran
    page.screenshot(path=str(screenshots / "guide-desktop.png"), full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=str(screenshots / "guide-print.png"), full_page=True)
    assert not page.locator(".site-header").is_visible() and not page.locator(".toc").is_visible()
    page.emulate_media(media="screen")
    _assert_contrast(page, [".guide-sub span", ".fields dt", ".badge", ".tag", ".version", ".key-facts dt", "caption",
                            ".breadcrumbs a", ".site-nav a", ".steps li", ".cell-note", ".site-footer p"])


def test_keyboard_reaches_the_search_box_with_a_visible_focus(live_server, site, desktop, screenshots):
    page = desktop
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = skip.bounding_box()
    assert box and box["y"] >= 0 and box["height"] > 10, "the skip link shows when focused"
    page.screenshot(path=str(screenshots / "focus-skip-link-desktop.png"))

    for _ in range(20):
        if page.evaluate("document.activeElement.id") == "q":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("Tab never reached the search box")
    style = page.evaluate("(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth, s.boxShadow]; })()")
    assert style[0] == "solid" and style[1] == "3px" and style[2] != "none", style
    page.screenshot(path=str(screenshots / "focus-search-desktop.png"))

    # type and submit with the keyboard only
    page.keyboard.type("户口")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q="))
    assert _result_names(page) == ["户口迁移登记"]

    # 四办 chips are reachable and toggled with the space bar
    page.goto(live_server.url + "/")
    page.locator("#f-immediate").focus()
    page.keyboard.press("Space")
    assert page.locator("#f-immediate").is_checked()
    label_outline = page.evaluate("getComputedStyle(document.querySelector('label[for=f-immediate]')).outlineStyle")
    assert label_outline == "solid", "a focused chip shows its focus ring on the label"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"immediate=1"))
    assert _result_names(page) == ["户口迁移登记"]

    # the skip link moves focus to the main content
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_phone_layout(live_server, site, phone, screenshots):
    page = phone
    page.goto(live_server.url + "/")
    _assert_no_horizontal_overflow(page, "home")
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK SC" in font and "PingFang SC" in font
    assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '政务服务')"), "a CJK font is available"
    assert page.get_by_label("搜索事项").is_visible()
    page.screenshot(path=str(screenshots / "catalog-home-phone.png"), full_page=True)
    _assert_contrast(page, [".hero h1", ".hero-lead", ".search-label", ".search-hint", "fieldset.chips legend",
                            ".chip-check label", ".result-count", ".item-meta span", ".badge", ".item-days", ".theme-link",
                            ".card p", ".btn-primary", ".summary-hint", ".brand-name"])

    page.get_by_label("搜索事项").fill("不动产")
    page.get_by_label("搜索事项").press("Enter")
    page.wait_for_url(re.compile(r"q="))
    assert len(_result_names(page)) == 2
    _assert_no_horizontal_overflow(page, "search results")
    page.screenshot(path=str(screenshots / "catalog-search-phone.png"), full_page=True)

    page.goto(f"{live_server.url}/items/{ESTATE_CODE}/")
    _assert_no_horizontal_overflow(page, "guide (with a 60-character implementation code)")
    assert page.get_by_role("heading", level=1).is_visible()
    page.screenshot(path=str(screenshots / "guide-phone.png"), full_page=True)

    for path, name in (("/proofs/", "proofs"), ("/proofs/cancelled/", "cancelled-proofs"), ("/bundles/bdcdj/", "bundle"),
                       ("/bundles/", "bundles"), ("/items/nope/", "not-found"), ("/console/login/", "login")):
        response = page.goto(live_server.url + path)
        _assert_no_horizontal_overflow(page, path)
        page.screenshot(path=str(screenshots / f"{name}-phone.png"), full_page=True)
        assert response.status == (404 if name == "not-found" else 200)


def test_works_without_javascript(live_server, site, no_js, screenshots):
    page = no_js
    page.goto(live_server.url + "/")
    page.get_by_label("网上办").check()  # a transparent checkbox lies over each chip's label
    page.get_by_label("法人办事").check()
    page.get_by_role("button", name="搜索", exact=True).click()
    page.wait_for_url(re.compile(r"online=1"))
    assert "audience=legal_person" in page.url
    # online_level >= 3 for enterprises ('both' counts): not 户口迁移登记 (person, online level 2)
    assert set(_result_names(page)) == {"不动产登记（首次登记）", "不动产抵押登记", "食品经营许可证核发"}
    assert page.locator(".active-filters").is_visible()

    # more filters live in a <details> outside the search form (form="catalog-search")
    page.goto(live_server.url + "/")
    page.locator(".more-filters summary").click()
    page.get_by_label("事项类型").select_option(label="公共服务")
    page.get_by_role("button", name="应用筛选").click()
    page.wait_for_url(re.compile(r"kind=public_service"))
    assert _result_names(page) == ["户口迁移登记"]
    assert page.locator(".more-filters").get_attribute("open") is not None

    response = page.goto(live_server.url + "/?level=bogus")
    assert response.status == 400
    assert "筛选条件 level 的取值“bogus”无效" in page.get_by_role("alert").inner_text()
    page.screenshot(path=str(screenshots / "invalid-filter-desktop.png"))

    page.goto(f"{live_server.url}/items/{ESTATE_CODE}/")
    assert not page.get_by_role("button", name="打印本页").is_visible()  # no JS: no print button
    page.goto(live_server.url + "/proofs/")
    assert page.get_by_role("cell", name="户籍所在地公安派出所").is_visible()
    page.screenshot(path=str(screenshots / "proofs-desktop.png"), full_page=True)


def test_staff_login_and_console_home(live_server, staff, desktop, screenshots):
    page = desktop
    page.goto(live_server.url + "/console/")
    page.wait_for_url("**/console/login/?next=/console/")
    assert page.title() == "工作人员登录 - 湛江市政务服务网"
    page.get_by_label("用户名").fill("market_admin")
    page.get_by_label("密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").is_visible()
    page.get_by_label("密码").fill("Bianmin!2026")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/console/")
    main = page.locator("main").inner_text()
    for text in ("market_admin", "湛江市市场监督管理局", "事项管理", "退出登录"):
        assert text in main, text
    assert page.get_by_role("link", name="事项管理").get_attribute("href") == "/console/catalog/"
    page.screenshot(path=str(screenshots / "console-home-desktop.png"), full_page=True)
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(live_server.url + "/")

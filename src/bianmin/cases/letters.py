"""The decision letter (决定书) of a decided case, as a PDF with reportlab's built-in CJK font.

准予行政许可决定书 / 不予行政许可决定书 for licensing items (《行政许可法》第三十八条: a denial gives
its reasons and tells the applicant of the right to administrative reconsideration or to sue),
办理结果通知书 for every other kind of item. Layout after GB/T 9704 (A4, title in 二号, body in 三号).
"""

from __future__ import annotations

import io
import re
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import HRFlowable, Paragraph, SimpleDocTemplate, Spacer

from bianmin.core import workdays
from bianmin.catalog.models import ItemKind
from bianmin.core.errors import Conflict

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

# Customary abbreviations in document numbers (发文字号), e.g. 湛市监许〔2026〕…号.
DEPARTMENT_ABBREVIATIONS = [
    ("市场监督管理", "市监"), ("公安", "公"), ("民政", "民"), ("自然资源", "自然资源"), ("住房和城乡建设", "住建"),
    ("人力资源和社会保障", "人社"), ("卫生健康", "卫健"), ("生态环境", "环"), ("交通运输", "交"), ("商务", "商务"),
    ("教育", "教"), ("文化广电旅游体育", "文广旅体"), ("农业农村", "农"), ("水务", "水"), ("税务", "税"),
    ("政务服务数据管理", "政数"), ("应急管理", "应急"), ("城市管理", "城管"), ("发展和改革", "发改"), ("司法", "司"),
    ("财政", "财"), ("林业", "林"), ("海洋", "海洋"), ("退役军人事务", "退役军人"), ("医疗保障", "医保"),
]
_SUFFIXES = ("委员会", "办公室", "管理局", "局", "委", "办", "中心", "厅")


def department_abbreviation(department) -> str:
    """湛江市市场监督管理局 -> 湛市监; 湛江市赤坎区民政局 -> 赤民."""
    region = department.region
    place = (region.name or "湛")[0]
    core = department.name
    for prefix in filter(None, [getattr(region.parent, "name", ""), region.name]):
        if core.startswith(prefix):
            core = core[len(prefix):]
    for long, short in DEPARTMENT_ABBREVIATIONS:
        if core.startswith(long):
            return place + short
    for suffix in _SUFFIXES:
        if core.endswith(suffix) and len(core) > len(suffix):
            core = core[: -len(suffix)]
            break
    return place + core[:2]


def document_number(case) -> str:
    """Department abbreviation + 许 (licensing) or 办 + 〔year〕 + the case number's date and sequence:
    unique, because case numbers are unique per region and day."""
    kind_char = "许" if case.item.kind == ItemKind.LICENSING else "办"
    _region, day, seq = (case.number or "--").split("-", 2)
    year = (case.decided_on or workdays.today()).year
    return f"{department_abbreviation(case.department)}{kind_char}〔{year}〕{day[4:]}{seq}号"


def letter_title(case) -> str:
    if case.item.kind == ItemKind.LICENSING:
        return "准予行政许可决定书" if case.approved else "不予行政许可决定书"
    return "办理结果通知书"


def reconsideration_body(department) -> str:
    """行政复议机关: since the 2023 revision of the Administrative Reconsideration Law, the people's
    government at the department's own level."""
    region = department.region
    parent = region.parent.name if region.parent_id and region.level != "city" else ""
    return f"{parent}{region.name}人民政府"


def _cn_date(d) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _local_date(dt):
    return timezone.localtime(dt).date() if dt else None


def letter_paragraphs(case) -> dict:
    """The letter's text, also used by tests and by anyone who wants it as text."""
    if case.approved is None:
        raise Conflict("该办件尚未作出决定，没有决定书", code="not_decided")
    item, dept, applicant = case.item, case.department, case.applicant
    you = "你单位" if applicant.kind == "legal_person" else "你"
    submitted = _local_date(case.submitted_at)
    accepted = case.accepted_on
    decided = case.decided_on or workdays.today()
    reasons = re.sub(r"\s+", " ", case.decision_text or "").strip().rstrip("。") or "—"
    basis = re.sub(r"\s+", " ", item.legal_basis or "").strip().rstrip("。") or "有关法律法规"
    intro = (f"{you}于{_cn_date(submitted)}提出的{item.name}申请（办件编号：{case.number}），"
             if submitted else f"{you}提出的{item.name}申请（办件编号：{case.number}），")
    intro += f"本机关于{_cn_date(accepted)}依法受理。" if accepted else "本机关已依法受理。"
    licensing = item.kind == ItemKind.LICENSING
    if case.approved:
        decision = (f"经审查，{you}的申请符合法定条件、标准。审查意见：{reasons}。根据{basis}的规定，"
                    + ("本机关决定准予行政许可。" if licensing else "本机关决定予以办理。"))
        if item.result_name:
            decision += f"办理结果为：{item.result_name}。"
        remedy = ""
    else:
        decision = (f"经审查，{you}的申请不符合法定条件、标准，理由如下：{reasons}。根据{basis}的规定，"
                    + ("本机关决定不予行政许可。" if licensing else "本机关决定不予办理。"))
        remedy = (f"{you}如不服本决定，可以自收到本决定书之日起六十日内向{reconsideration_body(dept)}申请行政复议，"
                  f"或者自收到本决定书之日起六个月内依法向人民法院提起行政诉讼。")
    return {
        "department": dept.name,
        "title": letter_title(case),
        "number": document_number(case),
        "addressee": f"{applicant.name}：",
        "body": [p for p in (intro, decision, remedy) if p],
        "signature": dept.name,
        "date": _cn_date(decided),
        "footer": f"办件编号 {case.number}。可在{dept.region.name}政务服务网“我的办件”中查询本决定。",
    }


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=15, leading=27, alignment=TA_JUSTIFY, wordWrap="CJK",
                          firstLineIndent=30)
    return {
        "department": ParagraphStyle("dept", parent=base, fontSize=20, leading=30, alignment=TA_CENTER, firstLineIndent=0,
                                     textColor="#c00000"),
        "title": ParagraphStyle("title", parent=base, fontSize=22, leading=34, alignment=TA_CENTER, firstLineIndent=0),
        "number": ParagraphStyle("number", parent=base, fontSize=14, alignment=TA_CENTER, firstLineIndent=0),
        "addressee": ParagraphStyle("addressee", parent=base, firstLineIndent=0),
        "body": base,
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT, firstLineIndent=0, rightIndent=20),
        "footer": ParagraphStyle("footer", parent=base, fontSize=9, leading=14, textColor="#555555", firstLineIndent=0,
                                 alignment=TA_CENTER),
    }


def decision_letter_pdf(case) -> bytes:
    """The decision letter of a decided case as PDF bytes (raises Conflict `not_decided` otherwise)."""
    text = letter_paragraphs(case)
    st = _styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, topMargin=30 * mm, bottomMargin=28 * mm, leftMargin=28 * mm, rightMargin=26 * mm,
                            title=text["title"], author=text["department"], subject=f"办件 {case.number}", creator="bianmin")
    p = lambda s, style: Paragraph(escape(s), st[style])  # noqa: E731
    story = [
        p(text["department"], "department"), Spacer(1, 4 * mm),
        p(text["title"], "title"), Spacer(1, 2 * mm),
        p(text["number"], "number"), Spacer(1, 2 * mm),
        HRFlowable(width="100%", thickness=1.2, color="#c00000", spaceBefore=2, spaceAfter=8 * mm),
        p(text["addressee"], "addressee"),
        *[p(para, "body") for para in text["body"]],
        Spacer(1, 14 * mm),
        p(text["signature"], "right"),
        p(text["date"], "right"),
        Spacer(1, 16 * mm),
        HRFlowable(width="100%", thickness=0.5, color="#999999", spaceAfter=2 * mm),
        p(text["footer"], "footer"),
    ]
    doc.build(story)
    return buf.getvalue()

"""A licence as a PDF (A4): its surface (照面信息), identifier, the seal's note and a QR code that opens
the public verification page.

The CJK font is the one cases/letters.py uses: reportlab's built-in STSong-Light CID font (nothing to
install; PDF readers supply the glyphs). It is registered here by the same two lines rather than by
importing cases.letters, because licences sit below cases (DESIGN.md: apps depend downward only);
registering a font twice under one name is harmless.
"""

from __future__ import annotations

import io
import math
from xml.sax.saxutils import escape

from django.conf import settings
from django.urls import reverse
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Circle, Drawing, Group, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import HRFlowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

from .models import Licence

FONT = "STSong-Light"  # as cases/letters.py
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
RED = colors.HexColor("#c00000")


def verification_url(licence: Licence, base_url: str | None = None) -> str:
    """The public verification page of this licence, absolute (what the QR code holds)."""
    base = (base_url or getattr(settings, "BIANMIN_PUBLIC_URL", "") or "http://127.0.0.1:8000").rstrip("/")
    return base + reverse("licences:verify_identifier", args=[licence.identifier])


def _cn_date(d) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else "长期"


def _qr(url: str, size: float) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    return drawing


def _seal_mark(name: str, size: float) -> Drawing:
    """A red round mark standing for the electronic seal, the issuer's name around its top as on a
    paper seal (the seal itself is the SM2 signature printed below)."""
    d = Drawing(size, size)
    c = size / 2
    d.add(Circle(c, c, c - 2, strokeColor=RED, strokeWidth=2.2, fillColor=None))
    d.add(String(c, c - 8, "★", fontName=FONT, fontSize=size / 3.2, fillColor=RED, textAnchor="middle"))
    name = name[-14:]
    n = len(name)
    font_size = min(10.0, 2 * math.pi * (c - 11) * (240 / 360) / max(n, 1) * 0.95)
    for i, ch in enumerate(name):
        angle = math.radians(210 - 240 * (i + 0.5) / n)  # from lower left, over the top, to lower right
        x, y = c + (c - 11) * math.cos(angle), c + (c - 11) * math.sin(angle)
        turn = angle - math.pi / 2  # each character upright towards the rim
        g = Group(String(0, -font_size / 3, ch, fontName=FONT, fontSize=font_size, fillColor=RED, textAnchor="middle"))
        g.transform = (math.cos(turn), math.sin(turn), -math.sin(turn), math.cos(turn), x, y)
        d.add(g)
    d.add(String(c, c - size / 3.4, "电子印章", fontName=FONT, fontSize=7, fillColor=RED, textAnchor="middle"))
    return d


def licence_rows(licence: Licence) -> list[tuple[str, str]]:
    """The fields printed on the licence, in order (also for tests and the console page)."""
    rows = [
        ("证照名称", licence.name),
        ("证照编号", licence.number),
        ("持证主体", licence.holder_name),
        (licence.get_holder_id_type_display() if licence.holder_id_type == "resident_id" else "统一社会信用代码",
         licence.holder_id_number),
    ]
    rows += [(k, v) for k, v in (licence.surface or {}).items() if k not in ("证照名称", "持证主体")]
    rows += [
        ("颁证单位", licence.issuer_name),
        ("颁证日期", _cn_date(licence.issued_on)),
        ("有效期限", f"{_cn_date(licence.valid_from)} 至 {_cn_date(licence.valid_until)}"),
    ]
    if licence.version > 1:
        rows.append(("版本", f"第 {licence.version} 版(换发)"))
    return rows


def licence_pdf(licence: Licence, base_url: str | None = None) -> bytes:
    body = ParagraphStyle("b", fontName=FONT, fontSize=12, leading=18, wordWrap="CJK")
    label = ParagraphStyle("l", parent=body, textColor=colors.HexColor("#444444"))
    title = ParagraphStyle("t", parent=body, fontSize=28, leading=40, alignment=TA_CENTER, textColor=RED)
    sub = ParagraphStyle("s", parent=body, fontSize=10, leading=14, alignment=TA_CENTER, textColor=colors.HexColor("#555555"))
    small = ParagraphStyle("sm", parent=body, fontSize=8.5, leading=12, textColor=colors.HexColor("#444444"))
    p = lambda text, style: Paragraph(escape(str(text)), style)  # noqa: E731

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, topMargin=24 * mm, bottomMargin=20 * mm, leftMargin=22 * mm, rightMargin=22 * mm,
                            title=f"{licence.name} {licence.number}", author=licence.issuer_name,
                            subject=licence.identifier, creator="bianmin")
    width = A4[0] - 44 * mm
    fields = Table([[p(k, label), p(v, body)] for k, v in licence_rows(licence)], colWidths=[40 * mm, width - 40 * mm])
    fields.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#b0b7c0")),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3f5f8")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    url = verification_url(licence, base_url)
    seal = licence.seal
    note = (f"本电子证照由{licence.issuer_name}以电子印章(SM2/SM3,第 {seal.version} 版密钥)签章,"
            f"与纸质证照具有同等效力。扫描右侧二维码或访问核验页面,输入证照标识,可核验其真实性、有效性和完整性。")
    foot = Table([
        [[p(note, small), Spacer(1, 3 * mm), p(f"核验地址:{url}", small)], _seal_mark(licence.issuer_name, 30 * mm),
         [_qr(url, 32 * mm), p("扫码核验", sub)]],
    ], colWidths=[width - 70 * mm, 34 * mm, 36 * mm])
    foot.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (1, 0), (-1, -1), "CENTER")]))
    story = [
        p(licence.name, title),
        p("中华人民共和国电子证照", sub),
        Spacer(1, 3 * mm),
        HRFlowable(width="100%", thickness=1.2, color=RED, spaceAfter=6 * mm),
        fields,
        Spacer(1, 8 * mm),
        foot,
        Spacer(1, 6 * mm),
        HRFlowable(width="100%", thickness=0.5, color=colors.HexColor("#999999"), spaceAfter=2 * mm),
        p(f"证照标识:{licence.identifier}", small),
        p(f"签名值(SM2):{licence.signature}", small),
    ]
    doc.build(story)
    return buf.getvalue()

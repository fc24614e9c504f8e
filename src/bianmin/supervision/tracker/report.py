"""The plan tracker's one-page report for the city government, as PDF (T31)."""

from __future__ import annotations

from .selectors import Summary, TaskStatus, percent

REPORT_TITLE = "湛江市深入推进审批服务便民化实施方案任务进展情况"


def report_pdf(s: Summary) -> bytes:
    """The report for the city government on A4, in Chinese (reportlab's CJK font, registered by cases.letters)."""
    import io
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from bianmin.cases.letters import FONT

    # Sized to keep the report on one A4 page even when most of the 30 tasks are late.
    body = ParagraphStyle("b", fontName=FONT, fontSize=9.5, leading=13, wordWrap="CJK")
    cell = ParagraphStyle("c", parent=body, fontSize=8, leading=10)
    head = ParagraphStyle("h", parent=body, fontSize=11.5, leading=16, spaceBefore=6, spaceAfter=3)
    title = ParagraphStyle("t", parent=body, fontSize=15, leading=22, alignment=TA_CENTER)
    sub = ParagraphStyle("s", parent=body, alignment=TA_CENTER, textColor="#444444")
    p = lambda text, style=cell: Paragraph(escape(str(text)), style)  # noqa: E731

    def table(rows, widths):
        t = Table([[p(c) for c in r] for r in rows], colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#888888")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9eef5")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ]))
        return t

    def why(x: TaskStatus) -> str:
        return f"{x.kpi.name}未达目标" if x.kpi is not None and x.kpi.met is False else "到期未完成"

    on = f"{s.on.year}年{s.on.month}月{s.on.day}日"
    story = [p(REPORT_TITLE, title), p(f"截至{on},共 {s.total} 项任务", sub), Spacer(1, 3 * mm),
             p("一、任务完成情况", head),
             table([["状态", *[label for _, label, _ in s.counts]], ["任务数", *[n for _, _, n in s.counts]]],
                   [30] + [30] * len(s.counts)),
             p(f"二、逾期任务({len(s.late)} 项)", head)]
    if s.late:
        story.append(table([["序号", "任务", "牵头单位", "完成时限", "进度", "逾期原因"]] + [
            [x.task.number, x.task.title, x.task.lead_units or "(未列明)", x.task.deadline_text,
             "—" if x.progress is None else f"{x.progress}%", why(x)] for x in s.late],
            [9, 54, 57, 24, 12, 24]))
    else:
        story.append(p("无逾期任务。", body))
    story.append(p("三、可由平台数据计算的目标", head))
    story.append(table([["序号", "任务", "指标", "目标值", "当前值", "是否达标"]] + [
        [x.task.number, x.task.title, x.kpi.name, percent(x.kpi.target), percent(x.kpi.value),
         {True: "达标", False: "未达标", None: "—"}[x.kpi.met]] for x in s.kpi_linked],
        [9, 55, 34, 22, 36, 24]))
    story.append(Spacer(1, 3 * mm))
    story.append(p("说明:指标由政务服务平台按当日数据计算,达标即视为完成;其余任务的进度以牵头单位(或督查人员)最近一次报送为准。", cell))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, topMargin=12 * mm, bottomMargin=12 * mm, leftMargin=15 * mm, rightMargin=15 * mm,
                            title=REPORT_TITLE, author="湛江市政务服务数据管理局", creator="bianmin")
    doc.build(story)
    return buf.getvalue()

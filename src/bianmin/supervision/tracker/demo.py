"""Demo part of the plan tracker: the plan's 30 tasks (real, from the plan) and a few progress reports
(illustrative, made up for the demo) so that the list shows every status.

The reports are written through `tracker.report_progress` by the demo staff of the reporting department,
once (only while no report exists), and only when that department has a demo staff member: the demo
accounts are created after the demo history, so a first start may load the tasks without reports and the
next start adds them.
"""

from __future__ import annotations

from bianmin.org.models import Staff

from . import services as tracker
from ..models import PlanTask, PlanTaskReport

# (task number, department name, progress, done, text) — illustrative.
DEMO_REPORTS = [
    (5, "湛江市政务服务数据管理局", 100, True, "各政务服务实施单位已在政务服务网录入并发布“四办”事项目录,实行动态管理。(演示数据)"),
    (6, "湛江市政务服务数据管理局", 100, True, "机构改革后事项重新梳理完毕,“十统一”标准化要素已全部录入事项目录。(演示数据)"),
    (14, "湛江市政务服务数据管理局", 100, True, "市直部门审批业务系统已分批接入统一申办受理平台。(演示数据)"),
    (15, "湛江市政务服务数据管理局", 100, True, "市政务信息系统已统一接入省数据共享交换平台。(演示数据)"),
    (16, "湛江市政务服务数据管理局", 80, False, "电子证照库已建成;统一的咨询投诉举报平台正在联调。(演示数据)"),
    (17, "湛江市市场监督管理局", 100, True, "企业开办实行“一表申请、一窗发放”,全流程压缩至5个工作日内。(演示数据)"),
    (27, "湛江市市场监督管理局", 60, False, "“一单两库一细则”已建立,跨部门联合抽查机制试行中。(演示数据)"),
    (20, "湛江市政务服务数据管理局", 70, False, "已推行容缺后补、首席服务官、快递送达;同城通办事项持续扩充。(演示数据)"),
]


def load() -> dict[str, int]:
    made = tracker.load_plan_tasks()
    reports = 0
    if not PlanTaskReport.objects.exists():
        tasks = {t.number: t for t in PlanTask.objects.all()}
        for number, dept_name, progress, done, text in DEMO_REPORTS:
            staff = (Staff.objects.filter(department__name=dept_name, user__is_active=True).select_related("user", "department")
                     .order_by("-role").first())
            if staff is None or number not in tasks:
                continue
            tracker.report_progress(tasks[number], staff, progress, text, done)
            reports += 1
    return {"改革任务": made["plan_tasks"], "任务进展": reports}

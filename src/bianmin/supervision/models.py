"""Efficiency supervision (效能监督): alerts on deadlines, 好差评 ratings, and the plan's task tracker.

KPIs are computed from the catalog and the cases (selectors); what must be precomputed for speed
lives here too and says how it is kept consistent.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from bianmin.cases.models import Applicant, Case
from bianmin.org.models import Department, Hall, Staff


class Alert(models.Model):
    """黄牌 at warning (<= 2 working days left), 红牌 at overdue: one of each per case at most,
    so the periodic job can run any number of times."""

    class Level(models.TextChoices):
        YELLOW = "yellow", "黄牌(预警)"
        RED = "red", "红牌(超期)"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="alerts", verbose_name="办件")
    level = models.CharField("级别", max_length=6, choices=Level.choices)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="alerts", verbose_name="责任部门")
    deadline = models.DateField("承诺期限")
    raised_on = models.DateField("发出日期")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField("解除时间", null=True, blank=True, help_text="办件办结或恢复正常时")

    class Meta:
        ordering = ["-id"]
        verbose_name = verbose_name_plural = "效能预警"
        constraints = [models.UniqueConstraint(fields=["case", "level"], name="alert_once_per_level")]
        indexes = [models.Index(fields=["department", "level", "resolved_at"], name="alert_dept_open")]


class Rating(models.Model):
    """好差评: one rating per finished case. 1–2 are 差评, assigned to the case's department,
    which answers and rectifies within a set number of working days, or appeals."""

    class Channel(models.TextChoices):
        ONLINE = "online", "网上评价"
        DEVICE = "device", "大厅评价器"
        SMS = "sms", "短信评价"

    class State(models.TextChoices):
        CLOSED = "closed", "无需整改"
        PENDING = "pending", "待整改"
        RECTIFIED = "rectified", "已整改"
        APPEALED = "appealed", "申诉中"
        APPEAL_UPHELD = "appeal_upheld", "申诉成立(不计入)"

    SCORES = [(5, "非常满意"), (4, "满意"), (3, "基本满意"), (2, "不满意"), (1, "非常不满意")]

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="rating", verbose_name="办件")
    applicant = models.ForeignKey(Applicant, on_delete=models.PROTECT, related_name="ratings", verbose_name="评价人")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="ratings", verbose_name="被评价部门")
    hall = models.ForeignKey(Hall, null=True, blank=True, on_delete=models.SET_NULL, related_name="ratings", verbose_name="大厅")
    score = models.PositiveSmallIntegerField("评价", choices=SCORES)
    indicators = models.JSONField("评价指标", default=list, blank=True)
    comment = models.CharField("评价内容", max_length=500, blank=True)
    channel = models.CharField("渠道", max_length=8, choices=Channel.choices, default=Channel.ONLINE)
    created_at = models.DateTimeField("评价时间", auto_now_add=True)
    state = models.CharField("整改状态", max_length=14, choices=State.choices, default=State.CLOSED)
    rectify_due = models.DateField("整改期限", null=True, blank=True)
    answer = models.TextField("整改答复", blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rectified_late = models.BooleanField("逾期整改", null=True, blank=True, help_text="答复日期晚于整改期限")
    appeal_reason = models.TextField("申诉理由", blank=True)
    appealed_at = models.DateTimeField("申诉时间", null=True, blank=True)
    appealed_on = models.DateField("申诉日期", null=True, blank=True, help_text="申诉期间整改期限顺延(按工作日)")
    appeal_decision = models.TextField("申诉处理意见", blank=True)
    appeal_decided_at = models.DateTimeField("申诉处理时间", null=True, blank=True)
    appeal_decided_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-id"]
        verbose_name = verbose_name_plural = "好差评"
        constraints = [models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="rating_score_1_5")]
        indexes = [models.Index(fields=["department", "state"], name="rating_dept_state")]

    @property
    def is_bad(self) -> bool:
        from .ratings.selectors import is_bad_score  # the 差评 rule lives with the ratings domain

        return is_bad_score(self.score)


class RatingDevice(models.Model):
    """A hall's rating device (评价器): authenticates with its own bearer token, of which only the
    SHA-256 is stored; it may only submit ratings, for the hall it stands in."""

    hall = models.ForeignKey(Hall, on_delete=models.CASCADE, related_name="rating_devices", verbose_name="大厅")
    name = models.CharField("名称", max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    revoked = models.BooleanField("已停用", default=False)

    class Meta:
        ordering = ["hall_id", "id"]
        verbose_name = verbose_name_plural = "大厅评价器"

    def __str__(self):
        return f"{self.hall.name} {self.name}"


class PlanTask(models.Model):
    """任务分解 (T31): one of the plan's tasks, with its lead and supporting units, deadline and target."""

    number = models.PositiveSmallIntegerField("序号", unique=True)
    section = models.CharField("所属部分", max_length=100, blank=True)
    title = models.CharField("任务", max_length=200)
    text = models.TextField("任务内容")
    units_text = models.TextField("责任单位(原文)", blank=True)
    lead_units = models.CharField("牵头单位", max_length=300, blank=True)
    supporting_units = models.CharField("配合单位", max_length=500, blank=True)
    deadline_text = models.CharField("完成时限(原文)", max_length=100, blank=True)
    deadline = models.DateField("完成时限", null=True, blank=True, help_text="长期推进的任务没有")
    milestones = models.JSONField("阶段目标", default=list, blank=True, help_text='[{"date": "2018-12-31", "text": "…"}]')
    target = models.CharField("目标", max_length=300, blank=True)
    kpi = models.CharField("关联指标", max_length=40, blank=True, help_text="目标可由平台数据计算时,指标代码")
    kpi_target = models.FloatField("指标目标值", null=True, blank=True)
    departments = models.ManyToManyField(Department, blank=True, related_name="plan_tasks", verbose_name="责任部门")
    # The lead units' reports set the task's progress (方案 三(四): 牵头单位要切实负起责任).
    lead_departments = models.ManyToManyField(Department, blank=True, related_name="led_plan_tasks", verbose_name="牵头部门")

    class Meta:
        ordering = ["number"]
        verbose_name = verbose_name_plural = "改革任务"

    def __str__(self):
        return f"{self.number}. {self.title}"


class PlanTaskReport(models.Model):
    """A unit's progress report on a plan task."""

    task = models.ForeignKey(PlanTask, on_delete=models.CASCADE, related_name="reports", verbose_name="任务")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+", verbose_name="报送单位")
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    progress = models.PositiveSmallIntegerField("完成进度(%)")
    done = models.BooleanField("已完成", default=False)
    text = models.TextField("进展情况")
    by_lead = models.BooleanField("牵头单位或督查报送", default=False, help_text="只有这类报送决定任务的进度和完成状态")
    created_at = models.DateTimeField("报送时间", auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = verbose_name_plural = "任务进展"
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="plan_report_progress_0_100"),
            models.CheckConstraint(condition=Q(done=False) | Q(progress=100), name="plan_report_done_is_100"),
        ]
        indexes = [models.Index(fields=["task", "by_lead", "-id"], name="plan_report_task_lead")]


# ------------------------------------------------------------------------------- KPI precompute (H3)

class CaseStat(models.Model):
    """Decided cases (办结件) counted per month × department × hall level × channel, so that the
    dashboard sums a few thousand rows instead of millions of cases. Written only by
    `kpis.services.refresh_stats`; a month's rows hold the days up to `StatRefresh.through`, and the days
    after it are counted live from the cases (see docs/supervision.md)."""

    month = models.DateField("月份", help_text="当月 1 日")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="+", verbose_name="实施主体")
    hall_level = models.CharField("受理大厅层级", max_length=10, blank=True, help_text="空:未在大厅受理(网上、移动端)")
    channel = models.CharField("申请渠道", max_length=10)
    decided = models.PositiveIntegerField("办结件数", default=0)
    same_day = models.PositiveIntegerField("当日办结", default=0)
    on_time = models.PositiveIntegerField("按时办结", default=0)
    one_visit = models.PositiveIntegerField("最多跑一次", default=0)
    workdays = models.BigIntegerField("受理至办结工作日合计", default=0)

    class Meta:
        ordering = ["month", "department_id"]
        verbose_name = verbose_name_plural = "办件统计(预计算)"
        constraints = [models.UniqueConstraint(fields=["month", "department", "hall_level", "channel"], name="case_stat_unique")]
        indexes = [models.Index(fields=["month", "department"], name="case_stat_month_dept")]


class StatRefresh(models.Model):
    """How far CaseStat is complete: every case decided on or before `through` is counted."""

    name = models.CharField(max_length=20, unique=True)
    through = models.DateField("统计截至")
    refreshed_at = models.DateTimeField("刷新时间")

    class Meta:
        verbose_name = verbose_name_plural = "统计刷新"

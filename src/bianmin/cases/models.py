"""Applications and cases (申请/办件): who applied for what, where it stands, and its whole history.

Every state change is one service call in `services.py` that writes a `CaseEvent` in the same
transaction. Deadlines are stored (for sorting and indexing) but computed only by `clock.py`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from bianmin.catalog.models import Material, ServiceItem
from bianmin.org.models import Department, Hall, Staff, Window


class Verification(models.TextChoices):
    """How an account proved it is the applicant of its record (issue 11)."""
    OIDC = "oidc", "统一身份认证"
    OIDC_LEGAL_REP = "oidc_legal_rep", "法定代表人统一身份认证"
    ACTIVATION = "activation", "激活码"
    WINDOW = "window", "窗口核验"
    DEMO = "demo", "演示账号"


class Applicant(models.Model):
    """A natural person (resident ID) or a legal person (unified social credit code)."""

    class Kind(models.TextChoices):
        PERSON = "person", "自然人"
        LEGAL_PERSON = "legal_person", "法人"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="applicant", verbose_name="账号")
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    name = models.CharField("姓名或名称", max_length=100)
    id_number = models.CharField("证件号码", max_length=18, unique=True, help_text="居民身份证号码或统一社会信用代码")
    phone = models.CharField("手机号码", max_length=20, blank=True)
    email = models.EmailField("电子邮箱", blank=True)
    address = models.CharField("联系地址", max_length=200, blank=True)
    legal_representative = models.CharField("法定代表人", max_length=40, blank=True)
    legal_representative_id_number = models.CharField(
        "法定代表人身份证号码", max_length=18, blank=True,
        help_text="统一身份认证核验为此身份证号码的本人,可认领本单位账号")
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    # How the link between this record and its account was proven (issue 11). Empty: the account
    # typed name and number itself (自行注册, 未实名核验); it sees only what it submitted itself.
    verified_by = models.CharField("实名核验方式", max_length=20, choices=Verification.choices, blank=True)
    verified_at = models.DateTimeField("实名核验时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "申请人"

    def __str__(self):
        return self.name

    @property
    def is_verified(self) -> bool:
        """The account linked to this record has proven it is this person or enterprise
        (cases.identity owns how; licences.selectors and cases.selectors read it)."""
        return self.user_id is not None and self.verified_at is not None


class ActivationCode(models.Model):
    """A one-time code that lets an account claim an existing applicant record (激活码), or reset
    its password. Delivered out of band only: printed on the window receipt or sent by SMS to the
    phone already on file. Stored as an HMAC, never in clear (cases.identity)."""

    class Channel(models.TextChoices):
        RECEIPT = "receipt", "窗口回执"
        SMS = "sms", "短信"

    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="activation_codes")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    code_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    tries = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "激活码"
        indexes = [models.Index(fields=["applicant", "-id"], name="activation_applicant_recent")]


class CaseStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "待受理"
    SUPPLEMENT = "supplement", "待补正"
    IN_REVIEW = "in_review", "审查中"
    SUSPENDED = "suspended", "特别程序"
    DECIDED = "decided", "已办结"
    DELIVERED = "delivered", "已送达"
    REJECTED = "rejected", "不予受理"
    WITHDRAWN = "withdrawn", "已撤回"


OPEN_STATUSES = (CaseStatus.SUBMITTED, CaseStatus.SUPPLEMENT, CaseStatus.IN_REVIEW, CaseStatus.SUSPENDED)
CLOCK_RUNNING = (CaseStatus.IN_REVIEW,)


class Channel(models.TextChoices):
    ONLINE = "online", "网上申请"
    WINDOW = "window", "窗口申请"
    KIOSK = "kiosk", "自助终端"
    MOBILE = "mobile", "移动端"


class Case(models.Model):
    number = models.CharField("办件编号", max_length=32, unique=True, null=True, blank=True)
    item = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="cases", verbose_name="事项")
    item_version = models.PositiveIntegerField("事项版本")
    # Indexed by the composite indexes below (department first, applicant first): one index fewer
    # to write per submission each.
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="cases", verbose_name="实施主体",
                                   db_index=False)
    applicant = models.ForeignKey(Applicant, on_delete=models.PROTECT, related_name="cases", verbose_name="申请人",
                                  db_index=False)
    channel = models.CharField("申请渠道", max_length=10, choices=Channel.choices, default=Channel.ONLINE)
    hall = models.ForeignKey(Hall, null=True, blank=True, on_delete=models.PROTECT, related_name="cases", verbose_name="受理大厅")
    window = models.ForeignKey(Window, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases", verbose_name="受理窗口")
    status = models.CharField("状态", max_length=12, choices=CaseStatus.choices, default=CaseStatus.DRAFT)  # (status, deadline) index
    form_data = models.JSONField("申请表内容", default=dict, blank=True)
    commitment = models.BooleanField("告知承诺", default=False)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)

    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    accepted_at = models.DateTimeField("受理时间", null=True, blank=True)
    accepted_on = models.DateField("受理日期", null=True, blank=True, help_text="时限从次日起按工作日计算")
    decided_at = models.DateTimeField("办结时间", null=True, blank=True)
    decided_on = models.DateField("办结日期", null=True, blank=True)
    closed_at = models.DateTimeField("结束时间", null=True, blank=True)

    # the clock (clock.py is the only writer and reader of meaning)
    extension_days = models.PositiveSmallIntegerField("延长工作日", default=0)
    stopped_days = models.PositiveSmallIntegerField("已暂停工作日", default=0, help_text="已结束的补正、特别程序所占工作日")
    stopped_on = models.DateField("暂停日期", null=True, blank=True, help_text="当前暂停开始的日期")
    resume_status = models.CharField(max_length=12, blank=True)
    promised_deadline = models.DateField("承诺期限", null=True, blank=True)
    statutory_deadline = models.DateField("法定期限", null=True, blank=True)
    supplement_requests = models.PositiveSmallIntegerField("补正告知次数", default=0)

    approved = models.BooleanField("准予", null=True, blank=True)
    decision_text = models.TextField("决定理由", blank=True)
    rejection_reason = models.TextField("不予受理理由", blank=True)
    visit_count = models.PositiveSmallIntegerField("跑动次数", default=0)

    class Meta:
        ordering = ["-id"]
        verbose_name = verbose_name_plural = "办件"
        constraints = [
            models.UniqueConstraint(fields=["applicant", "idempotency_key"], condition=Q(idempotency_key__isnull=False),
                                    name="case_unique_idempotency_key"),
        ]
        indexes = [
            models.Index(fields=["applicant", "-id"], name="case_applicant_recent"),
            models.Index(fields=["department", "status", "promised_deadline"], name="case_dept_status_deadline"),
            models.Index(fields=["status", "promised_deadline"], name="case_status_deadline"),
        ]

    def __str__(self):
        return self.number or f"草稿 {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def visits_exceeded(self) -> bool:
        """最多跑一次: red flag when the applicant had to come more often than the item promises."""
        from bianmin.catalog.selectors import visits_exceeded

        return visits_exceeded(self.visit_count, self.item.max_visits)


class CaseMaterial(models.Model):
    class State(models.TextChoices):
        PROVIDED = "provided", "已提交"
        PENDING = "pending", "容缺后补"
        COMMITMENT = "commitment", "告知承诺"
        MISSING = "missing", "待补正"
        FROM_LICENCE = "from_licence", "电子证照免提交"
        NOT_NEEDED = "not_needed", "非必要未提交"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="materials", verbose_name="办件")
    material = models.ForeignKey(Material, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField("材料名称", max_length=200)
    state = models.CharField("状态", max_length=14, choices=State.choices, default=State.MISSING)
    note = models.CharField("说明", max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["case_id", "order", "id"]
        verbose_name = verbose_name_plural = "办件材料"


class UploadedFile(models.Model):
    """A file an applicant or clerk uploaded. Stored outside the web root under a random name;
    served only through a view that checks who asks."""

    owner = models.ForeignKey(Applicant, on_delete=models.PROTECT, related_name="files", verbose_name="所属申请人")
    case_material = models.ForeignKey(CaseMaterial, null=True, blank=True, on_delete=models.SET_NULL, related_name="files")
    original_name = models.CharField("原文件名", max_length=200)
    content_type = models.CharField("类型", max_length=60)
    size = models.PositiveIntegerField("大小")
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=200, unique=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "上传文件"


class ReviewTask(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "办理中"
        DONE = "done", "已完成"
        RETURNED = "returned", "已退回"
        CANCELLED = "cancelled", "已取消"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="tasks", verbose_name="办件")
    stage = models.PositiveSmallIntegerField("环节序号")
    name = models.CharField("环节", max_length=60)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="tasks", verbose_name="办理部门")
    role = models.CharField("角色", max_length=10)
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.ACTIVE, db_index=True)
    assignee = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks", verbose_name="办理人")
    # The case's promised deadline, copied so that a department's task list is one index scan
    # (services keep it in step whenever the clock changes).
    due = models.DateField("办理期限", null=True, blank=True)
    opinion = models.TextField("意见", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case_id", "stage", "id"]
        verbose_name = verbose_name_plural = "审查任务"
        indexes = [models.Index(fields=["department", "role", "state", "due", "case"], name="task_list")]


class StopKind(models.TextChoices):
    SUPPLEMENT = "supplement", "补正"
    HEARING = "hearing", "听证"
    SITE_INSPECTION = "site_inspection", "现场勘验"
    TESTING = "testing", "检验检测"
    EXPERT_REVIEW = "expert_review", "专家评审"


class ClockStop(models.Model):
    """A period the clock does not run: 补正 or a 特别程序 with its reason and planned length."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="stops")
    kind = models.CharField("类型", max_length=20, choices=StopKind.choices)
    reason = models.CharField("原因", max_length=300)
    planned_days = models.PositiveSmallIntegerField("计划工作日", null=True, blank=True)
    started_on = models.DateField("开始日期")
    ended_on = models.DateField("结束日期", null=True, blank=True)
    workdays = models.PositiveSmallIntegerField("占用工作日", default=0)

    class Meta:
        ordering = ["case_id", "id"]
        verbose_name = verbose_name_plural = "暂停计时"


class CaseEvent(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", verbose_name="办件")
    at = models.DateTimeField("时间", db_index=True)
    kind = models.CharField("事件", max_length=30)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField("操作人", max_length=100, blank=True)
    message = models.CharField("说明", max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["case_id", "at", "id"]
        verbose_name = verbose_name_plural = "办件事件"


class Visit(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="visits")
    hall = models.ForeignKey(Hall, on_delete=models.PROTECT, related_name="+", verbose_name="大厅")
    purpose = models.CharField("事由", max_length=200)
    at = models.DateTimeField("时间")
    recorded_by = models.ForeignKey(Staff, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["case_id", "at"]
        verbose_name = verbose_name_plural = "跑动记录"


class Delivery(models.Model):
    class Method(models.TextChoices):
        WINDOW = "window", "窗口领取"
        EXPRESS = "express", "邮寄送达"
        ELECTRONIC = "electronic", "电子送达"

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="delivery")
    method = models.CharField("方式", max_length=12, choices=Method.choices)
    address = models.CharField("邮寄地址", max_length=200, blank=True)
    tracking_number = models.CharField("快递单号", max_length=40, blank=True)
    hall = models.ForeignKey(Hall, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    delivered_at = models.DateTimeField("送达时间")
    delivered_by = models.ForeignKey(Staff, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = verbose_name_plural = "送达"


class SupervisionHandover(models.Model):
    """谁审批谁监管 (T12): an approval result pushed to the supervising department, claimed, fed back."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="handover")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="handovers", verbose_name="监管部门")
    pushed_at = models.DateTimeField("推送时间")
    claimed_at = models.DateTimeField("认领时间", null=True, blank=True)
    claimed_by = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    feedback = models.TextField("反馈", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "审管互动"
        indexes = [models.Index(fields=["department", "claimed_at"], name="handover_dept_claimed")]


class Message(models.Model):
    """The applicant's in-site inbox (站内消息)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=30)
    title = models.CharField("标题", max_length=100)
    body = models.TextField("内容")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = verbose_name_plural = "站内消息"
        indexes = [models.Index(fields=["recipient", "-created_at"], name="message_recipient_recent")]


class OutboxMessage(models.Model):
    """SMS and e-mail waiting to be sent (by a Celery task when a broker is set, inline otherwise)."""

    class Channel(models.TextChoices):
        SMS = "sms", "短信"
        EMAIL = "email", "电子邮件"

    class State(models.TextChoices):
        PENDING = "pending", "待发送"
        SENT = "sent", "已发送"
        FAILED = "failed", "发送失败"

    channel = models.CharField(max_length=10, choices=Channel.choices)
    to = models.CharField(max_length=200)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = verbose_name_plural = "待发消息"

from django.conf import settings
from django.db import models
from django.db.models import Q

from bianmin.org.models import Department, Hall, Level, Region


class ItemKind(models.TextChoices):
    LICENSING = "licensing", "行政许可"
    BENEFIT = "benefit", "行政给付"
    CONFIRMATION = "confirmation", "行政确认"
    AWARD = "award", "行政奖励"
    ADJUDICATION = "adjudication", "行政裁决"
    PUBLIC_SERVICE = "public_service", "公共服务"


class Audience(models.TextChoices):
    PERSON = "person", "自然人"
    LEGAL_PERSON = "legal_person", "法人"
    BOTH = "both", "自然人、法人"


class OnlineLevel(models.IntegerChoices):
    NONE = 0, "不可网办"
    INFORMATION = 1, "网上咨询"
    DOWNLOAD = 2, "表格下载"
    APPLY = 3, "网上申办"
    FULL = 4, "全程网办"


class Theme(models.Model):
    """A life event or business theme the portal groups items by (主题服务)."""

    code = models.SlugField("代码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=40)
    audience = models.CharField("服务对象", max_length=20, choices=Audience.choices, default=Audience.BOTH)
    order = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = verbose_name_plural = "主题"

    def __str__(self):
        return self.name


class Proof(models.Model):
    """A retained proof (保留证明事项, T9): the only proofs an item may ask for."""

    name = models.CharField("证明名称", max_length=120)
    legal_basis = models.TextField("设定依据")
    requesting_unit = models.CharField("索要单位", max_length=200)
    issuing_unit = models.CharField("开具单位", max_length=200)
    guide = models.TextField("办理指南", blank=True)
    is_retained = models.BooleanField("保留", default=True)

    class Meta:
        ordering = ["id"]
        verbose_name = verbose_name_plural = "保留证明事项"

    def __str__(self):
        return self.name


class CancelledProof(models.Model):
    """A proof cancelled under T8, with the plan's six reasons."""

    class Reason(models.TextChoices):
        NO_LEGAL_BASIS = "no_legal_basis", "无法律法规依据"
        EXISTING_LICENCE = "existing_licence", "能通过个人现有证照证明"
        COMMITMENT = "commitment", "能采取申请人承诺方式解决"
        OTHER_MATERIAL = "other_material", "能被其他材料涵盖或替代"
        ONLINE_CHECK = "online_check", "能通过网络核验"
        UNVERIFIABLE = "unverifiable", "开具单位无法调查核实"

    name = models.CharField("证明名称", max_length=120)
    requesting_unit = models.CharField("原索要单位", max_length=200)
    reason = models.CharField("取消理由", max_length=20, choices=Reason.choices)
    alternative = models.CharField("替代方式", max_length=200, blank=True)
    cancelled_on = models.DateField("取消日期")
    document = models.CharField("取消依据文件", max_length=200, blank=True)

    class Meta:
        ordering = ["-cancelled_on", "id"]
        verbose_name = verbose_name_plural = "已取消证明事项"

    def __str__(self):
        return self.name


class ServiceItem(models.Model):
    """One 政务服务事项 as implemented by one department at one level, with its ten unified elements."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        PUBLISHED = "published", "已发布"
        WITHDRAWN = "withdrawn", "已撤回"

    # 十统一
    name = models.CharField("事项名称", max_length=200)
    basic_code = models.CharField("基本编码", max_length=40, db_index=True)
    code = models.CharField("实施编码", max_length=80, unique=True)
    kind = models.CharField("事项类型", max_length=20, choices=ItemKind.choices, db_index=True)
    legal_basis = models.TextField("设定依据")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="items", verbose_name="实施主体")
    conditions = models.TextField("受理条件")
    route = models.TextField("办理流程")
    statutory_days = models.PositiveSmallIntegerField("法定办结时限(工作日)")
    promised_days = models.PositiveSmallIntegerField("承诺办结时限(工作日)")
    fees = models.CharField("收费标准", max_length=300, default="不收费")
    fee_fen = models.PositiveIntegerField("收费金额(分)", default=0)

    # where, who for, and the 四办 flags
    origin_department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="transferred_items",
        verbose_name="原业务主管部门", help_text="由行政审批局集中办理时,原来实施该事项的部门",
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="items", verbose_name="实施区划")
    level = models.CharField("层级", max_length=10, choices=Level.choices, db_index=True)
    audience = models.CharField("服务对象", max_length=20, choices=Audience.choices, db_index=True)
    is_immediate = models.BooleanField("即办件", default=False, db_index=True)
    online_level = models.PositiveSmallIntegerField("网办深度", choices=OnlineLevel.choices, default=OnlineLevel.APPLY, db_index=True)
    nearby_levels = models.CharField(
        "就近可办层级", max_length=40, blank=True,
        help_text="可申办的大厅层级,逗号分隔:city,county,town,village",
    )
    max_visits = models.PositiveSmallIntegerField("到现场次数", default=1, db_index=True)
    halls = models.ManyToManyField(Hall, blank=True, related_name="items", verbose_name="可申办大厅")
    themes = models.ManyToManyField(Theme, blank=True, related_name="items", verbose_name="主题")
    proofs = models.ManyToManyField(Proof, blank=True, related_name="items", verbose_name="所需证明")

    # the rest of the guide page
    result_name = models.CharField("办理结果", max_length=200, blank=True)
    result_licence_type = models.CharField("结果证照类型代码", max_length=40, blank=True)
    location = models.CharField("办理地点", max_length=300, blank=True)
    hours = models.CharField("办理时间", max_length=200, blank=True)
    phone = models.CharField("咨询电话", max_length=40, blank=True)
    supervision_phone = models.CharField("监督电话", max_length=40, blank=True)

    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    version = models.PositiveIntegerField("版本", default=1)
    published_at = models.DateTimeField("发布时间", null=True, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    # The search index (FTS5 table on SQLite, tsvector column on PostgreSQL) lives outside the model:
    # see catalog.search and migration 0002.

    class Meta:
        ordering = ["id"]
        verbose_name = verbose_name_plural = "政务服务事项"
        constraints = [
            models.CheckConstraint(condition=Q(promised_days__lte=models.F("statutory_days")), name="item_promised_within_statutory"),
            models.CheckConstraint(condition=Q(online_level__lte=4), name="item_online_level_range"),
            models.CheckConstraint(condition=Q(is_immediate=False) | Q(promised_days=0), name="item_immediate_has_no_wait"),
        ]
        indexes = [models.Index(fields=["status", "department"]), models.Index(fields=["status", "level", "kind"])]

    def __str__(self):
        return self.name

    @property
    def nearby_level_list(self) -> list[str]:
        return [x for x in self.nearby_levels.split(",") if x]

    # The 四办 conditions are defined once, in catalog.selectors (T1–T4); these properties let
    # templates ask an item without restating them.
    @property
    def is_online(self) -> bool:
        from .selectors import online

        return online(self.online_level)

    @property
    def is_one_visit(self) -> bool:
        from .selectors import one_visit

        return one_visit(self.max_visits)

    @property
    def is_nearby(self) -> bool:
        from .selectors import nearby

        return nearby(self.nearby_levels)


class Material(models.Model):
    class Form(models.TextChoices):
        ORIGINAL = "original", "原件"
        COPY = "copy", "复印件"
        ELECTRONIC = "electronic", "电子材料"
        FORM = "form", "申请表"

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="materials", verbose_name="事项")
    name = models.CharField("材料名称", max_length=200)
    description = models.CharField("说明", max_length=500, blank=True)
    form = models.CharField("材料形式", max_length=12, choices=Form.choices, default=Form.ORIGINAL)
    copies = models.PositiveSmallIntegerField("份数", default=1)
    required = models.BooleanField("必要", default=True)
    pending_allowed = models.BooleanField("可容缺后补", default=False)
    commitment_allowed = models.BooleanField("可告知承诺", default=False)
    satisfied_by = models.CharField("可由电子证照替代(证照类型代码)", max_length=40, blank=True)
    proof = models.ForeignKey(Proof, null=True, blank=True, on_delete=models.PROTECT, related_name="materials", verbose_name="对应证明事项")
    order = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        ordering = ["item_id", "order", "id"]
        verbose_name = verbose_name_plural = "申请材料"
        constraints = [
            models.CheckConstraint(condition=Q(pending_allowed=False) | Q(required=True), name="material_pending_only_if_required"),
        ]

    def __str__(self):
        return self.name


class Bundle(models.Model):
    """一件事: several items applied for as one (开办企业, 不动产登记, 工程建设项目)."""

    code = models.SlugField("代码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=60)
    description = models.TextField("说明", blank=True)
    audience = models.CharField("服务对象", max_length=20, choices=Audience.choices, default=Audience.BOTH)
    target_days = models.PositiveSmallIntegerField("承诺总时限(工作日)", null=True, blank=True)
    items = models.ManyToManyField(ServiceItem, through="BundleItem", related_name="bundles", verbose_name="事项")

    class Meta:
        ordering = ["id"]
        verbose_name = verbose_name_plural = "一件事"

    def __str__(self):
        return self.name


class BundleItem(models.Model):
    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE)
    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE)
    order = models.PositiveSmallIntegerField(default=0)
    parallel_group = models.PositiveSmallIntegerField("并联组", default=0, help_text="同组事项并联办理")

    class Meta:
        ordering = ["bundle_id", "order"]
        constraints = [models.UniqueConstraint(fields=["bundle", "item"], name="bundle_item_unique")]


class ItemVersion(models.Model):
    """Every change of an item (T6): who, when, what, and the full record after the change."""

    class Action(models.TextChoices):
        CREATE = "create", "新建"
        UPDATE = "update", "修改"
        PUBLISH = "publish", "发布"
        WITHDRAW = "withdraw", "撤回"
        IMPORT = "import", "导入"

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="versions", verbose_name="事项")
    version = models.PositiveIntegerField("版本")
    action = models.CharField("操作", max_length=10, choices=Action.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="操作人")
    changed_at = models.DateTimeField("时间", auto_now_add=True)
    reason = models.CharField("变更原因", max_length=300, blank=True)
    diff = models.JSONField("变更内容", default=list)
    snapshot = models.JSONField("变更后内容", default=dict)

    class Meta:
        ordering = ["item_id", "-version", "-id"]
        verbose_name = verbose_name_plural = "事项版本"
        constraints = [models.UniqueConstraint(fields=["item", "version"], name="item_version_unique")]


class RouteStep(models.Model):
    """A step of an item's review route (办理流程). Steps of the same stage run in parallel
    (会签/并联审批); the case moves on when every task of a stage is done. The last stage is the
    decision (role approver). An item without steps follows 审查 → 决定 in its own department."""

    class StepRole(models.TextChoices):
        REVIEWER = "reviewer", "审查"
        APPROVER = "approver", "决定"

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="route_steps", verbose_name="事项")
    stage = models.PositiveSmallIntegerField("环节序号")
    name = models.CharField("环节名称", max_length=60)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="办理部门", help_text="为空时由事项的实施主体办理")
    role = models.CharField("办理角色", max_length=10, choices=StepRole.choices, default=StepRole.REVIEWER)

    class Meta:
        ordering = ["item_id", "stage", "id"]
        verbose_name = verbose_name_plural = "办理环节"

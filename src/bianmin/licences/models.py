"""The e-licence repository (电子证照库): licence types, department seals (SM2) and licences.

A licence's metadata follows GB/T 36903 as far as it applies; its identifier is the GB/T 36904
form `1.2.156.3005.2.<type code>.<issuer USCC>.<serial>.<version>.<check character>`.
Licences sit below the catalog and cases (DESIGN.md): they name holders and cases by number,
not by foreign key, so that the repository can also hold licences issued before the platform.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from bianmin.org.models import Department


class HolderIdType(models.TextChoices):
    """证照持有人身份标识类型 (the subset the platform identifies holders by)."""

    RESIDENT_ID = "resident_id", "居民身份证"
    USCC = "uscc", "统一社会信用代码"


class LicenceType(models.Model):
    """A kind of licence: 营业执照, 结婚证 … `code` is the catalog's key (ServiceItem.result_licence_type,
    Material.satisfied_by); `type_code` is the national 证照类型代码 used in identifiers."""

    class HolderKind(models.TextChoices):
        PERSON = "person", "自然人"
        LEGAL_PERSON = "legal_person", "法人"
        ANY = "any", "自然人或法人"

    code = models.CharField("证照类型简码", max_length=40, unique=True)
    name = models.CharField("证照名称", max_length=100)
    type_code = models.CharField("证照类型代码", max_length=40, unique=True,
                                 help_text="GB/T 36904 标识中的证照类型代码,仅含字母和数字")
    holder_kind = models.CharField("持证主体", max_length=12, choices=HolderKind.choices, default=HolderKind.ANY)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="licence_types", verbose_name="主管部门")
    validity_years = models.PositiveSmallIntegerField("有效期(年)", null=True, blank=True, help_text="空表示长期有效")
    renewal_item_code = models.CharField("换证/延续事项编码", max_length=80, blank=True)
    renewal_hint = models.CharField("换证提示", max_length=300, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = verbose_name_plural = "证照类型"

    def __str__(self):
        return self.name


class Seal(models.Model):
    """电子印章: a department's SM2 key pair. The private key is stored only encrypted under
    BIANMIN_SEAL_KEY; a rotated (retired) seal still verifies the licences it signed."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="seals", verbose_name="部门")
    version = models.PositiveSmallIntegerField("密钥版本")
    public_key = models.CharField("公钥", max_length=130)
    private_key_encrypted = models.BinaryField("加密私钥")
    created_at = models.DateTimeField("启用时间", auto_now_add=True)
    retired_at = models.DateTimeField("停用时间", null=True, blank=True)

    class Meta:
        ordering = ["department_id", "-version"]
        verbose_name = verbose_name_plural = "电子印章"
        constraints = [
            models.UniqueConstraint(fields=["department", "version"], name="seal_unique_version"),
            models.UniqueConstraint(fields=["department"], condition=Q(retired_at__isnull=True), name="seal_one_active"),
        ]

    def __str__(self):
        return f"{self.department} 印章 v{self.version}"


class LicenceStatus(models.TextChoices):
    VALID = "valid", "有效"
    EXPIRED = "expired", "已过期"
    REVOKED = "revoked", "已注销"
    SUPERSEDED = "superseded", "已换发"


class Licence(models.Model):
    identifier = models.CharField("证照标识", max_length=200, unique=True)
    licence_type = models.ForeignKey(LicenceType, on_delete=models.PROTECT, related_name="licences", verbose_name="证照类型")
    name = models.CharField("证照名称", max_length=100)
    number = models.CharField("证照编号", max_length=60)
    version = models.PositiveSmallIntegerField("版本号", default=1)
    holder_name = models.CharField("持证主体", max_length=100)
    holder_id_type = models.CharField("持证主体代码类型", max_length=12, choices=HolderIdType.choices)
    holder_id_number = models.CharField("持证主体代码", max_length=18)
    issuer = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="licences_issued", verbose_name="颁发机构")
    issuer_name = models.CharField("颁发机构名称", max_length=100)
    issuer_code = models.CharField("颁发机构代码", max_length=18)
    issued_on = models.DateField("颁证日期")
    valid_from = models.DateField("有效期起始")
    valid_until = models.DateField("有效期截止", null=True, blank=True, help_text="空表示长期有效")
    region_code = models.CharField("行政区划代码", max_length=12)
    status = models.CharField("状态", max_length=12, choices=LicenceStatus.choices, default=LicenceStatus.VALID)
    surface = models.JSONField("照面信息", default=dict, blank=True)
    case_number = models.CharField("来源办件编号", max_length=32, blank=True, db_index=True)
    supersedes = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="superseded_by", verbose_name="换发自")
    seal = models.ForeignKey(Seal, on_delete=models.PROTECT, related_name="licences", verbose_name="签章印章")
    signature = models.CharField("签名", max_length=160)
    # the status signed apart (services.status_bytes), by the issuer's seal in use when it was set
    status_seal = models.ForeignKey(Seal, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                    verbose_name="状态签章印章")
    status_signature = models.CharField("状态签名", max_length=160, blank=True, default="")
    revoked_at = models.DateTimeField("注销时间", null=True, blank=True)
    revoke_reason = models.CharField("注销原因", max_length=300, blank=True)
    imported = models.BooleanField("存量导入", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = verbose_name_plural = "电子证照"
        constraints = [
            models.UniqueConstraint(fields=["licence_type", "number", "version"], name="licence_unique_number_version"),
            models.CheckConstraint(condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                                   name="licence_valid_range"),
        ]
        indexes = [
            models.Index(fields=["holder_id_number", "licence_type", "status"], name="licence_holder"),
            models.Index(fields=["status", "valid_until"], name="licence_expiry"),
            # the console's list: a department's licences, newest first
            models.Index(fields=["issuer", "-id"], name="licence_issuer_recent"),
            # the console's search: by number, and by the beginning of the holder's name (LIKE 'q%' on PostgreSQL)
            models.Index(fields=["number"], name="licence_number"),
            models.Index(fields=["holder_name"], name="licence_holder_name", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self):
        return f"{self.name} {self.number}"


class LicenceUse(models.Model):
    """用证记录: every time a department (or an outside system) reads someone's licence. The
    holder sees these on their page."""

    class Via(models.TextChoices):
        CASE = "case", "办件免提交"
        CONSOLE = "console", "工作人员查验"
        EXCHANGE = "exchange", "数据共享接口"
        SHARE_LINK = "share_link", "持证人分享链接"

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="uses", verbose_name="证照")
    via = models.CharField("方式", max_length=12, choices=Via.choices)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name="用证部门")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    client = models.ForeignKey("ExchangeClient", null=True, blank=True, on_delete=models.PROTECT, related_name="uses", verbose_name="接入系统")
    case_number = models.CharField("办件编号", max_length=32, blank=True)
    purpose = models.CharField("用途", max_length=200, blank=True)
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = verbose_name_plural = "用证记录"
        indexes = [models.Index(fields=["licence", "-id"], name="licence_use_recent")]


class ShareLink(models.Model):
    """A verification link the holder chose to share; it expires and can be revoked. Only the
    token's SHA-256 is stored."""

    licence = models.ForeignKey(Licence, on_delete=models.CASCADE, related_name="share_links", verbose_name="证照")
    token_hash = models.CharField(max_length=64, unique=True)
    show_fields = models.JSONField("展示的照面信息", default=list, blank=True)
    expires_at = models.DateTimeField("失效时间")
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "证照分享链接"


class ExchangeClient(models.Model):
    """An outside system allowed to look up licences through the data-sharing API (T15), e.g. the
    province's exchange platform. Authenticated by a secret (only its hash stored), with scopes."""

    class Scope(models.TextChoices):
        BY_IDENTIFIER = "licence:by_identifier", "按证照标识查询"
        BY_HOLDER = "licence:by_holder", "按持证主体查询"

    name = models.CharField("系统名称", max_length=100)
    client_id = models.CharField("接入标识", max_length=40, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField("权限范围", default=list)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="所属部门")
    active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "数据共享接入系统"

    def __str__(self):
        return self.name


class ExchangeCall(models.Model):
    """Every call of the data-sharing API, allowed or refused."""

    client = models.ForeignKey(ExchangeClient, null=True, blank=True, on_delete=models.PROTECT, related_name="calls")
    endpoint = models.CharField(max_length=100)
    query = models.CharField(max_length=300, blank=True)
    status = models.PositiveSmallIntegerField()
    result_count = models.PositiveIntegerField(default=0)
    remote_addr = models.CharField(max_length=45, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = verbose_name_plural = "数据共享调用记录"

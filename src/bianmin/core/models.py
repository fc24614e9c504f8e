from django.conf import settings
from django.db import models


class CalendarOverride(models.Model):
    """A local exception to the State Council schedule: a city day off, or next year's schedule
    entered before the chinese-calendar package knows it. Overrides win over the package."""

    date = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("是否工作日")
    reason = models.CharField("原因", max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="录入人")
    created_at = models.DateTimeField("录入时间", auto_now_add=True)

    class Meta:
        ordering = ["date"]
        verbose_name = verbose_name_plural = "工作日调整"

    def __str__(self):
        return f"{self.date} {'上班' if self.is_workday else '休息'} {self.reason}"


class AuditEntry(models.Model):
    """Append-only, hash-chained log: each entry's hash covers its content and the previous hash,
    so changing or deleting any row breaks the chain from there on (`bianmin audit verify`).
    `scheme` says how the hash was computed (core.audit): 1 for entries written before 2026-12, 2 for
    the plain SHA-256 chain after it, 3 for the keyed chain (HMAC-SHA256 under BIANMIN_AUDIT_KEY) that
    every entry since that upgrade must use (`AuditHead.keyed_from`)."""

    created_at = models.DateTimeField("时间", db_index=True)
    actor = models.CharField("操作人", max_length=150, blank=True)
    action = models.CharField("操作", max_length=80)
    object_type = models.CharField("对象类型", max_length=80, blank=True)
    object_id = models.CharField("对象", max_length=80, blank=True)
    data = models.JSONField("内容", default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    scheme = models.PositiveSmallIntegerField(default=3)

    class Meta:
        ordering = ["id"]
        # Every business transaction writes an entry: plain indexes for exact lookups only (no
        # PostgreSQL pattern-matching twins, which `db_index` and `unique` would add).
        indexes = [models.Index(fields=["action"], name="audit_action"), models.Index(fields=["object_id"], name="audit_object")]
        constraints = [models.UniqueConstraint(fields=["hash"], name="audit_unique_hash")]
        verbose_name = verbose_name_plural = "审计日志"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("审计日志只能追加,不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("审计日志只能追加,不能删除")


class AuditHead(models.Model):
    """The chain's newest hash, in one row (id 1). Appending updates it in the same statement as the
    entry is written, which serialises appenders on its row lock, and lets `verify` notice entries
    cut off the end of the chain. `keyed_from` is the first entry id of the keyed chain (scheme 3):
    entries from there on with an older scheme are refused. `mac` (HMAC under the audit key) covers
    `keyed_from`, so a database writer cannot move it."""

    prev = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    keyed_from = models.BigIntegerField(null=True)
    mac = models.CharField(max_length=64, default="", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "审计日志链头"


class Sequence(models.Model):
    """Named counters for human-readable numbers (case numbers, licence serials), safe under concurrency."""

    name = models.CharField(max_length=100, unique=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = verbose_name_plural = "编号序列"


class ApiTokenQuerySet(models.QuerySet):
    def update(self, **kwargs):
        """A bulk update (a revocation by any path: admin action, shell, another service) drops the
        cached entries of the tokens it touches, so that no process keeps honouring them. Stamping
        `last_used_at` alone leaves the cache be: authentication does that once a minute."""
        if set(kwargs) - {"last_used_at"}:
            from . import tokens

            tokens.forget(list(self.values_list("key_hash", flat=True)))
        return super().update(**kwargs)


class ApiToken(models.Model):
    """A personal bearer token for the API (kiosks, mobile apps, load tests). Only the SHA-256 of the
    token is stored; the token itself is shown once, when `core.services.issue_token` makes it.

    Moved from the cases app (state only): the table keeps its name."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name="账号")
    name = models.CharField("用途", max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    revoked = models.BooleanField("已吊销", default=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        db_table = "cases_apitoken"
        ordering = ["-id"]
        verbose_name = verbose_name_plural = "接口令牌"

    def __str__(self):
        return f"{self.name}({self.user})"

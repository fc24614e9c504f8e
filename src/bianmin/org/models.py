from django.conf import settings
from django.db import models


class Level(models.TextChoices):
    CITY = "city", "市级"
    COUNTY = "county", "县级"
    TOWN = "town", "镇(街道)级"
    VILLAGE = "village", "村(社区)级"


class Region(models.Model):
    """A GB/T 2260 division (city, county) or a statistical town/village code below it."""

    code = models.CharField("区划代码", max_length=12, primary_key=True)
    name = models.CharField("名称", max_length=60)
    level = models.CharField("层级", max_length=10, choices=Level.choices, db_index=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name="上级")
    is_management_zone = models.BooleanField("管委会", default=False, help_text="开发区等管委会,与县级政府并列管理辖区")

    class Meta:
        ordering = ["code"]
        verbose_name = verbose_name_plural = "行政区划"

    def __str__(self):
        return self.name

    @property
    def county_code(self) -> str:
        """The 6-digit county-level code this region lies in (or its own for city/county)."""
        return self.code[:6]


class Department(models.Model):
    class Kind(models.TextChoices):
        DEPARTMENT = "department", "政务服务实施单位"
        APPROVAL_BUREAU = "approval_bureau", "行政审批局"
        SERVICE_CENTER = "service_center", "行政服务中心"
        GOVERNMENT = "government", "人民政府(管委会)"

    name = models.CharField("名称", max_length=100)
    short_name = models.CharField("简称", max_length=40, blank=True)
    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="departments", verbose_name="所属区划")
    level = models.CharField("层级", max_length=10, choices=Level.choices, db_index=True)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices, default=Kind.DEPARTMENT)
    # 一枚章管审批 (T11): the bureau took over these departments' approval items.
    absorbed = models.ManyToManyField("self", blank=True, symmetrical=False, related_name="absorbed_by", verbose_name="划入审批职能的部门")
    phone = models.CharField("咨询电话", max_length=40, blank=True)
    supervision_phone = models.CharField("监督电话", max_length=40, blank=True)
    address = models.CharField("地址", max_length=200, blank=True)

    class Meta:
        ordering = ["region_id", "id"]
        verbose_name = verbose_name_plural = "部门"
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="department_unique_name_in_region")]

    def __str__(self):
        return self.name


class Hall(models.Model):
    class Kind(models.TextChoices):
        HALL = "hall", "政务服务大厅"
        STATION = "station", "便民服务站"
        BANK = "bank", "银行网点"
        POST = "post", "邮政网点"
        KIOSK = "kiosk", "自助服务终端"
        MOBILE = "mobile", "流动服务"

    name = models.CharField("名称", max_length=100)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="halls", verbose_name="所在区划")
    level = models.CharField("层级", max_length=10, choices=Level.choices, db_index=True)
    kind = models.CharField("类型", max_length=10, choices=Kind.choices, default=Kind.HALL)
    address = models.CharField("地址", max_length=200, blank=True)
    phone = models.CharField("电话", max_length=40, blank=True)
    hours = models.CharField("办公时间", max_length=200, blank=True)

    class Meta:
        ordering = ["region_id", "id"]
        verbose_name = verbose_name_plural = "服务大厅"

    def __str__(self):
        return self.name


class Window(models.Model):
    class Kind(models.TextChoices):
        COMPREHENSIVE = "comprehensive", "综合窗口"
        DEPARTMENT = "department", "部门窗口"
        DELIVERY = "delivery", "出件窗口"

    hall = models.ForeignKey(Hall, on_delete=models.CASCADE, related_name="windows", verbose_name="大厅")
    number = models.CharField("窗口号", max_length=10)
    name = models.CharField("名称", max_length=60)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices, default=Kind.COMPREHENSIVE)
    departments = models.ManyToManyField(Department, blank=True, related_name="windows", verbose_name="受理部门")

    class Meta:
        ordering = ["hall_id", "number"]
        verbose_name = verbose_name_plural = "窗口"
        constraints = [models.UniqueConstraint(fields=["hall", "number"], name="window_unique_number_in_hall")]

    def __str__(self):
        return f"{self.hall.name} {self.number}号窗口"


class Role(models.TextChoices):
    CLERK = "clerk", "窗口受理"
    REVIEWER = "reviewer", "审查"
    APPROVER = "approver", "决定"
    SUPERVISOR = "supervisor", "效能监督"
    CATALOG_ADMIN = "catalog_admin", "事项管理"
    ADMIN = "admin", "系统管理"


class Staff(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff", verbose_name="账号")
    name = models.CharField("姓名", max_length=40)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="staff", verbose_name="部门")
    role = models.CharField("角色", max_length=20, choices=Role.choices)
    hall = models.ForeignKey(Hall, null=True, blank=True, on_delete=models.SET_NULL, related_name="staff", verbose_name="所在大厅")
    window = models.ForeignKey(Window, null=True, blank=True, on_delete=models.SET_NULL, related_name="staff", verbose_name="窗口")
    is_chief_service_officer = models.BooleanField("首席服务官", default=False)
    is_head = models.BooleanField("部门负责人", default=False)

    class Meta:
        ordering = ["department_id", "id"]
        verbose_name = verbose_name_plural = "工作人员"

    def __str__(self):
        return f"{self.name}({self.department.short_name or self.department.name} {self.get_role_display()})"

    @property
    def sees_all_departments(self) -> bool:
        """Supervisors and system admins look across departments; everyone else sees their own."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

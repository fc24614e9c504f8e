"""The console's item form: it only parses what the browser sends into `services.save_item`'s input.

Every field is optional and no field checks a choice: the catalog's rules (required elements, time
limits, retained proofs, permissions...) are `services.save_item`'s, and its errors are shown beside
the fields by the view. The only thing checked here is what is not a catalog rule at all: that the
materials part of the form arrived whole.
"""

from __future__ import annotations

from django import forms

from bianmin.org.models import Department, Hall, Level

from . import services
from .models import Audience, ItemKind, Material, OnlineLevel, Proof, ServiceItem, Theme

TEXT_FIELDS = services.TEXT_FIELDS
MULTI_HELP = "按住 Ctrl(Mac 上为 Command)键可选择多项"


def _lines(text: str) -> str:
    """Browsers send \\r\\n in text areas; the catalog stores \\n (as Excel does)."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


class LooseMultipleChoiceField(forms.MultipleChoiceField):
    """Several values, offered as choices but not checked against them: save_item knows what exists."""

    def valid_value(self, value):
        return True


def _text(label, help_text="", **attrs):
    return forms.CharField(label=label, required=False, help_text=help_text, widget=forms.TextInput(attrs=attrs))


def _area(label, rows=3, help_text=""):
    return forms.CharField(label=label, required=False, help_text=help_text, widget=forms.Textarea(attrs={"rows": rows}))


def _select(label, choices=(), help_text=""):
    return forms.CharField(label=label, required=False, help_text=help_text, widget=forms.Select(choices=choices))


def _number(label, help_text=""):
    return forms.CharField(label=label, required=False, help_text=help_text,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 6}))


class ItemForm(forms.Form):
    # 十统一
    name = _text("事项名称", size=60)
    basic_code = _text("基本编码", size=30)
    code = _text("实施编码", "全省统一的实施编码,例如 11440800MB2C91-440800000000-001", size=60)
    kind = _select("事项类型", [("", "请选择")] + list(ItemKind.choices))
    legal_basis = _area("设定依据", 4)
    department = _select("实施主体")
    origin_department = _select("原业务主管部门", help_text="由行政审批局集中办理时,原来实施该事项的部门")
    region = _text("实施区划", "区划代码,例如 440800;留空则取实施主体所在区划", size=14)
    level = _select("层级", [("", "请选择")] + list(Level.choices))
    audience = _select("服务对象", [("", "请选择")] + list(Audience.choices))
    conditions = _area("受理条件", 4)
    route = _area("办理流程", 3)
    statutory_days = _number("法定时限(工作日)")
    promised_days = _number("承诺时限(工作日)", "不超过法定时限;即办件为 0")
    fees = _text("收费标准", "留空即“不收费”", size=40)
    fee_fen = _number("收费金额(分)", "单位为分,不收费为 0")
    # 四办
    is_immediate = forms.BooleanField(label="即办件(马上办)", required=False)
    online_level = _select("网办深度(网上办)", [(str(v), f"{v} {label}") for v, label in OnlineLevel.choices])
    nearby_levels = LooseMultipleChoiceField(label="就近可办层级(就近办)", required=False, choices=Level.choices,
                                             widget=forms.CheckboxSelectMultiple)
    max_visits = _number("到现场次数(一次办)", "0 表示零跑动,1 表示最多跑一次")
    # links
    themes = LooseMultipleChoiceField(label="主题", required=False, widget=forms.CheckboxSelectMultiple)
    proofs = LooseMultipleChoiceField(label="所需证明", required=False, help_text="只能从保留证明事项清单中选择。" + MULTI_HELP,
                                      widget=forms.SelectMultiple(attrs={"size": 6}))
    halls = LooseMultipleChoiceField(label="可申办大厅", required=False, help_text=MULTI_HELP,
                                     widget=forms.SelectMultiple(attrs={"size": 8}))
    # the rest of the guide
    result_name = _text("办理结果", size=40)
    result_licence_type = _text("结果证照类型代码", size=20)
    location = _text("办理地点", size=60)
    hours = _text("办理时间", size=40)
    phone = _text("咨询电话", size=20)
    supervision_phone = _text("监督电话", size=20)
    reason = _area("变更原因", 2, "修改事项时必填,记入事项版本")

    def __init__(self, *args, departments=(), editing=False, current_proofs=(), **kwargs):
        super().__init__(*args, **kwargs)
        dept_choices = [(str(d.pk), d.name) for d in departments]
        self.fields["department"].widget.choices = ([("", "请选择")] if len(dept_choices) != 1 else []) + dept_choices
        self.fields["origin_department"].widget.choices = [("", "无")] + [(str(d.pk), d.name) for d in Department.objects.order_by("region_id", "id")]
        self.fields["themes"].choices = [(t.code, t.name) for t in Theme.objects.all()]
        self.fields["halls"].choices = [(str(h.pk), h.name) for h in Hall.objects.order_by("region_id", "id")]
        self.fields["proofs"].choices = proof_choices(current_proofs)
        if not editing:
            del self.fields["reason"]

    def to_data(self) -> dict:
        """save_item's input. References are passed as given; save_item resolves them or says why not."""
        cd = self.cleaned_data
        data = {f: _lines(cd.get(f, "")).strip() for f in TEXT_FIELDS}
        for f in ("kind", "department", "origin_department", "level", "audience", "region", "statutory_days",
                  "promised_days", "fee_fen", "online_level", "max_visits"):
            data[f] = (cd.get(f) or "").strip()  # departments by id: save_item looks them up
        data["is_immediate"] = bool(cd.get("is_immediate"))
        data["nearby_levels"] = list(cd.get("nearby_levels") or [])
        data["themes"] = list(cd.get("themes") or [])
        data["halls"] = list(cd.get("halls") or [])
        data["proofs"] = proof_refs(cd.get("proofs") or [])
        return data

    @classmethod
    def initial_for(cls, item: ServiceItem) -> dict:
        initial = {f: getattr(item, f) for f in TEXT_FIELDS}
        initial.update({
            "kind": item.kind, "department": str(item.department_id),
            "origin_department": str(item.origin_department_id or ""), "region": item.region_id,
            "level": item.level, "audience": item.audience, "statutory_days": item.statutory_days,
            "promised_days": item.promised_days, "fee_fen": item.fee_fen, "is_immediate": item.is_immediate,
            "online_level": str(item.online_level), "nearby_levels": item.nearby_level_list,
            "max_visits": item.max_visits, "themes": [t.code for t in item.themes.all()],
            "halls": [str(h.pk) for h in item.halls.all()], "proofs": [str(p.pk) for p in item.proofs.all()],
        })
        return initial


def proof_refs(values) -> list:
    """Proof ids as Proof objects (so that save_item's messages can name them); an unknown id stays as sent."""
    values = [str(v).strip() for v in values if str(v).strip()]
    found = Proof.objects.in_bulk([int(v) for v in values if v.isdigit()])
    return [found.get(int(v), v) if v.isdigit() else v for v in values]


def proof_choices(current=()) -> list[tuple[str, str]]:
    """The retained list, plus any proof the item already names (so that a cancelled one shows and can be removed)."""
    proofs = {p.pk: p for p in Proof.objects.filter(is_retained=True)}
    for p in current:
        proofs.setdefault(p.pk, p)
    return [(str(p.pk), p.name if p.is_retained else f"{p.name}(已不在保留清单)") for p in proofs.values()]


class MaterialForm(forms.Form):
    name = _text("材料名称", size=30)
    description = _text("说明", size=30)
    form = forms.CharField(label="材料形式", required=False, initial=Material.Form.ORIGINAL,
                           widget=forms.Select(choices=Material.Form.choices))
    copies = forms.CharField(label="份数", required=False, initial="1", widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 3}))
    required = forms.BooleanField(label="必要", required=False, initial=True)
    pending_allowed = forms.BooleanField(label="可容缺后补", required=False)
    commitment_allowed = forms.BooleanField(label="可告知承诺", required=False)
    satisfied_by = _text("可替代的电子证照类型代码", size=12)
    proof = _select("对应证明")

    def __init__(self, *args, proofs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proof"].widget.choices = [("", "无")] + list(proofs)

    def is_blank(self) -> bool:
        cd = getattr(self, "cleaned_data", {}) or {}
        return not any((cd.get(f) or "").strip() for f in ("name", "description", "satisfied_by", "proof"))

    def to_data(self) -> dict:
        cd = self.cleaned_data
        return {
            "name": _lines(cd.get("name", "")).strip(), "description": _lines(cd.get("description", "")).strip(),
            "form": cd.get("form") or "", "copies": (cd.get("copies") or "").strip() or 1,
            "required": bool(cd.get("required")), "pending_allowed": bool(cd.get("pending_allowed")),
            "commitment_allowed": bool(cd.get("commitment_allowed")), "satisfied_by": (cd.get("satisfied_by") or "").strip(),
            "proof": (proof_refs([cd.get("proof") or ""]) or [None])[0],
        }


EMPTY_MATERIAL_ROWS = 3
MaterialFormSet = forms.formset_factory(MaterialForm, extra=EMPTY_MATERIAL_ROWS, max_num=200, absolute_max=200)


def material_initial(item: ServiceItem | None) -> list[dict]:
    if item is None:
        return []
    return [{
        "name": m.name, "description": m.description, "form": m.form, "copies": m.copies, "required": m.required,
        "pending_allowed": m.pending_allowed, "commitment_allowed": m.commitment_allowed,
        "satisfied_by": m.satisfied_by, "proof": str(m.proof_id or ""),
    } for m in item.materials.all()]

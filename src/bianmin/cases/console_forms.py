"""Parsing for the staff console's case pages. These forms only parse and label: every rule (ID number
checksums, which materials may be pending, who may act) is checked by `services`, whose error is shown
beside the field it names."""

from __future__ import annotations

from django import forms

from bianmin.core.errors import ValidationError

from .models import Applicant, CaseStatus, Delivery, StopKind

MATERIAL_CHOICES = (("at_window", "核验原件"), ("upload", "上传扫描件"), ("commitment", "告知承诺"), ("none", "未提交"))


class ApplicantForm(forms.Form):
    """窗口登记: the applicant who came in person. Every field is optional here: register_applicant judges."""

    kind = forms.ChoiceField(label="申请人类型", choices=Applicant.Kind.choices, initial=Applicant.Kind.PERSON,
                             widget=forms.RadioSelect, required=False)
    id_number = forms.CharField(label="证件号码", max_length=40, required=False,
                                help_text="自然人填居民身份证号码,法人填统一社会信用代码(18 位)")
    name = forms.CharField(label="姓名或名称", max_length=100, required=False)
    phone = forms.CharField(label="手机号码", max_length=20, required=False, help_text="联系电话,也可填带区号的固定电话;已登记的申请人可不填",
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    note = forms.CharField(label="申请说明", required=False)  # form_data's note, judged by services.clean_form_data

    def data_for_service(self) -> dict:
        c = self.cleaned_data
        return {"kind": c.get("kind") or Applicant.Kind.PERSON, "id_number": c.get("id_number") or "",
                "name": c.get("name") or "", "phone": c.get("phone") or ""}

    def form_data(self) -> dict:
        note = (self.cleaned_data.get("note") or "").strip()
        return {"note": note} if note else {}


def material_choice(post, material) -> str:
    """How the clerk marked one material: at_window, upload, commitment or none (anything else reads as none)."""
    value = post.get(f"material_{material.pk}", "")
    return value if value in ("at_window", "upload", "commitment") else "none"


def int_or_none(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def int_list(values, field: str) -> list[int]:
    """Checkbox values (ids) as ints; anything else is a tampered form, refused with a 400."""
    out = []
    for v in values:
        n = int_or_none(v)
        if n is None or n < 1:
            raise ValidationError("所选材料无效,请重新打开本页后再选择", code="invalid_choice", field=field)
        out.append(n)
    return out


class CaseFilterForm(forms.Form):
    """全部办件: filters for supervisors and admins."""

    CLOCK_CHOICES = (("", "全部"), ("overdue", "超期"), ("warning", "预警"))

    number = forms.CharField(label="办件编号", max_length=32, required=False)
    status = forms.ChoiceField(label="状态", choices=(("", "全部"),) + tuple(c for c in CaseStatus.choices if c[0] != "draft"),
                               required=False)
    department = forms.TypedChoiceField(label="部门", coerce=int, empty_value=None, required=False)
    clock = forms.ChoiceField(label="时限", choices=CLOCK_CHOICES, required=False)

    def __init__(self, *args, departments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", "全部")] + [(d.pk, d.name) for d in departments]


STOP_CHOICES = [c for c in StopKind.choices if c[0] != StopKind.SUPPLEMENT]
DELIVERY_CHOICES = Delivery.Method.choices

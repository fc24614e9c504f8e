"""Forms of the applicant's pages. They parse what the browser sends; the rules (ID checksums, who may
apply for what, which materials are needed) are the services'. Only input shape is checked here:
passwords typed twice alike, a mobile number's form, lengths."""

from __future__ import annotations

import re
from types import SimpleNamespace

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import FieldDoesNotExist

from bianmin.core.identities import normalise

from . import services
from .models import Applicant

MOBILE = re.compile(r"^1[3-9]\d{9}$")


class AccessibleForm(forms.Form):
    """Fields with errors point at their messages (aria-describedby) as well as at their help text."""

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                bound = self[name]
                ids = [f"{bound.auto_id}_error"] + ([f"{bound.auto_id}_helptext"] if self.fields[name].help_text else [])
                self.fields[name].widget.attrs["aria-describedby"] = " ".join(ids)


def _text(label, max_length, required=True, help_text="", **attrs):
    return forms.CharField(label=label, max_length=max_length, required=required, strip=True, help_text=help_text,
                           widget=forms.TextInput(attrs=attrs),
                           error_messages={"required": f"请填写{label}", "max_length": f"{label}不能超过 {max_length} 个字"})


def _clean_mobile(value: str) -> str:
    value = normalise(value)
    if value.startswith("+86"):
        value = value[3:]
    if not MOBILE.fullmatch(value):
        raise forms.ValidationError("请填写 11 位手机号码,例如 13800000000")
    return value


class PasswordIdentity:
    """What UserAttributeSimilarityValidator (settings.AUTH_PASSWORD_VALIDATORS) compares a new password
    with before the account exists: the identity typed on the form, with the labels its message names."""

    def __init__(self, labels: dict[str, str], **values: str):
        self.__dict__.update(values)
        self._meta = self._Meta(labels)

    class _Meta:
        def __init__(self, labels):
            self.labels = labels

        def get_field(self, name):
            if name not in self.labels:
                raise FieldDoesNotExist(name)
            return SimpleNamespace(verbose_name=self.labels[name])


class RegisterForm(AccessibleForm):
    kind = forms.ChoiceField(label="注册类型", choices=Applicant.Kind.choices, initial=Applicant.Kind.PERSON,
                             widget=forms.HiddenInput, error_messages={"invalid_choice": "注册类型无效"})
    name = _text("姓名", 100, help_text="与居民身份证上的姓名一致", autocomplete="name")
    id_number = _text("居民身份证号码", 30, help_text="18 位,最后一位可以是 X;注册后用它登录", autocomplete="username", inputmode="text", spellcheck="false", autocapitalize="characters")
    legal_representative = _text("法定代表人", 40, required=False)
    phone = _text("手机号码", 20, help_text="用于接收办件进度短信", autocomplete="tel", inputmode="tel")
    password1 = forms.CharField(label="设置密码", strip=False, max_length=128, help_text="至少 8 位,不能全是数字,不要用常见密码,不要与证件号码、手机号码或姓名相似", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                error_messages={"required": "请设置密码"})
    password2 = forms.CharField(label="再次输入密码", strip=False, max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                error_messages={"required": "请再次输入密码"})

    def __init__(self, *args, kind: str = Applicant.Kind.PERSON, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound:
            kind = self.data.get("kind") if self.data.get("kind") in Applicant.Kind.values else kind
        self.kind = kind
        if kind == Applicant.Kind.LEGAL_PERSON:
            self.fields["name"].label = "单位名称"
            self.fields["name"].error_messages["required"] = "请填写单位名称"
            self.fields["name"].widget.attrs["autocomplete"] = "organization"
            self.fields["name"].help_text = "与营业执照或登记证书上的名称一致"
            self.fields["id_number"].label = "统一社会信用代码"
            self.fields["id_number"].help_text = "18 位,由数字和大写字母组成;注册后用它登录"
            self.fields["id_number"].error_messages["required"] = "请填写统一社会信用代码"
            self.fields["legal_representative"].required = True
            self.fields["phone"].label = "联系人手机号码"
        else:
            del self.fields["legal_representative"]
        self.fields["kind"].initial = kind

    def clean_id_number(self):
        return normalise(self.cleaned_data["id_number"])

    def password_identity(self, data) -> PasswordIdentity:
        """The identity a password must not resemble: the ID number or USCC, the phone, the names."""
        names = ("id_number", "phone", "name", "legal_representative")
        labels = {n: str(self.fields[n].label) for n in names if n in self.fields}
        return PasswordIdentity({**labels, "username": labels["id_number"]},
                                username=data.get("id_number", ""), **{n: data.get(n) or "" for n in names})

    def clean_phone(self):
        return _clean_mobile(self.cleaned_data["phone"])

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "两次输入的密码不一致")
        elif p1:
            try:
                validate_password(p1, user=self.password_identity(data))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


def _password_pair(form, data, user=None):
    p1, p2 = data.get("password1"), data.get("password2")
    if p1 and p2 and p1 != p2:
        form.add_error("password2", "两次输入的密码不一致")
    elif p1:
        try:
            validate_password(p1, user)
        except forms.ValidationError as exc:
            form.add_error("password1", exc)


class SmsCodeForm(AccessibleForm):
    """激活账号 / 找回密码, step 1: the number whose phone on file gets a code."""
    id_number = _text("证件号码", 30, help_text="居民身份证号码或统一社会信用代码", autocomplete="username", spellcheck="false",
                      autocapitalize="characters")

    def clean_id_number(self):
        return normalise(self.cleaned_data["id_number"])


class ActivateForm(AccessibleForm):
    """激活账号 / 找回密码, step 2: the one-time code (window receipt or SMS) and a new password."""
    id_number = _text("证件号码", 30, help_text="居民身份证号码或统一社会信用代码", autocomplete="username", spellcheck="false",
                      autocapitalize="characters")
    code = _text("激活码或短信验证码", 20, help_text="窗口回执上的激活码(如 ABCDE-FGHJK),或发送到登记手机号码的 6 位验证码",
                 autocomplete="one-time-code", spellcheck="false", autocapitalize="characters")
    password1 = forms.CharField(label="设置新密码", strip=False, max_length=128, help_text="至少 8 位,不能全是数字,不要用常见密码",
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), error_messages={"required": "请设置密码"})
    password2 = forms.CharField(label="再次输入新密码", strip=False, max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                error_messages={"required": "请再次输入密码"})

    def clean_id_number(self):
        return normalise(self.cleaned_data["id_number"])

    def clean(self):
        data = super().clean()
        _password_pair(self, data)
        return data


class LoginForm(AccessibleForm):
    id_number = _text("证件号码", 30, help_text="居民身份证号码或统一社会信用代码,18 位", autocomplete="username", spellcheck="false", autocapitalize="characters")
    password = forms.CharField(label="密码", strip=False, max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
                               error_messages={"required": "请输入密码"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["id_number"].error_messages["required"] = "请填写居民身份证号码或统一社会信用代码"

    def clean_id_number(self):
        return normalise(self.cleaned_data["id_number"])

    def password_identity(self, data) -> PasswordIdentity:
        """The identity a password must not resemble: the ID number or USCC, the phone, the names."""
        names = ("id_number", "phone", "name", "legal_representative")
        labels = {n: str(self.fields[n].label) for n in names if n in self.fields}
        return PasswordIdentity({**labels, "username": labels["id_number"]},
                                username=data.get("id_number", ""), **{n: data.get(n) or "" for n in names})


class _Parsed(forms.CharField):
    """A text field that only parses: required or not, how long, what form — the service judges
    (`services.clean_contact`, `services.clean_form_data`) and its message is shown beside the field."""

    def validate(self, value):
        pass


def _parsed(label, max_length, widget=None, **attrs):
    widget = widget or forms.TextInput()
    widget.attrs.update({"maxlength": str(max_length), **attrs})
    return _Parsed(label=label, required=False, strip=True, widget=widget)


class ContactForm(AccessibleForm):
    """The application form's own fields (申请表): the contact (services.Contact) and a note, both stored
    in Case.form_data. Parsing only: every rule is services.clean_contact's and clean_form_data's."""

    contact_name = _parsed("联系人", services.CONTACT_NAME_MAX, autocomplete="name")
    contact_phone = _parsed("联系电话", 20, autocomplete="tel", inputmode="tel")
    contact_address = _parsed("联系地址", services.CONTACT_ADDRESS_MAX, autocomplete="street-address")
    note = _parsed("申请说明", services.MAX_FORM_TEXT, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, final: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if final:  # shown as 必填: to submit, the office must be able to reach the applicant
            for name in ("contact_name", "contact_phone"):
                self.fields[name].required = True


class WithdrawForm(forms.Form):
    reason = forms.CharField(label="撤回原因", max_length=200, required=False, widget=forms.TextInput(),
                             error_messages={"max_length": "撤回原因不能超过 200 个字"})

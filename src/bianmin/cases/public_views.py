"""The public's pages: real-name registration and login, applying online, 我的办件, a case's page,
the inbox and file downloads.

Views are thin: parse, call a service or selector, render. Every rule is in `services`; a
`DomainError` becomes a Chinese message with its HTTP status (4xx) and changes nothing.
Every page works without JavaScript.
"""

from __future__ import annotations

import secrets
from functools import wraps

from django.contrib import messages as flash
from django.contrib.auth import authenticate, login, logout
from django.db.models import Prefetch
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST

from bianmin.catalog import selectors as catalog_selectors
from bianmin.core import throttle
from bianmin.core.errors import DomainError, NotFound, ValidationError
from bianmin.licences import selectors as licence_selectors
from bianmin.org.models import Level

from . import clock, files, identity, letters, oidc, reuse, selectors, services
from .forms import (
    ActivateForm,
    ContactForm,
    LoginForm,
    RegisterForm,
    SmsCodeForm,
    WithdrawForm,
)
from .models import Applicant, CaseMaterial, CaseStatus, Delivery, Message

PAGE_SIZE = 20
MAX_PK = 2**63 - 1
STATUS_TITLES = {400: "请求无效", 403: "无权办理", 404: "找不到该页面", 409: "当前不能办理", 429: "操作过于频繁"}


# ----------------------------------------------------------------------------- helpers

def _applicant(request) -> Applicant | None:
    if not request.user.is_authenticated:
        return None
    return getattr(request.user, "applicant", None)


def _login_url(request) -> str:
    return reverse("cases_public:login") + "?" + urlencode({"next": request.get_full_path()})


def applicant_required(view):
    """Logged in with an applicant's account; staff accounts are told to use their own entrance."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return HttpResponseRedirect(_login_url(request))
        if _applicant(request) is None:
            return _error_page(request, 403, "该账号不是办事人账号",
                               "工作人员账号不能办理个人或企业的申请。请退出后使用本人的证件号码登录,或到工作台办理业务。")
        return view(request, *args, **kwargs)

    return wrapper


def _error_page(request, status: int, title: str, message: str):
    return render(request, "web/error.html", {"title": title, "message": message, "status": status}, status=status)


def _domain_error(request, exc: DomainError):
    return _error_page(request, exc.status, STATUS_TITLES.get(exc.status, "请求无效"), exc.message)


domain_error_page = _domain_error  # public: the pages of the apps above cases answer domain errors alike


def _safe_next(request, default: str = "/my/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def _page_number(request) -> int:
    try:
        n = int(request.GET.get("page") or 1)
    except (TypeError, ValueError):
        return 1
    return n if 1 <= n <= 100_000 else 1


def _paginate(request, qs):
    page = catalog_selectors.paginate(qs, _page_number(request), PAGE_SIZE)
    page_range = list(page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)) if page.paginator.count else []
    return page, page_range


# ----------------------------------------------------------------------------- registration and login

@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = _safe_next(request)
    if request.method == "GET" and _applicant(request) is not None:
        return redirect(next_url)
    form = LoginForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            # authenticate() runs the one login throttle (core.throttle.ThrottledModelBackend)
            user = authenticate(request, username=form.cleaned_data["id_number"], password=form.cleaned_data["password"])
            if user is not None and getattr(user, "applicant", None) is None:
                # a staff account here: the answer of a wrong password, counted like one, so that this
                # entrance tells no one that a staff password was right (the console's rule, mirrored)
                throttle.refuse_login(request, user.get_username())
                user = None
            if user is None:
                wait = getattr(request, "login_wait", 0)
                error, status = (throttle.wait_message(wait), 429) if wait else ("证件号码或密码不正确。", 400)
            else:
                login(request, user)
                return redirect(next_url)
    response = render(request, "cases/public/login.html", {"form": form, "error": error, "next": next_url}, status=status)
    if status == 429:
        response["Retry-After"] = str(request.login_wait)
    return response


@require_POST
def logout_view(request):
    logout(request)
    flash.success(request, "您已安全退出。")
    return redirect("/")


REGISTERED_MESSAGE = ("注册信息已提交。若该证件号码此前未登记,账号已建立,请用证件号码和刚设置的密码登录。"
                      "若该证件号码已在服务大厅登记过或已注册账号,请用窗口回执上的激活码、发送到登记手机号码的验证码"
                      "或统一身份认证激活账号;忘记密码请找回密码。")
SMS_SENT_MESSAGE = "如果该证件号码登记了手机号码,验证码已发送到该号码,15 分钟内有效。没有收到请携带证件到服务大厅办理。"


def _client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _too_many(request, scope: str, identity_key: str = "", *, per_address: int, per_identity: int, window: int) -> int:
    """Seconds to wait (0 = go) for this address and, when given, this identity (issue 11 point 3)."""
    wait = throttle.rate_limit(f"{scope}:addr", _client_address(request), limit=per_address, window=window)
    if identity_key:
        wait = max(wait, throttle.rate_limit(f"{scope}:id", identity_key, limit=per_identity, window=window))
    return wait


def _throttled(request, wait: int):
    response = _error_page(request, 429, STATUS_TITLES[429], f"操作过于频繁,请 {max(1, (wait + 59) // 60)} 分钟后再试。")
    response["Retry-After"] = str(wait)
    return response


@require_http_methods(["GET", "POST"])
def register_view(request):
    """自行注册 (issue 11): a new number gets a new, unverified account; a number that already has a
    record or an account gets nothing. Both answer the same page, so the form tells no one whether a
    number is known, and neither claims an existing record (that takes cases.identity's proofs)."""
    kind = request.GET.get("kind") if request.GET.get("kind") in Applicant.Kind.values else Applicant.Kind.PERSON
    form = RegisterForm(request.POST or None, kind=kind)
    error, status = "", 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            wait = _too_many(request, "register", d["id_number"], per_address=10, per_identity=3, window=3600)
            if wait:
                return _throttled(request, wait)
            try:
                identity.register_account(kind=form.kind, name=d["name"], id_number=d["id_number"], phone=d["phone"],
                                          password=d["password1"], legal_representative=d.get("legal_representative", ""))
            except DomainError as exc:  # the input itself (checksum, name): the same whoever holds the number
                status = exc.status
                if exc.field in form.fields:
                    form.add_error(exc.field, exc.message)
                else:
                    error = exc.message
            else:
                return render(request, "cases/public/account_message.html",
                              {"title": "注册信息已提交", "message": REGISTERED_MESSAGE})
    return render(request, "cases/public/register.html",
                  {"form": form, "kind": form.kind, "error": error, "next": _safe_next(request, "")}, status=status)


@require_http_methods(["GET", "POST"])
def activate_view(request, reset: bool = False):
    """激活账号 (claim a record with a one-time code) and 找回密码 (the same code, a new password): one
    page, two steps. Every answer is generic; both steps are rate-limited per address and number."""
    sms_form = SmsCodeForm(request.POST if request.POST.get("action") == "sms" else None, prefix="sms")
    form = ActivateForm(request.POST if request.POST.get("action") == "redeem" else None,
                        initial={"id_number": request.GET.get("id_number", "")[:30]})
    notice, error, status = "", "", 200
    if request.method == "POST" and request.POST.get("action") == "sms":
        status = 400
        if sms_form.is_valid():
            number = sms_form.cleaned_data["id_number"]
            wait = _too_many(request, "sms-code", number, per_address=10, per_identity=3, window=900)
            if wait:
                return _throttled(request, wait)
            identity.request_sms_code(id_number=number)
            notice, status = SMS_SENT_MESSAGE, 200
            form = ActivateForm(initial={"id_number": number})
    elif request.method == "POST" and request.POST.get("action") == "redeem":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            wait = _too_many(request, "activate", d["id_number"], per_address=20, per_identity=10, window=3600)
            if wait:
                return _throttled(request, wait)
            try:
                user = identity.redeem_code(id_number=d["id_number"], code=d["code"], password=d["password1"])
            except DomainError as exc:
                status = exc.status
                if exc.field in form.fields and exc.field != "code":
                    form.add_error(exc.field, exc.message)
                else:
                    error = exc.message
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                applicant = getattr(user, "applicant", None)
                flash.success(request, "账号已激活,已为您登录。" if applicant is not None and applicant.is_verified
                              else "密码已重设,已为您登录。")
                return redirect(_safe_next(request))
    elif request.method == "POST":
        status = 400
        error = "请求无效,请重新填写。"
    return render(request, "cases/public/activate.html",
                  {"form": form, "sms_form": sms_form, "notice": notice, "error": error, "reset": reset,
                   "next": _safe_next(request, "")}, status=status)


@require_http_methods(["GET"])
def oidc_start(request):
    """统一身份认证: off to the provider. `enterprise` (a USCC) asks to claim that enterprise as its legal
    representative once the person is proven."""
    if not identity.oidc_enabled():
        return _error_page(request, 404, STATUS_TITLES[404], "本平台未接入统一身份认证。")
    wait = _too_many(request, "oidc", per_address=30, per_identity=0, window=600)
    if wait:
        return _throttled(request, wait)
    enterprise = (request.GET.get("enterprise") or "").strip().upper()[:18]
    try:
        url = oidc.begin(request.session, next_url=_safe_next(request), enterprise=enterprise)
    except DomainError as exc:
        return _domain_error(request, exc)
    return HttpResponseRedirect(url)


@require_http_methods(["GET"])
def oidc_callback(request):
    try:
        assertion, pending = oidc.complete(request.session, request.GET)
        user = identity.link_verified_identity(assertion=assertion, enterprise=pending.get("enterprise", ""))
    except DomainError as exc:
        return _domain_error(request, exc)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    flash.success(request, "已通过统一身份认证完成实名核验并登录。")
    return redirect(pending.get("next") or "/my/")


# ----------------------------------------------------------------------------- applying online

def _halls_by_level(item):
    labels = dict(Level.choices)
    groups: dict[str, list] = {}
    for hall in item.halls.all():
        groups.setdefault(hall.level, []).append(hall)
    return [{"label": labels[lv], "halls": groups[lv]} for lv, _ in Level.choices if lv in groups]


def _draft_files(draft) -> dict[int, list]:
    """The files a draft already holds, by catalog material id."""
    out: dict[int, list] = {}
    if draft is not None:
        for cm in draft.materials.all():
            if cm.material_id:
                out.setdefault(cm.material_id, []).extend(cm.files.all())
    return out


def _draft_commitments(draft) -> set[int]:
    if draft is None:
        return set()
    return {cm.material_id for cm in draft.materials.all() if cm.state == CaseMaterial.State.COMMITMENT}


def _apply_context(request, item, *, draft, contact, token, material_errors=None, kept=None, commitments=None, error="",
                   reused=frozenset()):
    material_errors = material_errors or {}
    kept = _draft_files(draft) if kept is None else kept
    commitments = _draft_commitments(draft) if commitments is None else commitments
    materials = list(item.materials.all())
    applicant = _applicant(request)
    # once-only: what the repository fills (免提交) and what earlier cases offer for reuse
    licensed = reuse.from_licences(applicant, materials)
    offered = reuse.offers(applicant, materials, exclude_case_id=draft.pk if draft is not None else None)
    rows = [{"m": m, "kept": kept.get(m.pk, []), "commitment": m.pk in commitments, "errors": material_errors.get(m.pk, []),
             "licence": licensed.get(m.pk), "offer": offered.get(m.pk) if m.pk not in licensed else None, "reuse": m.pk in reused}
            for m in materials]
    summary = []
    for name, errs in contact.errors.items():
        field = contact.fields.get(name)
        summary += [{"anchor": f"id_{name}", "label": field.label if field else "", "message": e} for e in errs]
    for row in rows:
        summary += [{"anchor": f"file-{row['m'].pk}", "label": row["m"].name, "message": e} for e in row["errors"]]
    return {"item": item, "draft": draft, "contact": contact, "token": token, "rows": rows, "summary": summary,
            "error": error, "accept": files.ACCEPT, "applicant": applicant,
            "licensed_count": sum(1 for r in rows if r["licence"]), "offered_count": sum(1 for r in rows if r["offer"])}


def _item_for(code: str):
    return catalog_selectors.item_detail(code[:80])


def _initial_contact(applicant: Applicant) -> dict:
    c = services.Contact.of(applicant)  # the contact a submission without one would take
    return {"contact_name": c.name, "contact_phone": c.phone, "contact_address": c.address}


@applicant_required
@require_http_methods(["GET", "POST"])
def apply(request, code):
    item = _item_for(code)
    if item is None:
        return _error_page(request, 404, "找不到该事项", "您要申请的事项不存在,或者已经下线。可以回到事项目录重新查找。")
    return _apply(request, item, None)


@applicant_required
@require_http_methods(["GET", "POST"])
def apply_draft(request, pk):
    try:
        draft = selectors.draft_for_applicant(request.user, pk if pk <= MAX_PK else 0)
    except NotFound as exc:
        return _domain_error(request, exc)
    item = _item_for(draft.item.code)
    if item is None:
        return _error_page(request, 409, "该事项已下线", "这份草稿对应的事项已经下线,暂不能继续申请。如有疑问请拨打 12345。")
    return _apply(request, item, draft)


def _apply(request, item, draft):
    applicant = _applicant(request)
    if not item.is_online:
        status = 200 if request.method == "GET" else 400
        return render(request, "cases/public/not_online.html", {"item": item, "hall_groups": _halls_by_level(item)}, status=status)
    if request.method == "GET":
        try:
            services._check_audience(item, applicant)
        except DomainError as exc:
            return _domain_error(request, exc)
        initial = dict(draft.form_data) if draft is not None and draft.form_data else _initial_contact(applicant)
        contact = ContactForm(initial=initial)
        return render(request, "cases/public/apply.html",
                      _apply_context(request, item, draft=draft, contact=contact, token=secrets.token_urlsafe(24)))

    action = "submit" if request.POST.get("action") == "submit" else "draft"
    token = (request.POST.get("token") or "").strip()[:64] or secrets.token_urlsafe(24)
    contact = ContactForm(request.POST, final=action == "submit")
    contact.is_valid()  # parse only: the service judges
    materials_list = list(item.materials.all())
    commitments = {m.pk for m in materials_list if request.POST.get(f"commit-{m.pk}") == "1"}
    reused = {m.pk for m in materials_list if request.POST.get(f"reuse-{m.pk}") == "1"}  # consent, material by material
    material_errors: dict[int, list[str]] = {}

    def again(status, error="", kept=None):
        context = _apply_context(request, item, draft=draft, contact=contact, token=token, material_errors=material_errors,
                                 kept=kept, commitments=commitments, error=error, reused=reused)
        context["files_dropped"] = any(f.name for f in request.FILES.values())
        return render(request, "cases/public/apply.html", context, status=status)

    # files the form offered to keep (a draft's own, or ones the applicant just uploaded): shown again on error
    try:
        kept = {m.pk: files.reusable(applicant, request.POST.getlist(f"keep-{m.pk}"), draft) for m in materials_list}
    except DomainError as exc:
        return again(exc.status, exc.message, kept={})
    kept_records = {f.pk: f for f in applicant.files.filter(pk__in=[i for ids in kept.values() for i in ids])}
    kept_files = {mid: [kept_records[i] for i in ids] for mid, ids in kept.items()}
    materials = {m.pk: services.MaterialInput(files=tuple(kept[m.pk]), uploads=tuple(request.FILES.getlist(f"file-{m.pk}")),
                                              commitment=m.pk in commitments, reuse=m.pk in reused)
                 for m in materials_list}
    c = contact.cleaned_data
    given = dict(applicant=applicant, item=item, actor=request.user, materials=materials, idempotency_key=token,
                 contact=services.Contact(name=c.get("contact_name", ""), phone=c.get("contact_phone", ""),
                                          address=c.get("contact_address", "")),
                 form_data={"note": c["note"]} if c.get("note") else {})
    try:
        if action == "draft":
            case = services.save_draft(case=draft, **given)
        else:
            case = services.submit_application(draft=draft, **given)
    except DomainError as exc:
        by_name = {m.name: m for m in materials_list}
        shown = False
        for d in exc.details or [{"field": exc.field, "code": exc.code, "message": exc.message}]:
            field = d.get("field") or ""
            if field.startswith("contact.") and f"contact_{field[8:]}" in contact.fields:
                contact.add_error(f"contact_{field[8:]}", d["message"])
                shown = True
            elif field == "form_data.note":
                contact.add_error("note", d["message"])
                shown = True
            elif field.startswith("materials.") and field[10:].isdigit():
                m = next((m for m in materials_list if m.pk == int(field[10:])), None)
                if m is not None and d.get("code") == "missing":
                    d = {"message": "此项为必要材料,请上传文件" + (",或勾选“告知承诺”" if m.commitment_allowed else "")}
                if m is not None:
                    material_errors.setdefault(m.pk, []).append(d["message"])
                    shown = True
            elif d.get("message") in by_name:
                material_errors.setdefault(by_name[d["message"]].pk, []).append("此项为必要材料,请上传文件")
                shown = True
        # what was just uploaded is gone with the refused request: keep only what the form kept
        return again(exc.status, "" if shown and exc.code != "materials_missing" else exc.message, kept=kept_files)
    if action == "draft":
        flash.success(request, "草稿已保存。可以随时在“我的办件”中继续填写。")
        return redirect("cases_public:draft", pk=case.pk)
    return redirect("cases_public:submitted", number=case.number)


@applicant_required
def submitted(request, number):
    try:
        case = selectors.case_for_applicant(request.user, number)
    except NotFound as exc:
        return _domain_error(request, exc)
    materials = list(case.materials.all())
    # once-only: the materials the applicant did not have to hand in again, and where they came from
    spared = [cm for cm in materials if cm.state == CaseMaterial.State.FROM_LICENCE or cm.note.startswith("经申请人同意,复用")]
    return render(request, "cases/public/submitted.html", {"case": case, "materials": materials, "spared": spared})


# ----------------------------------------------------------------------------- 我的办件

ASK_STATES = (CaseMaterial.State.MISSING, CaseMaterial.State.PENDING)


def _asked(case) -> dict:
    """What is asked of the applicant now: supplements while 待补正, 容缺 materials while they may come."""
    missing = [cm for cm in case.asked if cm.state == CaseMaterial.State.MISSING] if case.status == CaseStatus.SUPPLEMENT else []
    pending = [cm for cm in case.asked if cm.state == CaseMaterial.State.PENDING] \
        if case.status in services.TRANSITIONS["receive_pending"] else []
    return {"missing": missing, "pending": pending}


def my_cases_context(request) -> dict:
    """我的办件 (drafts, one page of cases with what is asked of the applicant, unread count): the
    main part of the personal page (personal_views.home)."""
    applicant = _applicant(request)
    qs = selectors.applicant_cases(applicant)
    drafts = list(qs.filter(status=CaseStatus.DRAFT)[:50])
    listed = qs.exclude(status=CaseStatus.DRAFT).prefetch_related(
        Prefetch("materials", queryset=CaseMaterial.objects.filter(state__in=ASK_STATES).only("id", "case_id", "name", "state", "note"),
                 to_attr="asked"))
    page, page_range = _paginate(request, listed)
    today = clock.today()
    rows = [{"case": c, "clock": clock.clock(c, today), **_asked(c)} for c in page.object_list]
    unread = Message.objects.filter(recipient=request.user, read_at__isnull=True).count()
    return {"applicant": applicant, "drafts": drafts, "rows": rows, "page": page, "page_range": page_range, "unread": unread,
            "asked_count": sum(1 for r in rows if r["missing"] or r["pending"])}


def _case_context(request, case, **extra):
    materials = list(case.materials.all())
    try:
        delivery = case.delivery
    except Delivery.DoesNotExist:
        delivery = None
    inbox = list(Message.objects.filter(recipient=request.user, case=case)[:50])
    decided = _has_decision(case)
    context = {
        # what the decision message promises (issue 12): the letter, and the licence the approval issued,
        # found as the personal licence page finds it (licences.selectors.holder_q: verified holders only)
        "decision_letter": decided,
        "licence": licence_selectors.holder_licences(_applicant(request)).filter(case_number=case.number).first()
        if decided and case.approved else None,
        "case": case, "clock": clock.clock(case), "materials": materials, "events": list(case.events.all()),
        "missing": [cm for cm in materials if cm.state == CaseMaterial.State.MISSING] if case.status == CaseStatus.SUPPLEMENT else [],
        "pending": [cm for cm in materials if cm.state == CaseMaterial.State.PENDING]
        if case.status in services.TRANSITIONS["receive_pending"] else [],
        "can_withdraw": case.status in services.TRANSITIONS["withdraw"],
        "delivery": delivery, "inbox": inbox, "withdraw_form": WithdrawForm(), "accept": files.ACCEPT,
        "error": "", "error_cm": None, "error_cm_message": "", "reason_error": "",
    }
    context.update(extra)
    return context


def _case_or_404(request, number):
    return selectors.case_for_applicant(request.user, number)


def _has_decision(case) -> bool:
    """A decision letter exists once the case is decided either way (the API's rule for `decision_letter`)."""
    return case.approved is not None


@applicant_required
def case_detail(request, number):
    try:
        case = _case_or_404(request, number)
    except NotFound as exc:
        return _domain_error(request, exc)
    return render(request, "cases/public/case.html", _case_context(request, case))


@applicant_required
def decision_letter(request, number):
    """决定书 (PDF) of the applicant's own decided case; anyone else's, or one not decided yet, is 404."""
    try:
        case = _case_or_404(request, number)
        if not _has_decision(case):
            raise NotFound("该办件尚未作出决定,暂无决定书。", code="not_decided")
    except NotFound as exc:
        return _domain_error(request, exc)
    response = HttpResponse(letters.decision_letter_pdf(case), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="decision-{case.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


def _case_action(request, number, act):
    """Run one applicant action on their case: act(case) -> message. Errors re-render the page with 4xx."""
    try:
        case = _case_or_404(request, number)
    except NotFound as exc:
        return _domain_error(request, exc)
    try:
        message = act(case)
    except DomainError as exc:
        case = _case_or_404(request, number)
        extra = {"error": exc.message}
        field = exc.field or ""
        # the services name a case material's field `case_materials.<id>`
        cm_id = field.removeprefix("case_materials.") if field.startswith("case_materials.") else ""
        if cm_id.isdigit():
            extra.update(error_cm=int(cm_id), error_cm_message=exc.message)
        elif field == "reason":
            extra.update(reason_error=exc.message)
        return render(request, "cases/public/case.html", _case_context(request, case, **extra), status=exc.status)
    flash.success(request, message)
    return redirect("cases_public:case", number=case.number)


def _uploads(request, field_name) -> list:
    return [f for f in request.FILES.getlist(field_name) if f is not None and f.name]


@applicant_required
@require_POST
def supplement(request, number):
    def act(case):
        missing = [cm for cm in case.materials.all() if cm.state == CaseMaterial.State.MISSING]
        given = {cm.pk: _uploads(request, f"cm-{cm.pk}") for cm in missing if request.FILES.getlist(f"cm-{cm.pk}")}
        services.supplement_with_uploads(case=case, actor=request.user, uploads=given)
        return "补正材料已提交,办件继续办理。"

    return _case_action(request, number, act)


@applicant_required
@require_POST
def pending_material(request, number, cm_id):
    def act(case):
        cm = next((m for m in case.materials.all() if m.pk == cm_id and m.state == CaseMaterial.State.PENDING), None)
        if cm is None:
            raise NotFound("该材料不是待补的容缺材料", code="not_pending")
        services.receive_pending_with_uploads(case=case, actor=request.user, case_material_id=cm.pk,
                                              uploads=_uploads(request, f"cm-{cm.pk}"))
        return f"“{cm.name}”已补交。"

    return _case_action(request, number, act)


@applicant_required
@require_POST
def withdraw(request, number):
    def act(case):
        form = WithdrawForm(request.POST)
        if not form.is_valid():
            raise ValidationError(form.errors["reason"][0], code="invalid_reason", field="reason")
        services.withdraw_case(case, actor=request.user, reason=form.cleaned_data["reason"])
        return "申请已撤回。"

    return _case_action(request, number, act)


# ----------------------------------------------------------------------------- inbox and files

@applicant_required
def inbox(request):
    qs = Message.objects.filter(recipient=request.user).select_related("case").only(
        "id", "title", "body", "kind", "created_at", "read_at", "case__number")
    page, page_range = _paginate(request, qs)
    unread_ids = [m.pk for m in page.object_list if m.read_at is None]
    services.mark_messages_read(recipient=request.user, message_ids=unread_ids)  # shown, so read
    return render(request, "cases/public/messages.html", {"page": page, "page_range": page_range, "unread_ids": set(unread_ids)})


def download(request, file_id):
    if not request.user.is_authenticated:
        return HttpResponseRedirect(_login_url(request))
    try:
        return files.download_response(files.open_for(request.user, file_id))
    except DomainError as exc:
        return _domain_error(request, exc)

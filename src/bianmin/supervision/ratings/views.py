"""好差评 pages: the applicant's rating form, the published statistics, and the console where a
department answers or appeals its 差评 and a supervisor decides appeals.

Thin: `ratings` holds every rule; a DomainError re-renders the page with its Chinese message and
its 4xx status and changes nothing.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages as flash
from django.core.cache import cache
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from bianmin.cases import selectors as case_selectors
from bianmin.cases.console_views import staff_console
from bianmin.cases.public_views import applicant_required
from bianmin.cases.public_views import domain_error_page as _domain_error
from bianmin.core import workdays
from bianmin.core.errors import DomainError, NotFound, ValidationError
from bianmin.org.models import Department, Role

from . import selectors as ratings_read
from . import services as ratings
from ..models import Rating

PAGE_SIZE = 20
MAX_PK = 2**53
STATS_CACHE_SECONDS = 60


class RateForm(forms.Form):
    score = forms.TypedChoiceField(label="总体评价", coerce=int, widget=forms.RadioSelect,
                                   choices=[(s, f"{s} 分 · {label}") for s, label in Rating.SCORES],
                                   error_messages={"required": "请选择评价等级", "invalid_choice": "请选择 1 到 5 的评价等级"})
    indicators = forms.MultipleChoiceField(label="评价指标(可多选)", required=False, widget=forms.CheckboxSelectMultiple,
                                           choices=list(ratings.INDICATORS.items()),
                                           error_messages={"invalid_choice": "评价指标无效"})
    comment = forms.CharField(label="意见建议(选填)", required=False, max_length=ratings.MAX_COMMENT,
                              widget=forms.Textarea(attrs={"rows": 4}))


# ----------------------------------------------------------------------------- the applicant

@applicant_required
@require_http_methods(["GET", "POST"])
def rate(request, number):
    try:
        if not ratings.clean_number(number):
            raise NotFound("找不到该办件", code="case_not_found")
        case = case_selectors.case_for_applicant(request.user, number)
    except NotFound as exc:
        return _domain_error(request, exc)
    existing = Rating.objects.filter(case=case).first()
    form = RateForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST" and existing is None:
        if form.is_valid():
            d = form.cleaned_data
            try:
                ratings.rate_online(request.user, case.number, score=d["score"], indicators=d["indicators"], comment=d["comment"])
            except DomainError as exc:
                error, status = exc.message, exc.status
            else:
                flash.success(request, "感谢您的评价!" + ("您的差评已转办理部门限期整改,答复将通知您。" if d["score"] <= 2 else ""))
                return redirect("cases_public:case", number=case.number)
        else:
            error, status = "请检查标出的项目。", 400
    elif request.method == "POST":
        error, status = "该办件已评价,每件只能评价一次。", 409
    return render(request, "supervision/ratings/rate.html", {
        "case": case, "form": form, "existing": existing, "error": error, "finished": case.status in ratings.FINISHED,
        "rectify_days": ratings.rectify_workdays(),
        "indicator_labels": [ratings.INDICATORS.get(c, c) for c in (existing.indicators if existing else [])],
    }, status=status)


# ----------------------------------------------------------------------------- published statistics

@require_http_methods(["GET", "HEAD"])
def stats(request):
    by = request.GET.get("by") or "department"
    if by not in ("department", "hall"):
        return render(request, "web/error.html", {"title": "请求无效", "message": "统计口径无效。", "status": 400}, status=400)
    key = f"bianmin:rating-stats:{by}"
    data = cache.get(key)
    if data is None:
        rows = ratings_read.statistics(by)
        data = {"rows": rows, "totals": ratings_read.totals(rows)}
        cache.set(key, data, STATS_CACHE_SECONDS)
    return render(request, "supervision/ratings/stats.html", {**data, "by": by, "labels": [label for _, label in Rating.SCORES],
                                                              "cache_seconds": STATS_CACHE_SECONDS})


# ----------------------------------------------------------------------------- the console

class RatingFilterForm(forms.Form):
    state = forms.ChoiceField(label="整改状态", required=False, choices=(("", "全部"),) + tuple(Rating.State.choices))
    bad = forms.ChoiceField(label="评价", required=False, choices=(("", "全部"), ("1", "仅差评")))
    department = forms.TypedChoiceField(label="部门", coerce=int, empty_value=None, required=False)

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, **kwargs)
        if staff.sees_all_departments:
            self.fields["department"].choices = [("", "全部")] + list(
                Department.objects.filter(ratings__isnull=False).distinct().order_by("region_id", "id").values_list("pk", "name"))
        else:
            del self.fields["department"]


@staff_console()
@require_http_methods(["GET", "HEAD"])
def console_list(request):
    staff = request.staff
    form = RatingFilterForm(request.GET or None, staff=staff)
    qs = ratings_read.visible_ratings(staff)
    error = ""
    if form.is_bound and not form.is_valid():
        error = "筛选条件无效,已显示全部评价。"
    elif form.is_bound:
        d = form.cleaned_data
        if d.get("state"):
            qs = qs.filter(state=d["state"])
        if d.get("bad"):
            qs = qs.filter(ratings_read.bad_q())
        if d.get("department"):
            qs = qs.filter(department_id=d["department"])
    page = Paginator(qs.select_related("case__item", "department").order_by("-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    today = workdays.today()
    rows = [{"r": r, "overdue": ratings_read.is_overdue(r, today)} for r in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "supervision/ratings/console_list.html", {
        "form": form, "page": page, "rows": rows, "error": error, "query": query.urlencode(), "nav": "ratings",
    }, status=400 if error else 200)


def _visible(staff, pk):
    if pk > MAX_PK:  # the URL takes any digits; the database does not
        raise NotFound("找不到该评价", code="rating_not_found")
    r = ratings_read.visible_ratings(staff).select_related("case__item", "department", "hall", "answered_by", "appeal_decided_by").filter(pk=pk).first()
    if r is None:
        raise NotFound("找不到该评价", code="rating_not_found")
    return r


def _detail_context(request, r, **extra):
    staff = request.staff
    own = staff.department_id == r.department_id
    context = {
        "r": r, "nav": "ratings", "overdue": ratings_read.is_overdue(r),
        "indicator_labels": [ratings.INDICATORS.get(c, c) for c in r.indicators or []],
        "can_answer": own and r.state == Rating.State.PENDING,
        "can_appeal": own and r.state == Rating.State.PENDING and r.appealed_at is None
        and (staff.is_head or staff.role in (Role.APPROVER, Role.ADMIN)),
        "can_decide": staff.role in (Role.SUPERVISOR, Role.ADMIN) and r.state == Rating.State.APPEALED,
        "due_if_rejected": ratings.due_after_rejected_appeal(r) if r.state == Rating.State.APPEALED else None,
        "error": "", "error_field": "",
    }
    context.update(extra)
    return context


@staff_console()
@require_http_methods(["GET", "HEAD"])
def console_detail(request, pk):
    try:
        r = _visible(request.staff, pk)
    except NotFound as exc:
        return render(request, "web/error.html", {"title": "找不到该页面", "message": exc.message, "status": 404}, status=404)
    return render(request, "supervision/ratings/console_detail.html", _detail_context(request, r))


@staff_console()
@require_POST
def console_action(request, pk, action):
    try:
        r = _visible(request.staff, pk)
    except NotFound as exc:
        return render(request, "web/error.html", {"title": "找不到该页面", "message": exc.message, "status": 404}, status=404)
    try:
        if action == "answer":
            ratings.answer_rating(r.pk, actor=request.user, answer=request.POST.get("answer", ""))
            done = "已答复,申请人将收到通知。"
        elif action == "appeal":
            ratings.appeal_rating(r.pk, actor=request.user, reason=request.POST.get("reason", ""))
            done = "申诉已提交效能监督人员处理。"
        elif action == "decide":
            choice = request.POST.get("upheld")
            if choice not in ("yes", "no"):
                raise ValidationError("请选择申诉是否成立", code="invalid_upheld", field="upheld")
            ratings.decide_appeal(r.pk, actor=request.user, upheld=choice == "yes", decision=request.POST.get("decision", ""))
            done = "申诉已处理。"
        else:
            return render(request, "web/error.html", {"title": "找不到该页面", "message": "没有这个操作。", "status": 404}, status=404)
    except DomainError as exc:
        r = _visible(request.staff, pk)
        return render(request, "supervision/ratings/console_detail.html",
                      _detail_context(request, r, error=exc.message, error_field=exc.field or "", posted=request.POST),
                      status=exc.status)
    flash.success(request, done)
    return redirect("console:supervision_ratings_console:detail", pk=r.pk)

"""Console: open deadline cards (预警督办) and the staff inbox, where alerts and 差评 notices arrive.

Who sees which cards is `selectors.visible_alerts`; the page only parses filters and renders.
"""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from bianmin.cases import clock
from bianmin.cases import services as case_services
from bianmin.cases.console_views import CLOCK_CLASS, staff_console
from bianmin.cases.models import Message
from bianmin.org.models import Department, Role

from . import selectors
from ..models import Alert

PAGE_SIZE = 20


class AlertFilterForm(forms.Form):
    level = forms.ChoiceField(label="级别", required=False, choices=(("", "全部"),) + tuple(Alert.Level.choices))
    scope = forms.ChoiceField(label="范围", required=False)
    department = forms.TypedChoiceField(label="部门", coerce=int, empty_value=None, required=False)

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, **kwargs)
        scopes = [("", "默认"), ("department", "本部门")]
        if staff.role in (Role.REVIEWER, Role.APPROVER):
            scopes.insert(1, ("mine", "待我办理"))
        if staff.sees_all_departments:
            scopes = [("", "全部部门"), ("department", "本部门")]
        self.fields["scope"].choices = scopes
        if staff.sees_all_departments:
            self.fields["department"].choices = [("", "全部")] + list(
                Department.objects.filter(alerts__resolved_at__isnull=True).distinct().order_by("region_id", "id")
                .values_list("pk", "name"))
        else:
            del self.fields["department"]


@staff_console()
@require_http_methods(["GET", "HEAD"])
def alert_list(request):
    staff = request.staff
    form = AlertFilterForm(request.GET or None, staff=staff)
    qs = selectors.visible_alerts(staff)
    error = ""
    if form.is_bound and not form.is_valid():
        error = "筛选条件无效,已显示全部预警。"
    elif form.is_bound:
        data = form.cleaned_data
        qs = selectors.visible_alerts(staff, data.get("scope") or "")
        if data.get("level"):
            qs = qs.filter(level=data["level"])
        if data.get("department"):
            qs = qs.filter(department_id=data["department"])
    counts = dict(qs.order_by().values_list("level").annotate(n=Count("id")))
    qs = qs.select_related("case__item", "department").order_by("level", "deadline", "id")  # "red" sorts before "yellow"
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    today = clock.today()
    clocks = {}
    rows = []
    for a in page.object_list:
        if a.deadline not in clocks:
            clocks[a.deadline] = clock.running(a.deadline, today)
        c = clocks[a.deadline]
        rows.append({"alert": a, "clock": c, "clock_class": CLOCK_CLASS.get(c.state, "")})
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "supervision/alerts/list.html", {
        "form": form, "page": page, "rows": rows, "error": error, "query": query.urlencode(),
        "red": counts.get(Alert.Level.RED, 0), "yellow": counts.get(Alert.Level.YELLOW, 0), "nav": "alerts",
    }, status=400 if error else 200)


@staff_console()
@require_http_methods(["GET", "HEAD"])
def inbox(request):
    """The staff member's inbox: alert digests, 差评 to answer, appeal decisions. Opening a page marks it read."""
    qs = Message.objects.filter(recipient=request.user).select_related("case").only(
        "id", "title", "body", "kind", "created_at", "read_at", "case__number")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    unread = [m.pk for m in page.object_list if m.read_at is None]
    if unread:
        case_services.mark_messages_read(recipient=request.user, message_ids=unread)
    return render(request, "supervision/alerts/inbox.html", {"page": page, "unread_ids": set(unread), "nav": "inbox"})

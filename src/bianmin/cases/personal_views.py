"""The personal page (市民个人网页) and the enterprise page (企业专属网页): /my/ and its sub-pages.

One home for the applicant: proactive reminders (a licence ending within 90 days and how to renew
it, a case waiting for their supplement, items commonly applied for next), my cases, my licences
(PDF, share links), who used my licences, my ratings and my messages. A legal-person applicant sees
the enterprise version. Every page shows the logged-in holder's own data only; anyone else's
licence or link is 404. Reads are a fixed number of queries whatever the lists' lengths.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from django.contrib import messages as flash
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from bianmin.catalog.models import Bundle, ServiceItem
from bianmin.core.errors import DomainError, NotFound
from bianmin.licences import documents
from bianmin.licences import selectors as licence_selectors
from bianmin.licences import sharing
from bianmin.licences.models import LicenceStatus, ShareLink

from . import clock, selectors, services
from .models import OPEN_STATUSES, Applicant, Case, CaseMaterial, CaseStatus, Message
from .public_views import _applicant, _domain_error, _paginate, applicant_required, my_cases_context

RENEWAL_DAYS = 90
NEXT_ITEMS_FILE = Path(__file__).parent / "data" / "next_items.json"  # package data (pyproject: data/*)


@lru_cache(maxsize=1)
def next_items_rules() -> dict:
    """The 'commonly applied for next' data: {by_licence_type: {code: rule}, by_item: {item code: rule}}."""
    return json.loads(NEXT_ITEMS_FILE.read_text(encoding="utf-8"))


def _published(codes) -> dict[str, ServiceItem]:
    codes = [c for c in dict.fromkeys(codes) if c]
    if not codes:
        return {}
    return {i.code: i for i in ServiceItem.objects.filter(code__in=codes, status=ServiceItem.Status.PUBLISHED)
            .only("id", "code", "name", "audience", "online_level", "department__name").select_related("department")}


def _renewals(current, today) -> list[dict]:
    """Of the current licences, those ending within 90 days, with their type's renewal hint."""
    ending = [lic for lic in current if lic.valid_until is not None and lic.valid_until <= today + timedelta(days=RENEWAL_DAYS)]
    return [{"licence": lic, "days": (lic.valid_until - today).days, "hint": lic.licence_type.renewal_hint,
             "code": lic.licence_type.renewal_item_code} for lic in sorted(ending, key=lambda x: x.valid_until)]


def _waiting(applicant: Applicant) -> list[dict]:
    """Cases waiting for the applicant: 补正 materials while 待补正, 容缺 materials while they may come."""
    rows = (CaseMaterial.objects.filter(case__in=Case.objects.filter(selectors.applicant_case_filter(applicant)))
            .filter(Q(state=CaseMaterial.State.MISSING, case__status=CaseStatus.SUPPLEMENT)
                    | Q(state=CaseMaterial.State.PENDING, case__status__in=services.TRANSITIONS["receive_pending"]))
            .select_related("case__item").only("name", "state", "case__number", "case__item__name").order_by("case_id", "order")[:100])
    by_case: dict[str, dict] = {}
    for cm in rows:
        entry = by_case.setdefault(cm.case.number, {"case": cm.case, "missing": [], "pending": []})
        entry["missing" if cm.state == CaseMaterial.State.MISSING else "pending"].append(cm.name)
    return list(by_case.values())


def _next_groups(applicant: Applicant, held_codes: set[str]) -> tuple[list[dict], set[str]]:
    """The rules for items commonly applied for next (from the licences held and the items approved),
    and the codes the applicant applied for already (not offered again)."""
    rules = next_items_rules()
    done = set(Case.objects.filter(selectors.applicant_case_filter(applicant)).exclude(status=CaseStatus.DRAFT)
               .values_list("item__code", "approved").distinct()[:500])
    approved = {code for code, ok in done if ok}
    # in the data's order: the most useful advice first
    groups = [rule for code, rule in rules.get("by_licence_type", {}).items() if code in held_codes]
    groups += [rule for code, rule in rules.get("by_item", {}).items() if code in approved]
    return groups, {code for code, _ in done}


def _next_items(applicant: Applicant, groups, applied: set[str], items: dict) -> list[dict]:
    """Only published items for this kind of applicant, each offered once."""
    out, seen = [], set()
    for g in groups:
        shown = [items[c] for c in g.get("items", []) if c in items and c not in applied and c not in seen
                 and items[c].audience in ("both", applicant.kind)]
        seen.update(i.code for i in shown)
        if shown or g.get("notes"):
            out.append({"title": g["title"], "items": shown, "notes": g.get("notes", [])})
    return out


@applicant_required
def home(request):
    context = my_cases_context(request)
    applicant = context["applicant"]
    today = clock.today()
    current = list(licence_selectors.holder_licences(applicant).filter(licence_selectors.current(today)))
    renewals = _renewals(current, today)
    groups, applied = _next_groups(applicant, {lic.licence_type.code for lic in current})
    # the renewal items and the next items in one look-up
    items = _published([r["code"] for r in renewals] + [c for g in groups for c in g.get("items", [])])
    for r in renewals:
        r["item"] = items.get(r["code"])
    finished = [CaseStatus.DECIDED, CaseStatus.DELIVERED]
    counts = selectors.applicant_cases(applicant).order_by().aggregate(
        open_count=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        to_rate=Count("pk", filter=Q(status__in=finished, rating__isnull=True)))
    context.update({
        "is_enterprise": applicant.kind == Applicant.Kind.LEGAL_PERSON, "renewals": renewals, "waiting": _waiting(applicant),
        "next_groups": _next_items(applicant, groups, applied, items), "licence_count": len(current), **counts,
        "verified": applicant.is_verified,
    })
    if context["is_enterprise"]:
        context["bundles"] = list(Bundle.objects.filter(audience__in=["legal_person", "both"]).order_by("id")[:6])
    return render(request, "cases/public/personal.html", context)


# ----------------------------------------------------------------------------- my licences

def _unread(request) -> int:
    return Message.objects.filter(recipient=request.user, read_at__isnull=True).count()


@applicant_required
@require_http_methods(["GET", "POST"])
def licences(request):
    applicant = _applicant(request)
    rows = list(licence_selectors.holder_licences(applicant)[:200])
    error, status, failed = "", 200, None
    if request.method == "POST":
        identifier = (request.POST.get("licence") or "")[:200]
        try:
            licence = licence_selectors.holder_licence(applicant, identifier)
            link, token = sharing.create_share_link(licence, holder=applicant, hours=request.POST.get("hours"),
                                                    show_fields=request.POST.getlist("fields"), actor=request.user)
        except NotFound as exc:
            return _domain_error(request, exc)
        except DomainError as exc:
            error, status, failed = exc.message, exc.status, identifier
        else:
            # the token exists only now: show the link on the next page, once
            request.session["new_share_link"] = {"url": request.build_absolute_uri(f"/licences/shared/{token}/"),
                                                 "licence": licence.name, "id": link.pk}
            flash.success(request, f"已生成“{licence.name}”的核验链接,有效至 {timezone.localtime(link.expires_at):%Y-%m-%d %H:%M}。")
            return redirect("cases_public:my_licences")
    now = timezone.now()
    links = list(ShareLink.objects.filter(licence__in=rows, revoked_at__isnull=True, expires_at__gt=now)
                 .select_related("licence").order_by("-id")[:100])
    by_licence: dict[int, list] = {}
    for link in links:
        labels = dict(sharing.field_choices(link.licence))
        link.labels = [labels.get(f, f.removeprefix("surface:")) for f in link.show_fields or []]
        by_licence.setdefault(link.licence_id, []).append(link)
    today = clock.today()
    cards = [{"licence": lic, "links": by_licence.get(lic.pk, []), "fields": sharing.field_choices(lic),
              "current": licence_selectors.is_current(lic, today),
              "ending": lic.valid_until is not None and lic.status == LicenceStatus.VALID
              and lic.valid_until <= today + timedelta(days=RENEWAL_DAYS)} for lic in rows]
    context = {"applicant": applicant, "cards": cards, "verified": applicant.is_verified, "durations": sharing.DURATIONS, "default_fields": sharing.DEFAULT_FIELDS,
               "new_link": request.session.pop("new_share_link", None) if request.method == "GET" else None,
               "error": error, "failed": failed, "unread": _unread(request),
               "is_enterprise": applicant.kind == Applicant.Kind.LEGAL_PERSON}
    return render(request, "cases/public/personal_licences.html", context, status=status)


@applicant_required
def licence_pdf(request, identifier):
    applicant = _applicant(request)
    try:
        licence = licence_selectors.holder_licence(applicant, identifier)
    except NotFound as exc:
        return _domain_error(request, exc)
    response = HttpResponse(documents.licence_pdf(licence, base_url=request.build_absolute_uri("/").rstrip("/")),
                            content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="licence-{licence.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@applicant_required
@require_POST
def revoke_share(request, link_id):
    try:
        link = sharing.revoke(link_id, holder=_applicant(request), actor=request.user)
    except NotFound as exc:
        return _domain_error(request, exc)
    flash.success(request, f"“{link.licence.name}”的分享链接已撤销,打开它将显示“已失效”。")
    return redirect("cases_public:my_licences")


@applicant_required
def licence_uses(request):
    applicant = _applicant(request)
    page, page_range = _paginate(request, licence_selectors.holder_uses(applicant))
    return render(request, "cases/public/personal_uses.html",
                  {"applicant": applicant, "page": page, "page_range": page_range, "unread": _unread(request)})


# ----------------------------------------------------------------------------- my ratings

@applicant_required
def ratings(request):
    """好差评: my ratings (supervision.Rating, read through the applicant's reverse relation) and the
    finished cases still waiting for one, linked to the rating page."""
    applicant = _applicant(request)
    given = list(applicant.ratings.select_related("case__item", "department").order_by("-created_at")[:100])
    waiting = list(Case.objects.filter(selectors.applicant_case_filter(applicant), status__in=[CaseStatus.DECIDED, CaseStatus.DELIVERED],
                                       rating__isnull=True).select_related("item").order_by("-decided_at")[:50])
    return render(request, "cases/public/personal_ratings.html",
                  {"applicant": applicant, "given": given, "waiting": waiting, "unread": _unread(request)})


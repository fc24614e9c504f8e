"""The public page of a holder's share link (/licences/shared/<token>/): the licence's verification
result and only the fields the holder chose to show. Never cached; an expired or revoked link is a
clear 410 page, an unknown one a 404."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from bianmin.core.errors import NotFound

from . import services, sharing


def _no_store(response):
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the path: never pass it on
    return response


@never_cache
@require_http_methods(["GET", "HEAD"])
def shared(request, token: str):
    try:
        link, licence = sharing.resolve(token)
    except sharing.LinkGone as exc:
        return _no_store(render(request, "licences/shared_gone.html", {"message": exc.message, "code": exc.code}, status=410))
    except NotFound as exc:
        return _no_store(render(request, "licences/shared_gone.html", {"message": exc.message, "code": exc.code}, status=404))
    context = {"v": services.verification(licence), "link": link, "shown": sharing.shown_fields(link),
               "expires_at": timezone.localtime(link.expires_at)}
    return _no_store(render(request, "licences/shared.html", context))

"""Console home: what the logged-in staff member may do, by role."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "web/console/home.html", {"staff": getattr(request.user, "staff", None)})

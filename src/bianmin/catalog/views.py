from django.http import Http404
from django.shortcuts import render

from bianmin.core.errors import ValidationError

from . import selectors


def home(request):
    try:
        f = selectors.ItemFilters.from_params(request.GET)
        page = selectors.paginate(selectors.list_columns(selectors.search_items(f)), request.GET.get("page"), 20)
        error = None
    except ValidationError as exc:
        f, page, error = selectors.ItemFilters(), None, exc.message
    return render(request, "catalog/home.html", {"filters": f, "page": page, "error": error, "options": selectors.filter_options()},
                  status=400 if error else 200)


def guide(request, code):
    item = selectors.item_detail(code[:80])
    if item is None:
        raise Http404
    return render(request, "catalog/guide.html", {"item": item})

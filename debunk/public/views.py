"""Public pages: home, debunk columns per category, rumor pages and search. Reads only, through selectors."""

import json

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe

from debunk.public.cards import claim_review, public_url
from debunk.public.forms import SearchForm
from debunk.sanctions.models import Measure, Report
from debunk.sanctions.reports import report_csv
from debunk.stock import selectors
from labels.models import Category
from search.services import search_rumors

JSON_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}  # as Django's json_script


def _pager(number: int, num_pages: int) -> dict[str, int | None]:
    """What the pagination links need, for a Django page or a search page alike."""
    return {
        "number": number,
        "num_pages": num_pages,
        "previous": number - 1 if number > 1 else None,
        "next": number + 1 if number < num_pages else None,
    }


def home(request: HttpRequest) -> HttpResponse:
    latest = Paginator(selectors.public_rumors(), settings.PUBLIC_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "debunk/home.html",
        {
            "page": latest,
            "pager": _pager(latest.number, latest.paginator.num_pages),
            "spreading": selectors.spreading_rumors(),
            "columns": selectors.columns(),
            "form": SearchForm(),
        },
    )


def column_list(request: HttpRequest) -> HttpResponse:
    return render(request, "debunk/column_list.html", {"columns": selectors.columns()})


def column(request: HttpRequest, code: str) -> HttpResponse:
    category = get_object_or_404(Category, code=code)
    page = Paginator(selectors.column_rumors(category), settings.PUBLIC_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "debunk/column.html",
        {
            "category": category,
            "page": page,
            "pager": _pager(page.number, page.paginator.num_pages),
            "children": category.children.all(),
        },
    )


def rumor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rumor = get_object_or_404(
        selectors.public_rumors().select_related("verification").prefetch_related("sources", "debunks__sources"),
        pk=pk,
    )
    json_ld = json.dumps(claim_review(rumor, request), ensure_ascii=False).translate(JSON_SCRIPT_ESCAPES)
    return render(
        request,
        "debunk/rumor_detail.html",
        {
            "rumor": rumor,
            "debunk": rumor.latest_debunk,
            "related": selectors.related_rumors(rumor),
            "share_url": public_url(rumor.get_absolute_url(), request),
            "claim_review_json": mark_safe(json_ld),
        },
    )


def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results, pager = None, None
    if form.is_valid() and form.cleaned_data["q"]:
        data = form.cleaned_data
        try:
            page_number = max(1, int(request.GET.get("page", 1)))
        except ValueError:
            page_number = 1
        results = search_rumors(
            data["q"],
            category=data["category"].pk if data["category"] else None,
            verdict=data["verdict"].code if data["verdict"] else None,
            date_from=data["date_from"],
            date_to=data["date_to"],
            page=page_number,
            per_page=settings.PUBLIC_PAGE_SIZE,
        )
        pager = _pager(results.page, results.num_pages)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "debunk/search.html", {"form": form, "results": results, "pager": pager, "query": query.urlencode()}
    )


def report_list(request: HttpRequest) -> HttpResponse:
    return render(request, "debunk/report_list.html", {"reports": Report.objects.all()[:200]})


def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(Report, pk=pk)
    label = {m.value: m.label for m in Measure}
    measures = [
        {**row, "label": label.get(row["measure"], row["measure"])} for row in report.data["sanctions_by_measure"]
    ]
    cases = [{**row, "label": label.get(row["measure"], row["measure"])} for row in report.data["typical_cases"]]
    return render(request, "debunk/report_detail.html", {"report": report, "measures": measures, "cases": cases})


def report_download(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(Report, pk=pk)
    response = HttpResponse("\ufeff" + report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{report.kind}-{report.period_start}.csv"'
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})

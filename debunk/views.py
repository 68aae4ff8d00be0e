from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from debunk.selectors import public_rumors


def home(request: HttpRequest) -> HttpResponse:
    page = Paginator(public_rumors(), 20).get_page(request.GET.get("page"))
    return render(request, "debunk/home.html", {"page": page})


def rumor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rumor = get_object_or_404(public_rumors(), pk=pk)
    return render(request, "debunk/rumor_detail.html", {"rumor": rumor})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})

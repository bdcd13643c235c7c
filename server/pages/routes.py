"""The pages' routes: parse, call one function of ``views``, render a template. No query here.

``/pages/`` the overview, ``/pages/villages/{village}`` a village, ``/pages/status/`` the public status pages,
``/pages/signin`` and ``/pages/signout``; the forms that enter manual indicators are
``server.pages.entry_routes``. Every page but the public ones needs a signed-in read key.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.deps import ServiceDep
from server.pages import views
from server.pages.auth import safe_next
from server.pages.entry_routes import entry_offer
from server.pages.rendering import (
    LangDep,
    Text,
    Viewer,
    cross_site,
    error_page,
    guarded,
    render,
    sessions,
)
from server.queries import Scope

__all__ = ["router"]

router = APIRouter(prefix="/pages", include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    service: ServiceDep,
    lang: LangDep,
    principal: Viewer,
    province: Text = "",
    district: Text = "",
    commune: Text = "",
    month: Text = "",
    start: Text = "",
    end: Text = "",
    sort: Text = "name",
    order: Text = "asc",
    q: Text = "",
    criterion: Text = "",
    verdict: Text = "",
):
    def build() -> tuple[str, dict[str, Any]]:
        period = views.period_of(service, month or None, start or None, end or None)
        scope = Scope(province=province or None, district=district or None, commune=commune or None)
        view = views.overview_view(
            service,
            scope,
            period,
            sort=sort,
            descending=order == "desc",
            search=q,
            criterion=criterion,
            verdict=verdict,
        )
        offer = entry_offer(request, principal)
        return "overview.html", {
            "view": view,
            "q": q,
            "criterion": criterion,
            "verdict": verdict,
            "entry": offer,
        }

    return guarded(request, lang, build)


@router.get("/villages/{village}", response_class=HTMLResponse)
def village(
    request: Request,
    service: ServiceDep,
    lang: LangDep,
    principal: Viewer,
    village: str,
    month: Text = "",
    start: Text = "",
    end: Text = "",
    entered: Text = "",
):
    def build() -> tuple[str, dict[str, Any]]:
        period = views.period_of(service, month or None, start or None, end or None)
        view = views.village_view(service, village, period)
        return "village.html", {"view": view, "entered": entered, "entry": entry_offer(request, principal)}

    return guarded(request, lang, build)


@router.get("/status/", response_class=HTMLResponse)
def status_index(request: Request, service: ServiceDep, lang: LangDep):
    return render(request, "status_index.html", lang, villages=views.public_villages(service))


@router.get("/status/{village}", response_class=HTMLResponse)
def status(request: Request, service: ServiceDep, lang: LangDep, village: str, month: Text = ""):
    def build() -> tuple[str, dict[str, Any]]:
        period = views.period_of(service, month or None, None, None)
        return "status.html", {"view": views.status_view(service, village[:128], period)}

    return guarded(request, lang, build)


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, lang: LangDep, next: Text = ""):
    return render(request, "signin.html", lang, next=safe_next(next, "/pages/"), failed=False)


@router.post("/signin")
async def signin(request: Request, lang: LangDep) -> Response:
    if cross_site(request):
        return error_page(request, lang, 403, lang.t("cross_site"))
    # the form is parsed here (urlencoded), so the pages need no multipart package
    try:
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=4)
    except ValueError:  # more fields than the form has: not our form
        return error_page(request, lang, 400, lang.t("bad_form"))
    key = (form.get("key") or [""])[0]
    target = safe_next((form.get("next") or [""])[0], "/pages/")
    response = RedirectResponse(target, status_code=303)
    if sessions(request).sign_in(request, response, key) is None:
        return render(request, "signin.html", lang, 401, next=target, failed=True)
    return response


@router.post("/signout")
def signout(request: Request, lang: LangDep) -> Response:
    if cross_site(request):
        return error_page(request, lang, 403, lang.t("cross_site"))
    response = RedirectResponse("/pages/signin" + ("?lang=en" if lang.code == "en" else ""), status_code=303)
    sessions(request).sign_out(request, response)
    return response

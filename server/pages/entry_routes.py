"""The forms that enter a manual indicator on the pages, for an admin key signed in: a village's, on its page
(``POST /pages/villages/{village}/indicators``). Each entry is made by ``server.indicators.put_indicator``, as
the API's ``PUT`` makes it: the same checks, record and signature.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from server.deps import Principal, ServiceDep, admin_only
from server.errors import ApiError, NotFound
from server.indicator_models import IndicatorOut
from server.indicators import describe, put_indicator
from server.pages import views
from server.pages.entry_form import EntryForm, form_refusal
from server.pages.i18n import Lang
from server.pages.refusals import refusal
from server.pages.rendering import LangDep, Viewer, cross_site, error_page, guarded, page_link, refused_page

__all__ = ["entry_offer", "router"]

router = APIRouter(prefix="/pages", include_in_schema=False)


def entry_offer(request: Request, principal: Principal) -> str:
    """What the village page offers to enter a manual indicator: ``form`` to whoever may change things,
    ``hint`` (sign in with an admin key) where there are admin keys to sign in with, else nothing."""
    try:
        admin_only(request, principal)
    except ApiError:
        state = request.app.state
        return "" if state.open_read_only or not state.config.auth.admin_keys else "hint"
    return "form"


@router.post("/villages/{village}/indicators")
async def enter_indicator(
    request: Request, service: ServiceDep, lang: LangDep, principal: Viewer, village: str
) -> Response:
    """An official's entry from the village page's form, written as the API's ``PUT`` writes it; then the
    village page naming it, or the page again with the form as typed and its field at fault (422)."""
    if cross_site(request):
        return error_page(request, lang, 403, lang.t("entry_cross_site"))
    try:
        admin_only(request, principal)
    except ApiError as err:
        read_only = request.app.state.open_read_only
        sentence = lang.t("entry_read_only" if read_only else "entry_admin_only")
        return error_page(request, lang, err.status, sentence, detail=refusal(err, lang.code))
    try:
        form = EntryForm.read(await request.body())
    except ValueError:
        return error_page(request, lang, 400, lang.t("bad_form"))

    def enter() -> IndicatorOut:
        service.require_village(village)  # before anything is written for it
        describe(form.indicator)  # before the value, which is said in the indicator's range and unit
        return put_indicator(service, village, form.indicator, form.body(), principal.name)

    try:
        entry = await run_in_threadpool(enter)
    except NotFound:
        return refused_page(request, lang, views.PageError(404, "unknown_village", village=village[:40]))
    except ApiError as err:
        said = form_refusal(err, form.indicator)
        if said is None:
            return refused_page(request, lang, err)
        message = lang.t(said.key, **{k: _shown(lang, v) for k, v in said.values.items()})
        context = {
            "entry_values": form,
            "entry_refused": said,
            "entry_message": message,
            "entry_detail": refusal(err, lang.code),
        }

        def again() -> tuple[str, dict[str, Any]]:
            view = views.village_view(service, village, views.Period())
            return "village.html", {"view": view, "entry": "form"} | context

        return await run_in_threadpool(guarded, request, lang, again, 422)
    return _to_indicators(request, lang, village, entered=entry.entered)


@router.get("/villages/{village}/indicators")
def entry_reloaded(request: Request, lang: LangDep, village: str) -> Response:
    """The form's address asked for again (a reload, a sign-in that came back to it): the village page."""
    return _to_indicators(request, lang, village[:128])


def _to_indicators(request: Request, lang: Lang, village: str, **query: str) -> RedirectResponse:
    """To the village page's manual indicators (303: a form's post is not sent again)."""
    target = page_link(request, lang, f"/pages/villages/{quote(village, safe='')}", **query)
    return RedirectResponse(target + "#indicators", status_code=303)


def _shown(lang: Lang, value: object) -> str:
    if isinstance(value, float):
        return lang.number(value, 0 if value.is_integer() else 2)
    return lang.unit(str(value))

"""The forms that enter a manual indicator on the pages, for an admin key signed in: a village's, on its page
(``POST /pages/villages/{village}/indicators``), and a commune's table of its villages
(``/pages/communes/{commune}/indicators``, ``server.pages.commune_entry``). Each entry is made by
``server.indicators.put_indicator``, as the API's ``PUT`` makes it: the same checks, record and signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from server.deps import Principal, ServiceDep, admin_only
from server.errors import ApiError
from server.failures import FAILURES, failure_of
from server.indicator_models import IndicatorOut
from server.indicators import describe, put_indicator
from server.pages import views
from server.pages.commune_entry import (
    FIRST_INDICATOR,
    CommuneForm,
    CommuneView,
    Refused,
    checked,
    commune_view,
)
from server.pages.entry_form import EntryForm, NotTheForm, form_refusal
from server.pages.i18n import Lang
from server.pages.refusals import Refusal, refusal
from server.pages.rendering import (
    LangDep,
    Text,
    Viewer,
    cross_site,
    error_page,
    guarded,
    page_link,
    refused_page,
    render,
)
from server.timeparse import ms_of
from thonminh.figures import INDICATORS

__all__ = ["entry_offer", "router"]

router = APIRouter(prefix="/pages", include_in_schema=False)
#: what may stop a commune's entries midway: a refusal no check foresaw, or a service failing
_MIDWAY: tuple[type[Exception], ...] = (ApiError, *FAILURES)


def entry_offer(request: Request, principal: Principal) -> str:
    """What the village page offers to enter a manual indicator: ``form`` to whoever may change things,
    ``hint`` (sign in with an admin key) where there are admin keys to sign in with, else nothing."""
    try:
        admin_only(request, principal)
    except ApiError:
        state = request.app.state
        return "" if state.open_read_only or not state.config.auth.admin_keys else "hint"
    return "form"


def _not_for(request: Request, lang: Lang, principal: Principal, *, posted: bool) -> Response | None:
    """The page that refuses an entry form to this request, or None: a form posted from another site, a
    read key, open read-only mode (``server.deps.admin_only``, as the API's admin routes)."""
    if posted and cross_site(request):
        return error_page(request, lang, 403, lang.t("entry_cross_site"))
    try:
        admin_only(request, principal)
    except ApiError as err:
        read_only = request.app.state.open_read_only
        sentence = lang.t("entry_read_only" if read_only else "entry_admin_only")
        return error_page(request, lang, err.status, sentence, detail=refusal(err, lang.code))
    return None


@router.post("/villages/{village}/indicators")
async def enter_indicator(
    request: Request, service: ServiceDep, lang: LangDep, principal: Viewer, village: str
) -> Response:
    """An official's entry from the village page's form, written as the API's ``PUT`` writes it; then the
    village page naming it, or the page again with the form as typed and its field at fault (422)."""
    refused = _not_for(request, lang, principal, posted=True)
    if refused is not None:
        return refused
    try:
        form = EntryForm.read(await request.body())
    except NotTheForm as err:
        return error_page(request, lang, 400, lang.t(f"bad_form_{err.why}", field=err.field))

    def enter() -> IndicatorOut:
        views.require_village(service, village)  # before anything is written for it
        describe(form.indicator)  # before the value, which is said in the indicator's range and unit
        return put_indicator(service, village, form.indicator, form.body(), principal.name)

    try:
        entry = await run_in_threadpool(enter)
    except views.PageError as err:
        return refused_page(request, lang, err)
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


@router.get("/communes/{commune}/indicators", response_class=HTMLResponse)
def commune_table(
    request: Request,
    service: ServiceDep,
    lang: LangDep,
    principal: Viewer,
    commune: str,
    indicator: Text = "",
    entered: Text = "",
) -> Response:
    """The commune's table: its villages, each with the value that counts now and a field for a new one."""
    refused = _not_for(request, lang, principal, posted=False)
    if refused is not None:
        return refused

    def build() -> tuple[str, dict[str, Any]]:
        view = commune_view(service, commune, indicator or FIRST_INDICATOR)
        since_ms = _ms_or_none(entered)
        fresh = [row for row in view.rows if since_ms is not None and row.entered_since(since_ms)]
        return "commune_entry.html", {"view": view, "fresh": fresh}

    return guarded(request, lang, build)


@router.post("/communes/{commune}/indicators")
async def enter_for_commune(
    request: Request, service: ServiceDep, lang: LangDep, principal: Viewer, commune: str
) -> Response:
    """The table's values, every one checked before any is entered, each then entered for its own village;
    then the table naming them, or the table again with its refused values marked (422)."""
    refused = _not_for(request, lang, principal, posted=True)
    if refused is not None:
        return refused
    try:
        form = CommuneForm.read(await request.body())
    except NotTheForm as err:
        return error_page(request, lang, 400, lang.t(f"bad_form_{err.why}", field=err.field))

    def enter() -> Response:
        view = commune_view(
            service, commune, form.indicator if form.indicator in INDICATORS else FIRST_INDICATOR
        )
        if not form.of_villages([row.village for row in view.rows]):
            return error_page(request, lang, 400, lang.t("bad_form_villages"))
        bodies, said = checked(service, form)
        if said is not None:
            return _table(request, lang, view, 422, form=form, refused=said)
        done: list[IndicatorOut] = []
        for village, body in bodies.items():
            try:
                done.append(put_indicator(service, village, form.indicator, body, principal.name))
            except _MIDWAY as err:
                if not done:  # nothing entered: refused as the village's form is
                    raise
                return _partly(request, lang, view, form, done, err)
        target = page_link(
            request,
            lang,
            f"/pages/communes/{quote(commune, safe='')}/indicators",
            indicator=form.indicator,
            entered=done[0].entered,
        )
        return RedirectResponse(target + "#entered", status_code=303)

    try:
        return await run_in_threadpool(enter)
    except (views.PageError, ApiError) as err:
        return refused_page(request, lang, err)


def _table(
    request: Request, lang: Lang, view: CommuneView, status: int, *, form: CommuneForm, refused: Refused
) -> Response:
    """The commune's table again, as typed, saying why none of its values is entered."""
    names = {"n": lang.number(len(refused.villages), 0), "left": _names(view, refused.villages)}
    message = lang.t(refused.key, **names, **{k: _shown(lang, v) for k, v in refused.values.items()})
    if refused.villages:  # values refused: which villages', then why
        message = f"{lang.t('commune_refused', **names)} {message}"
    detail = refusal(refused.error, lang.code) if refused.error is not None else None
    context = {
        "view": view,
        "form": form,
        "refused": refused,
        "message": message,
        "detail": detail,
        "marked": refused.fields([row.village for row in view.rows]),
    }
    return render(request, "commune_entry.html", lang, status, **context)


def _partly(
    request: Request,
    lang: Lang,
    view: CommuneView,
    form: CommuneForm,
    done: Sequence[IndicatorOut],
    err: Exception,
) -> Response:
    """The table after a failure midway (InfluxDB down): what is entered stays so and is named; the rest is
    kept in the table, to send again."""
    entered = {entry.village for entry in done}
    left = [v for v in form.typed() if v not in entered]
    detail: Refusal | None = None
    if isinstance(err, ApiError):
        detail = refusal(err, lang.code)
        status, cause = err.status, detail.sentence
    else:
        failure = failure_of(err)
        status, cause = failure.status, lang.t(failure.page)
    said = lang.t("commune_partly", done=_names(view, [e.village for e in done]), left=_names(view, left))
    context = {
        "view": view,
        "form": replace(form, values={v: form.values[v] for v in left}),
        "refused": None,
        "message": f"{said} {cause}",
        "detail": detail,
    }
    return render(request, "commune_entry.html", lang, status, **context)


def _names(view: CommuneView, villages: Sequence[str]) -> str:
    return ", ".join(view.name_of(v) for v in villages)


def _ms_or_none(text: str) -> int | None:
    try:
        return ms_of(text) if text else None
    except ValueError:  # not an entry's time: no notice
        return None

"""The pages' routes: parse, call one function of ``views``, render a template. No query here.

``/pages/`` the overview, ``/pages/villages/{village}`` a village (and its form for a manual indicator, posted
to ``.../indicators`` by an admin key), ``/pages/status/`` the public status pages, ``/pages/signin`` and
``/pages/signout``. Every page but the public ones needs a signed-in read key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from server.deps import Principal, ServiceDep, admin_only
from server.errors import ApiError, NotFound, NotReady
from server.indicator_models import IndicatorOut
from server.indicators import describe, put_indicator
from server.pages import views
from server.pages.auth import Sessions, safe_next
from server.pages.charts import bar_chart
from server.pages.entry_form import EntryForm, form_refusal, typed
from server.pages.i18n import Lang, lang_of
from server.pages.refusals import Refusal, refusal
from server.queries import Scope

__all__ = ["SignInRequired", "error_page", "page_lang", "router", "templates"]

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["typed"] = typed
router = APIRouter(prefix="/pages", include_in_schema=False)

Text = Annotated[str, Query(max_length=200)]


class SignInRequired(Exception):
    """A protected page asked for without a session or key: answered 401 with the sign-in form."""


def page_lang(request: Request, lang: Annotated[str | None, Query(max_length=8)] = None) -> Lang:
    return Lang(lang_of(lang), request.app.state.service.zone)


LangDep = Annotated[Lang, Depends(page_lang)]


def sessions(request: Request) -> Sessions:
    return request.app.state.page_sessions


def viewer(request: Request) -> Principal:
    principal = sessions(request).principal(request)
    if principal is None:
        raise SignInRequired()
    return principal


Viewer = Annotated[Principal, Depends(viewer)]


def page_link(request: Request, lang: Lang, path: str, **query: str | None) -> str:
    """A link to another page of this site in the same language, under the proxy's prefix if any."""
    params = {k: v for k, v in query.items() if v} | ({"lang": lang.code} if lang.code != "vi" else {})
    return request.scope.get("root_path", "") + path + (f"?{urlencode(params)}" if params else "")


def render(request: Request, name: str, lang: Lang, status: int = 200, **context: Any) -> HTMLResponse:
    principal = sessions(request).principal(request)
    base = request.scope.get("root_path", "")

    def with_lang(code: str) -> str:
        query = {k: v for k, v in request.query_params.items() if k != "lang"} | (
            {"lang": code} if code != "vi" else {}
        )
        return request.url.path + (f"?{urlencode(query)}" if query else "")

    def link(path: str, **query: str | None) -> str:
        return page_link(request, lang, path, **query)

    return templates.TemplateResponse(
        request,
        name,
        {
            "L": lang,
            "principal": principal,
            "base": base,
            "with_lang": with_lang,
            "link": link,
            "chart": bar_chart,
            "VERDICTS": views.VERDICTS_SHOWN,
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **context,
        },
        status_code=status,
    )


def error_page(
    request: Request,
    lang: Lang,
    status: int,
    message: str,
    *,
    retry_after_s: int | None = None,
    detail: Refusal | None = None,
) -> HTMLResponse:
    """The page that says why a request got no answer; with ``retry_after_s`` it comes back by itself then."""
    page = render(
        request, "error.html", lang, status, message=message, refresh_s=retry_after_s, refusal=detail
    )
    if retry_after_s:
        page.headers["Retry-After"] = str(retry_after_s)
    return page


def guarded(
    request: Request, lang: Lang, build: Callable[[], tuple[str, dict[str, Any]]], status: int = 200
) -> HTMLResponse:
    """Render what ``build`` returns; a refused request (unknown village, bad month, bad time) is a page
    that says why, with its status, never a 500."""
    try:
        name, context = build()
    except (views.PageError, ApiError) as err:
        return refused_page(request, lang, err)
    return render(request, name, lang, status, **context)


def refused_page(request: Request, lang: Lang, err: views.PageError | ApiError) -> HTMLResponse:
    """The page that says why ``err`` refused the request, with its status."""
    if isinstance(err, views.PageError):
        return error_page(request, lang, err.status, lang.t(err.key, **err.values))
    if isinstance(err, NotReady):  # a first start still verifying a province: the page comes back by itself
        message = lang.t("not_ready", since=lang.when(err.since_ms))
        return error_page(request, lang, err.status, message, retry_after_s=err.retry_after_s)
    said = refusal(err, lang.code)  # the API's English message for a service, under the page's own sentence
    return error_page(request, lang, err.status, said.sentence, detail=said)


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    service: ServiceDep,
    lang: LangDep,
    _: Viewer,
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
        return "overview.html", {"view": view, "q": q, "criterion": criterion, "verdict": verdict}

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
        view = _village_view(service, village, period)
        return "village.html", {"view": view, "entered": entered, "entry": _entry_offer(request, principal)}

    return guarded(request, lang, build)


def _village_view(service: ServiceDep, village: str, period: views.Period) -> views.VillageView:
    """The village page's view, or the page that says the data has no such village (404)."""
    if len(village) > 128:
        raise views.PageError(404, "unknown_village", village=village[:40])
    try:
        return views.village_view(service, village, period)
    except NotFound as err:
        raise views.PageError(404, "unknown_village", village=village) from err


def _entry_offer(request: Request, principal: Principal) -> str:
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
    if _cross_site(request):
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
            view = _village_view(service, village, views.Period())
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


def _cross_site(request: Request) -> bool:
    """Whether a form was posted from another site: a page elsewhere could sign an official's browser in with
    its own key, or out. A browser says so in ``Sec-Fetch-Site``; an older one only in ``Origin``, compared with
    the host it asked (not the scheme, which a TLS proxy hides). A client that sends neither (curl, a script)
    is no browser carrying someone's session. Go's ``http.CrossOriginProtection`` decides the same way."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != request.headers.get("host", "")


@router.post("/signin")
async def signin(request: Request, lang: LangDep) -> Response:
    if _cross_site(request):
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
    if _cross_site(request):
        return error_page(request, lang, 403, lang.t("cross_site"))
    response = RedirectResponse("/pages/signin" + ("?lang=en" if lang.code == "en" else ""), status_code=303)
    sessions(request).sign_out(request, response)
    return response

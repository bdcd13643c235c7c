"""What every page route uses: the templates, the page's language, who is signed in, and the pages that say why
a request got no answer. No route here (``server.pages.routes``, ``server.pages.entry_routes``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server.deps import Principal
from server.errors import ApiError, NotReady
from server.pages import views
from server.pages.auth import Sessions
from server.pages.charts import bar_chart
from server.pages.entry_form import typed
from server.pages.i18n import Lang, lang_of
from server.pages.refusals import Refusal, refusal

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

__all__ = [
    "LangDep",
    "SignInRequired",
    "Text",
    "Viewer",
    "cross_site",
    "error_page",
    "guarded",
    "page_lang",
    "page_link",
    "refused_page",
    "render",
    "sessions",
    "templates",
]

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["typed"] = typed

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
        values = {k: _month_said(lang, v) if k == "month" else v for k, v in err.values.items()}
        return error_page(request, lang, err.status, lang.t(err.key, **values))
    if isinstance(err, NotReady):  # a first start still verifying a province: the page comes back by itself
        message = lang.t("not_ready", since=lang.when(err.since_ms))
        return error_page(request, lang, err.status, message, retry_after_s=err.retry_after_s)
    said = refusal(err, lang.code)  # the API's English message for a service, under the page's own sentence
    return error_page(request, lang, err.status, said.sentence, detail=said)


def cross_site(request: Request) -> bool:
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
    try:
        host = urlsplit(origin).netloc
    except ValueError:  # not a URL (``http://[::1``): no browser of this site sent it
        return True
    return origin == "null" or host != request.headers.get("host", "")


def _month_said(lang: Lang, value: object) -> object:
    """A month (``2027-05``) as people write it (05/2027); anything else, as typed."""
    return lang.month(value) if isinstance(value, str) and _MONTH.fullmatch(value) else value

"""Evidence people can read: server-rendered pages of the criteria service (docs/pages.md).

Everything a page needs is served by the package itself (the village network is often offline): the HTML,
its stylesheet, SVG charts drawn on the server, and the API's Swagger UI from the ``swagger-ui-bundle-v2``
package. ``install`` mounts it all on the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from server.errors import ApiError
from server.pages import entry_routes, routes
from server.pages.auth import Sessions
from server.pages.rendering import SignInRequired, error_page, page_lang, refused_page, render

__all__ = ["install", "refusal_page", "refused_request_page"]

STATIC = Path(__file__).resolve().parent / "static"


def _sign_in_page(request: Request, _: Exception) -> HTMLResponse:
    lang = page_lang(request, request.query_params.get("lang"))
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(request, "signin.html", lang, 401, next=here, failed=False, refused=True)


def refusal_page(
    request: Request, key: str, status: int, retry_after_s: int | None = None
) -> HTMLResponse | None:
    """For a page's request, the page that says in words (``key`` in ``server.pages.words``) why it got no answer:
    a service it needs failed (reloading itself after ``retry_after_s``), or its form was too large; None for
    any other request (the API's JSON answers it)."""
    if not request.url.path.startswith("/pages/"):
        return None
    lang = page_lang(request, request.query_params.get("lang"))
    message = lang.t(key)
    if request.method == "POST" and request.url.path.endswith("/indicators"):  # an entry: nothing was written
        message = f"{lang.t('entry_refused')} {message}"
    return error_page(request, lang, status, message, retry_after_s=retry_after_s)


def refused_request_page(request: Request, err: ApiError) -> HTMLResponse | None:
    """For a page's request that a check before its route refused (a query value too long, an unknown time zone
    in ``tz``), the page that says so in words, with the API's message as the detail; None for any other
    request (the API's JSON answers it)."""
    if not request.url.path.startswith("/pages/"):
        return None
    return refused_page(request, page_lang(request, request.query_params.get("lang")), err)


def install(app: FastAPI, api_prefix: str) -> None:
    """The pages under ``/pages``, their static files, ``/`` to the overview, and the API docs at
    ``{api_prefix}/docs`` with Swagger UI served from this machine."""
    app.state.page_sessions = Sessions(app.state.config)
    app.include_router(routes.router)
    app.include_router(entry_routes.router)
    app.mount("/pages/static", StaticFiles(directory=STATIC), name="pages-static")
    app.mount(f"{api_prefix}/docs-assets", StaticFiles(directory=Path(swagger_ui_path)), name="docs-assets")
    app.add_exception_handler(SignInRequired, _sign_in_page)

    @app.middleware("http")
    async def no_framing(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # a signed-in page framed by another site could be clicked through blind (clickjacking); nothing here
        # is meant to be embedded, and no answer is to be sniffed as another type than it says
        response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/pages/", status_code=307)

    @app.get(f"{api_prefix}/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root_path = request.scope.get("root_path", "")
        assets = f"{root_path}{api_prefix}/docs-assets"
        return get_swagger_ui_html(
            openapi_url=f"{root_path}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

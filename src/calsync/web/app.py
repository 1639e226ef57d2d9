"""The admin pages' frame: who is logged in (`Visitor`), what each page needs
(`page_for`, `form_for`), rendering, the error pages, logging in and out, and `mount`,
which adds all of it to the application under /admin (and `/` redirecting there).

A page needs the same permission as the API route that reads or does the same thing
(`calsync.domain.access`): without a session a page redirects to the login (a form gets
401), a role that may not gets 403, a form without its CSRF token gets 403.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import StatementError

from calsync.api.errors import STATUSES, unstorable_detail
from calsync.api.services import ServicesDep
from calsync.bootstrap import Services
from calsync.domain.access import Permission, Role, allows
from calsync.domain.approvals import Identity
from calsync.errors import ApprovalDecided, CalsyncError, NotAPerformer
from calsync.store.health import HistoryCache
from calsync.web import csrf
from calsync.web.session import COOKIE, PATH, SHARED_KEY_ENV, SessionSigner

#: The API's statuses for calsync's errors, and those only a page's decision meets.
STATUSES_OF_PAGES = ((NotAPerformer, 403), (ApprovalDecided, 409), *STATUSES)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def when(moment: datetime | str | None) -> str:
    """A time as the pages show it: to the second, in UTC, or a dash."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def age(span: timedelta | None) -> str:
    """How long, in the two largest units: `3 d 4 h`, `12 min 5 s`, or a dash."""
    if span is None:
        return "—"
    seconds = max(0, int(span.total_seconds()))
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    parts: list[str] = []
    for name, size in units:
        if seconds >= size or (name == "s" and not parts):
            parts.append(f"{seconds // size} {name}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


templates.env.filters["when"] = when
templates.env.filters["age"] = age


class LoginNeeded(Exception):
    """No live session: log in first."""


class Forbidden(Exception):
    """The visitor's role may not see or do this."""


@dataclass(frozen=True)
class Visitor:
    """Who is logged in: their token's key, role and performer address, and the
    session's CSRF token (each form carries it)."""

    key: str
    role: Role
    performer: str
    csrf: str

    def may(self, *wanted: Permission) -> bool:
        return allows(self.role, *wanted)

    @property
    def identity(self) -> Identity:
        """Who decides an approval (`calsync.domain.approvals.may_decide`): as the API
        names the caller (`calsync.api.approvals.identity`), a token without a performer
        address by its key, so that the audit names who decided."""
        return Identity(
            (self.performer or f"token:{self.key}").lower(), frozenset({self.role.value})
        )


def signer_of(request: Request) -> SessionSigner:
    signer: SessionSigner = request.app.state.session_signer
    return signer


def history_cache(request: Request) -> HistoryCache:
    """The dashboard's closed days' figures, kept by this process (made by `mount`)."""
    cache: HistoryCache = request.app.state.dashboard_history
    return cache


HistoryDep = Annotated[HistoryCache, Depends(history_cache)]


def visitor(request: Request, services: ServicesDep) -> Visitor:
    session = signer_of(request).read(request.cookies.get(COOKIE), services.clock())
    if session is None:
        raise LoginNeeded
    with services.lookup() as uow:
        stored = uow.tokens.live(session.key)
    if stored is None:
        raise LoginNeeded
    return Visitor(stored.key, stored.role, stored.performer, session.csrf)


VisitorDep = Annotated[Visitor, Depends(visitor)]


def page_for(*wanted: Permission) -> Callable[[Visitor], Visitor]:
    """A dependency admitting a visitor whose role grants any of `wanted`."""

    def admitted(who: VisitorDep) -> Visitor:
        if not who.may(*wanted):
            names = " or ".join(permission.value for permission in wanted)
            raise Forbidden(f"a {who.role.value} may not see or do this (it needs {names})")
        return who

    return admitted


def form_for(*wanted: Permission) -> Callable[..., Visitor]:
    """As `page_for`, for a form's POST: its `csrf` field must be the session's."""
    admitted = page_for(*wanted)

    def checked(who: VisitorDep, token: Annotated[str, Form(alias=csrf.FIELD)] = "") -> Visitor:
        csrf.check(who.csrf, token)
        return admitted(who)

    return checked


def render(
    request: Request,
    template: str,
    who: Visitor | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"who": who, "Permission": Permission, **context},
        status_code=status_code,
    )


class PageRoute(APIRoute):
    """A route of the admin pages: its failures are pages too, never JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginNeeded:
                if request.method == "GET":
                    wanted = quote(request.url.path + _query(request))
                    return RedirectResponse(f"{PATH}/login?next={wanted}", status_code=303)
                return _error(request, 401, "your session ended: log in again")
            except (Forbidden, csrf.CsrfRefused) as exc:
                return _error(request, 403, str(exc))
            except CalsyncError as exc:
                code = next((c for kind, c in STATUSES_OF_PAGES if isinstance(exc, kind)), 500)
                return _error(request, code, str(exc))
            except HTTPException as exc:
                return _error(request, exc.status_code, str(exc.detail))
            except RequestValidationError as exc:
                wrong = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
                return _error(request, 422, f"not understood: {', '.join(wrong)}")
            except (StatementError, UnicodeEncodeError) as exc:
                detail = unstorable_detail(exc)
                if detail is None:
                    raise
                return _error(request, 422, detail)

        return page


def _query(request: Request) -> str:
    return f"?{request.url.query}" if request.url.query else ""


def _error(request: Request, code: int, message: str) -> HTMLResponse:
    return render(request, "error.html", None, code, code=code, message=message)


def after_login(who: Visitor, wanted: str) -> str:
    """Where a visitor goes after logging in: the page they asked for if they may see it
    (an approver may see only the approvals), else the dashboard or the approvals."""
    approvals = f"{PATH}/approvals"
    if who.may(Permission.read):
        return wanted or f"{PATH}/"
    if who.may(Permission.decide):
        return wanted if wanted.startswith(approvals) else approvals
    return f"{PATH}/"


def set_cookie(response: Response, request: Request, name: str, value: str, seconds: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


login_router = APIRouter(prefix=PATH, route_class=PageRoute, include_in_schema=False)


@login_router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> Response:
    token = csrf.new_token()
    response = render(request, "login.html", None, csrf_token=token, next=_safe(next))
    set_cookie(response, request, csrf.LOGIN_COOKIE, token, 3600)
    return response


@login_router.post("/login", response_class=HTMLResponse)
def log_in(
    request: Request,
    services: ServicesDep,
    token: Annotated[str, Form()] = "",
    form_csrf: Annotated[str, Form(alias=csrf.FIELD)] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    csrf.check(request.cookies.get(csrf.LOGIN_COOKIE), form_csrf)
    with services.read() as uow:
        stored = uow.tokens.verify(token.strip())
    if stored is None:
        fresh = csrf.new_token()
        response = render(
            request,
            "login.html",
            None,
            401,
            csrf_token=fresh,
            next=_safe(next),
            failed="This token is unknown or revoked.",
        )
        set_cookie(response, request, csrf.LOGIN_COOKIE, fresh, 3600)
        return response
    signer = signer_of(request)
    session, cookie = signer.start(stored.key, services.clock())
    who = Visitor(stored.key, stored.role, stored.performer, session.csrf)
    going = RedirectResponse(after_login(who, _safe(next)), status_code=303)
    set_cookie(going, request, COOKIE, cookie, int(signer.lifetime.total_seconds()))
    going.delete_cookie(csrf.LOGIN_COOKIE, path=PATH)
    return going


@login_router.post("/logout")
def log_out(who: Annotated[Visitor, Depends(form_for(*Permission))]) -> Response:
    del who  # any live session may end itself
    response = RedirectResponse(f"{PATH}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
    return response


def _safe(next_page: str) -> str:
    """Only a page of the admin pages is a place to go back to after logging in."""
    if next_page.startswith(f"{PATH}/") and not next_page.startswith("//"):
        return next_page
    return ""


def mount(app: FastAPI, services: Services) -> None:
    """Add the admin pages to `app`: /admin, its static files, `/` redirecting there."""
    from calsync.web import approvals, dashboard, exchange_log, items

    web = services.settings.web
    shared = os.environ.get(SHARED_KEY_ENV, "")
    # The key `calsync serve` drew is 43 characters; a shorter one is not its own.
    secret = web.session_secret() or (shared if len(shared) >= 32 else None)
    app.state.session_signer = SessionSigner(secret, timedelta(hours=web.session_hours))
    app.state.dashboard_history = HistoryCache()
    app.mount(f"{PATH}/static", StaticFiles(directory=HERE / "static"), name="admin-static")
    for part in (login_router, dashboard.router, exchange_log.router, approvals.router):
        app.include_router(part)
    app.include_router(items.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=307)

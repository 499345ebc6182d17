"""The dashboard: server-rendered pages (Jinja2) at ``/``, with uPlot charts and a little JavaScript of
our own, every asset served from this package (``/ui/static``), so it works without the internet and
installs with pip alone.

Views (``views/``, one router each): the overview (``/``), the models (``/models``), one model
(``/models/{name}``), one feature (``/models/{name}/features/{feature}``), the alerts console
(``/alerts``), incidents (``/incidents``, ``/incidents/{id}``), rules and SLOs with rule replay
(``/rules``, ``/rules/replay``), the alert-quality review (``/review``), drift reports (``/reports``), and
placeholders for the views not built yet. Every page takes the same time range in its URL
(``timerange``), is allowed by one dependency (``deps.ui_caller``), and reads the services the JSON API
reads (``vigil.server.services``). Forms post to their view's paths and go through ``forms`` (read the
form, check its CSRF field (``csrf``), call the service, go back to the page).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from vigil.server.ui.render import ENV, STATIC, Page, render
from vigil.server.ui.views import (
    alerts,
    features,
    incidents,
    models,
    overview,
    pending,
    procedure,
    reports,
    review,
    rules,
)

__all__ = ["ROUTERS", "compile_templates", "mount"]

ROUTERS = (overview, models, features, alerts, incidents, rules, review, reports, procedure, pending)

_FAVICON = files("vigil.server.ui").joinpath("static", "favicon.svg").read_bytes()


def mount(app: FastAPI) -> None:
    """Serve the dashboard's pages and assets on ``app``."""
    static = StaticFiles(packages=[("vigil.server.ui", "static")])
    app.mount(STATIC, GZipMiddleware(static, minimum_size=1024), name="ui-static")
    for view in ROUTERS:
        app.include_router(view.router)
    app.state.refused_page = _refused

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(_FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


def _refused(request: Request, why: str) -> Response:
    """The page of a request the caller's role may not make (403), with a way to sign in as someone else."""
    back = request.headers.get("referer") or "/"
    changed = request.method not in ("GET", "HEAD")
    return render(
        request,
        "refused.html",
        Page("Not allowed", ""),
        status=403,
        why=why,
        back=back,
        changed=changed,
        sign_in=True,
    )


def compile_templates() -> None:
    """Compile every page template now (Jinja2 keeps them), not at each one's first request."""
    for name in ENV.list_templates(extensions=["html"]):
        ENV.get_template(name)

"""Where a request's time goes, for the capacity run (bench/load/run.sh, LOAD_MODE=capacity;
docs/load.md): database, templates, the rest (Python). Enabled only by bench/load/settings.py.

Per request, the middleware measures:

- the database: every query's wall time, through `connection.execute_wrapper` (the round trip
  to PostgreSQL, fetching included for the cursor's execute);
- the templates: the top-level renders (`django.template.backends.django.Template.render`,
  what `render()`, TemplateResponse and the admin call; an `{% include %}` runs inside it),
  less the queries run during the render (a lazy queryset evaluated by a template is database
  time, not template time);
- Python: the rest of the request's time in the process (the view, forms, serializers,
  middleware, the password hash of a login, the image check of a filing).

Each request appends one JSON line to $LOAD_TIMING_FILE (O_APPEND, one write per line, so
the gunicorn workers never interleave): the Locust request name the client sent in
X-Load-Name, the time and the three parts in milliseconds, the number of queries.
bench/load/report.py aggregates them per request type for the step the report names.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template.backends.django import Template as BackendTemplate

_state = threading.local()
_original_render = BackendTemplate.render


def _timed_render(self: Any, context: Any = None, request: Any = None) -> Any:
    if getattr(_state, "active", False) and not getattr(_state, "in_template", False):
        _state.in_template = True
        db_before = _state.db
        started = time.perf_counter()
        try:
            return _original_render(self, context, request)
        finally:
            elapsed = time.perf_counter() - started
            _state.in_template = False
            _state.template += elapsed - (_state.db - db_before)
    return _original_render(self, context, request)


BackendTemplate.render = _timed_render  # type: ignore[method-assign]


def _db_wrapper(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        _state.db += time.perf_counter() - started
        _state.queries += 1


class TimingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        path = os.environ.get("LOAD_TIMING_FILE", "")
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if path else None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.fd is None:
            return self.get_response(request)
        _state.active, _state.in_template = True, False
        _state.db, _state.template, _state.queries = 0.0, 0.0, 0
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(_db_wrapper):
                response = self.get_response(request)
        finally:
            _state.active = False
        total = time.perf_counter() - started
        line = {
            "at": round(time.time(), 3),
            "name": request.headers.get("X-Load-Name", f"{request.method} {request.path}"),
            "status": response.status_code,
            "ms": round(total * 1000, 2),
            "db": round(_state.db * 1000, 2),
            "tpl": round(_state.template * 1000, 2),
            "py": round((total - _state.db - _state.template) * 1000, 2),
            "queries": _state.queries,
        }
        os.write(self.fd, (json.dumps(line, ensure_ascii=False) + "\n").encode())
        return response

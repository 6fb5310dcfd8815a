"""Server-rendered pages: Jinja2 templates, our own CSS, plain forms with CSRF tokens."""

from regentra.web.router import web_router
from regentra.web.templating import render_error

__all__ = ["render_error", "web_router"]

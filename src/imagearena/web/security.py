"""Security headers on every response: no MIME sniffing, no framing, and a Content-Security-Policy
that lets pages load only what this server serves.

The policy is read off the templates when the app is built: an inline event handler attribute
(``onsubmit="..."``) is allowed by its hash (``'unsafe-hashes'``), so no other inline script runs, and
inline styles (``style=`` attributes, ``<style>``) are allowed only while some template has one.
Pages should keep both in the static files; the browser test reports any violation.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path

from imagearena.web.asgi import ASGIApp, Message, Receive, Scope, Send

_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_INLINE_STYLE = re.compile(r"<style[\s>]|\sstyle\s*=", re.IGNORECASE)


def inline_handler_hashes(template_dir: Path) -> list[str]:
    """CSP source expressions for every inline event handler written in the templates."""
    hashes = set()
    for template in sorted(template_dir.glob("*.html")):
        for match in _HANDLER.finditer(template.read_text(encoding="utf-8")):
            code = html.unescape(match.group(1) if match.group(1) is not None else match.group(2))
            digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
            hashes.add(f"'sha256-{digest}'")
    return sorted(hashes)


def has_inline_styles(template_dir: Path) -> bool:
    return any(_INLINE_STYLE.search(t.read_text(encoding="utf-8")) for t in template_dir.glob("*.html"))


def content_security_policy(template_dir: Path) -> str:
    handlers = inline_handler_hashes(template_dir)
    script = " ".join(["'self'", *(["'unsafe-hashes'", *handlers] if handlers else [])])
    style = "'self' 'unsafe-inline'" if has_inline_styles(template_dir) else "'self'"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {script}",
            f"style-src {style}",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", csp.encode()),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                extra = [(name, value) for name, value in self.headers if name not in present]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

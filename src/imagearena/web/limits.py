"""A limit on the size of every request body, enforced before any route parses it.

A declared Content-Length over the limit is refused at once; a streamed (chunked) body is counted
as it arrives and refused at the first chunk past the limit, whatever the route does with it.
"""

from __future__ import annotations

from imagearena.web.asgi import ASGIApp, Message, Receive, Scope, Send, header, send_error


class BodyTooLarge(Exception):
    """Raised into the route that reads a body past the limit; the middleware answers 413."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app on a receive that counts bytes; past the limit, its answer is replaced by 413."""
        received = 0
        over = started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # whatever the route made of the cut-off body, the client gets the 413
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_error(
            scope,
            receive,
            send,
            413,
            "PayloadTooLarge",
            f"the request body is over {self.max_bytes} bytes: send less "
            "(the limit is IMAGEARENA_MAX_BODY_BYTES)",
        )


def _declared_length(scope: Scope) -> int:
    value = header(scope, b"content-length")
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0  # a malformed length is the server's to reject; the count still applies

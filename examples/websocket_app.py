"""WebSocket: browsers cannot set headers on a WebSocket, so accept the token as a query parameter.

``wss://example.com/ws?access_token=<token>``. URLs end up in access logs, so keep
these tokens short-lived; rejections carry ``Cache-Control: no-store``.
"""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from asgi_jwt import JWTAuthMiddleware, TokenVerifier


async def echo(websocket: WebSocket) -> None:
    # Only authenticated connections get here: the middleware rejects the rest before accept.
    await websocket.accept()
    await websocket.send_json({"hello": websocket.user.identity})
    async for message in websocket.iter_text():
        await websocket.send_text(message)


app = Starlette(
    routes=[WebSocketRoute("/ws", echo)],
    middleware=[Middleware(JWTAuthMiddleware, verifier=TokenVerifier.from_env(), query_param=True)],
)

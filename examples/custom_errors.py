"""Replacing the standard error answer: a JSON-RPC error object for an MCP-style endpoint.

``on_error(conn, error)`` has Starlette's signature. Keep the status code and the
``WWW-Authenticate`` challenge (clients rely on them) and change only the body.
"""

import os

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from asgi_jwt import AuthError, JWTAuthMiddleware, SecretKey, TokenVerifier, error_response

KEPT_HEADERS = ("www-authenticate", "retry-after", "cache-control")


def json_rpc_error(conn: HTTPConnection, error: AuthError) -> Response:
    standard = error_response(error, realm="mcp")  # status and challenge from the one response builder
    headers = {name: value for name, value in standard.headers.items() if name in KEPT_HEADERS}
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": error.description}}
    return JSONResponse(body, status_code=standard.status_code, headers=headers)


async def mcp_endpoint(scope, receive, send):
    response = JSONResponse({"jsonrpc": "2.0", "id": 1, "result": {"user_id": scope["user"].identity}})
    await response(scope, receive, send)


verifier = TokenVerifier(SecretKey(os.environ["JWT_SECRET_KEY"]), audience="mcp-server")
app = JWTAuthMiddleware(mcp_endpoint, verifier=verifier, identity_claim="user_id", realm="mcp", on_error=json_rpc_error)

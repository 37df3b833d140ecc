"""Authorization in FastAPI: dependencies, ``Security`` scopes, and an OpenAPI "Authorize" button.

An MCP code-indexing server with viewer, developer and admin roles. Each
dependency declares the ``bearerAuth`` scheme (``auto_error=False``, so FastAPI's
own 401/403 never replaces ours) and each route lists its required permissions
in ``/openapi.json``. The verifier comes from the ``JWT_*`` environment variables.
"""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security

from asgi_jwt import JWTAuthMiddleware, TokenVerifier
from asgi_jwt.integrations.fastapi import CurrentUser, add_exception_handlers, get_claims, require

ROLES = {
    "viewer": ["mcp:search:*"],
    "developer": ["mcp:search:*", "mcp:index:create", "mcp:index:update"],
    "admin": ["mcp:*"],
}

app = FastAPI()
add_exception_handlers(app)  # AuthError raised in a dependency or route: the middleware's answer
app.add_middleware(
    JWTAuthMiddleware,
    verifier=TokenVerifier.from_env(),
    optional=True,  # /docs and /openapi.json stay public; the dependencies ask for a token
    policy=ROLES,
)


@app.post("/index", dependencies=[Depends(require("mcp:index:create"))])
async def create_index(repo: str) -> dict[str, str]:
    return {"indexing": repo}


@app.delete("/index/{name}", dependencies=[Depends(require("mcp:index:delete"))])
async def delete_index(name: str) -> dict[str, str]:
    return {"deleted": name}


@app.get("/search")
async def search(
    q: str, claims: Annotated[Mapping[str, Any], Security(get_claims, scopes=["mcp:search:code"])]
) -> dict[str, Any]:
    return {"q": q, "for": claims["sub"]}


@app.get("/admin/users", dependencies=[Depends(require(roles="admin"))])
async def list_users(user: CurrentUser) -> dict[str, Any]:
    return {"users": [], "asked_by": user.identity}

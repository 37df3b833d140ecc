"""Views read the verified token from the Django request."""

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, JsonResponse


def orders(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "user": request.user.identity,  # the identity claim (sub by default)
            "role": request.claims.get("role"),  # any verified claim
            "scopes": sorted(request.jwt.scopes),
        }
    )


@permission_required("orders:write", raise_exception=True)  # has_perm asks the token's scopes: 403 without
def create_order(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"created": True, "by": request.user.get_username()}, status=201)


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "authenticated": request.user.is_authenticated})

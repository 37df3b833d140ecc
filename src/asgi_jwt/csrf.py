"""Cross-site request forgery defence for tokens read from a cookie.

A browser attaches cookies to requests that other sites make it send: a form on
``evil.example`` can POST to the API with the victim's cookie. A bearer header
cannot be forged that way, so only cookie-borne tokens are checked, and only on
unsafe methods (anything but ``GET``, ``HEAD``, ``OPTIONS`` and ``TRACE``, which must not
change state). Such a request needs one same-origin signal that a page on another
site cannot produce:

- ``Sec-Fetch-Site: same-origin`` (or ``none``: typed in the address bar), set by the browser;
- an ``Origin`` equal to the request's own origin or one of ``trusted_origins``;
- with ``double_submit=(cookie, header)``, a header repeating the value of a second cookie
  (other sites cannot read the cookie, so they cannot repeat it).

Without any, the answer is ``403`` (:class:`~asgi_jwt.CrossSiteRequest`). A client that
sends none of them (a script with a cookie jar) should send the token in the
``Authorization`` header instead.

WebSocket handshakes are ``GET`` requests, but a page on another site can open one with
the user's cookie (cross-site WebSocket hijacking). Browsers always send ``Origin`` on
them, so a handshake whose ``Origin`` is neither its own nor trusted is refused; one
without ``Origin`` comes from no browser and is let through.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from starlette.types import Scope

from asgi_jwt.errors import ConfigurationError, CrossSiteRequest
from asgi_jwt.paths import request_method

__all__ = ["CSRFProtection"]

_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))  # RFC 9110 §9.2.1
_SAME_ORIGIN_SITES = frozenset((b"same-origin", b"none"))
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
_HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}  # a WebSocket's Origin is http(s)


class CSRFProtection:
    """How a cookie-authenticated unsafe request proves it comes from the app's own pages.

    Args:
        trusted_origins: other origins whose pages may send such requests, e.g.
            ``"https://app.example.com"`` for an API on ``api.example.com`` (scheme,
            host and port only). The request's own origin is always trusted.
        double_submit: ``(cookie, header)``: also accept a request whose ``header``
            repeats the value of the ``cookie`` (the double-submit pattern).
    """

    __slots__ = ("_double_submit", "trusted_origins")

    def __init__(self, *, trusted_origins: Iterable[str] = (), double_submit: tuple[str, str] | None = None) -> None:
        if isinstance(trusted_origins, str):
            raise ConfigurationError("trusted_origins must be a list of origins, not one string")
        self.trusted_origins = frozenset(_origin(origin) for origin in trusted_origins)
        self._double_submit: tuple[str, bytes] | None = None
        if double_submit is not None:
            if (
                not isinstance(double_submit, tuple)
                or len(double_submit) != 2
                or not all(isinstance(name, str) and name for name in double_submit)
            ):
                raise ConfigurationError("double_submit must be a (cookie name, header name) pair")
            self._double_submit = (double_submit[0], double_submit[1].lower().encode("latin-1"))

    @classmethod
    def build(cls, csrf: bool | CSRFProtection, cookie: str | None) -> CSRFProtection | None:
        """The middleware's ``csrf=``: ``True`` (the default) is the check above with no extra origin."""
        if isinstance(csrf, CSRFProtection):
            if cookie is None:
                raise ConfigurationError("csrf protects tokens read from a cookie: set cookie= as well")
            return csrf
        if not isinstance(csrf, bool):
            raise ConfigurationError("csrf must be True, False or a CSRFProtection")
        return cls() if csrf and cookie is not None else None

    def check(self, scope: Scope, cookies: Mapping[str, str]) -> None:
        """Refuse an unsafe request authenticated by a cookie without a same-origin signal."""
        method = request_method(scope)
        if method in _SAFE_METHODS:
            return
        origin = site = submitted = host = None
        header = self._double_submit[1] if self._double_submit is not None else None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"sec-fetch-site":
                site = value
            elif name == b"host":
                host = value
            elif name == header:
                submitted = value
        if site in _SAME_ORIGIN_SITES or (method is None and origin is None):  # None: a WebSocket, see above
            return
        if origin is not None and origin != b"null":
            seen = origin.decode("latin-1").lower()
            if seen in self.trusted_origins or seen == _own_origin(scope, host):
                return
        if self._double_submit is not None and submitted:
            expected = cookies.get(self._double_submit[0])
            if expected and hmac.compare_digest(submitted, expected.encode("latin-1")):
                return
        raise CrossSiteRequest()

    def __repr__(self) -> str:
        return f"CSRFProtection(trusted_origins={sorted(self.trusted_origins)!r})"


def _origin(value: str) -> str:
    """An origin as browsers serialise it in ``Origin``: lower case, no default port; checked once."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ConfigurationError(
            f"trusted_origins entries must be origins such as 'https://app.example.com': {value!r}"
        )
    return _strip_default_port(parts.scheme, parts.netloc.lower())


def _own_origin(scope: Scope, host: bytes | None) -> str | None:
    """The origin the request was sent to, from its scheme and ``Host`` header."""
    if not host:
        return None
    scheme = _HTTP_SCHEMES.get(scope.get("scheme", "http"), "http")
    return _strip_default_port(scheme, host.decode("latin-1").lower())


def _strip_default_port(scheme: str, netloc: str) -> str:
    default = _DEFAULT_PORTS.get(scheme)
    if default is not None and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{scheme}://{netloc}"

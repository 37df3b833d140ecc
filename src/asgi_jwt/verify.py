"""Token in, claims out, or one typed error: the verifier. Knows nothing of ASGI.

The compact JWS is taken apart strictly (RFC 7515 §7.1: exactly three segments of
unpadded base64url, UTF-8 JSON objects), the key comes from the resolver, the
header's ``alg`` only selects among keys already pinned to an algorithm (RFC 8725
§3.1), and the signature is checked before the payload is even decoded. Any
malformed input, of whatever shape, becomes a :class:`~asgi_jwt.MalformedToken`
(a 401), never a stray ``ValueError`` or ``RecursionError`` (a 500).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from asgi_jwt._jose import b64decode, check_size, json_object, split_compact
from asgi_jwt._text import has_lone_surrogate
from asgi_jwt.cache import DEFAULT_CACHE_SIZE, VerifiedTokenCache
from asgi_jwt.claims import ClaimRules, Claims
from asgi_jwt.errors import (
    AuthError,
    ConfigurationError,
    InvalidAlgorithm,
    InvalidSignature,
    KeysUnavailable,
    MalformedToken,
    RevocationUnavailable,
    WrongTokenType,
)
from asgi_jwt.jwkset import JWKSet
from asgi_jwt.keys import KeyPair, KeyResolver, PublicKey, RotatingKeys, SecretKey, VerificationKey
from asgi_jwt.revocation import RevocationStore

__all__ = ["DEFAULT_LEEWAY", "DEFAULT_MAX_TOKEN_SIZE", "TokenVerifier", "Verifier", "cache_lookup"]

logger = logging.getLogger("asgi_jwt")

DEFAULT_MAX_TOKEN_SIZE = 8192
"""Tokens longer than this many characters are refused before any decoding."""
DEFAULT_LEEWAY = 30
"""Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""

_ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})
_AT_JWT_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_HEADER_CACHE_SIZE = 64
_FIXED_KEY_SETS = (SecretKey, PublicKey, KeyPair, RotatingKeys, JWKSet)


@runtime_checkable
class Verifier(Protocol):
    """What the middleware needs: one async method from token to claims.

    :class:`TokenVerifier` is the usual one; a dispatcher over several verifiers
    (one per issuer) or a test double fits as well.
    """

    async def verify(self, token: str) -> Mapping[str, Any]: ...


class TokenVerifier:
    """Verifies compact JWS access tokens against a key resolver and claim rules.

    Args:
        keys: any :class:`~asgi_jwt.KeyResolver` (``SecretKey``, ``PublicKey``,
            ``KeyPair``, ``RotatingKeys`` or your own). The keys fix the
            algorithms: never trust the token's ``alg`` on its own (RFC 8725 §3.1).
        issuer: the accepted ``iss`` value(s); exact string match.
        audience: the accepted ``aud`` value(s); a token must name at least one.
        leeway: seconds of clock skew allowed (default 30).
        require: claims that must be present (default ``("exp",)``).
        require_at_jwt: demand the RFC 9068 header ``typ: at+jwt``.
        max_token_size: longest token accepted, in characters (default 8192).
        clock: returns the current time in seconds; injectable for tests.
        cache_size: how many verified tokens to remember (default 10,000; ``0``
            turns the cache off). A repeated token then skips the signature and
            the parsing; its ``exp``/``nbf`` are still checked on every use, and
            entries die when the resolver's key set changes. See
            :mod:`asgi_jwt.cache`.
        cache_ttl: the longest a cached token is trusted without re-verifying, in
            seconds. By default: until it expires or the keys change, or 30
            seconds for a resolver without a ``version``.
        revocation: a :class:`~asgi_jwt.RevocationStore`, asked about every
            accepted token after its signature and claims, verified-token cache hits
            included (a revoked one is a :class:`~asgi_jwt.TokenRevoked`). It is the
            hook for checks that must see every request: :meth:`cached` and
            :meth:`verify` both run it.

    The middleware answers a repeated token with :meth:`cached` (synchronous, no
    ``await``) and calls :meth:`verify` on a miss. A subclass that overrides
    ``verify`` without overriding ``cached`` is asked on every request; see
    :func:`cache_lookup`.
    """

    def __init__(
        self,
        keys: KeyResolver,
        *,
        issuer: str | Iterable[str] | None = None,
        audience: str | Iterable[str] | None = None,
        leeway: float = DEFAULT_LEEWAY,
        require: Iterable[str] = ("exp",),
        require_at_jwt: bool = False,
        max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
        clock: Callable[[], float] = time.time,
        cache_size: int = DEFAULT_CACHE_SIZE,
        cache_ttl: float | None = None,
        revocation: RevocationStore | None = None,
    ) -> None:
        if not callable(getattr(keys, "resolve", None)):
            raise ConfigurationError("keys must be a key resolver (SecretKey, PublicKey, KeyPair, RotatingKeys, …)")
        if isinstance(max_token_size, bool) or not isinstance(max_token_size, int) or max_token_size < 64:
            raise ConfigurationError("max_token_size must be an integer of at least 64")
        self.keys = keys
        self.rules = ClaimRules(issuer=issuer, audience=audience, leeway=leeway, require=require, clock=clock)
        self.max_token_size = max_token_size
        self._allowed_types = _AT_JWT_TYPES if require_at_jwt else _ACCESS_TOKEN_TYPES
        self._require_typ = require_at_jwt
        # Header segment -> (checked header, the keys of its alg, or None to ask the resolver each time).
        self._headers: dict[str, tuple[dict[str, Any], tuple[VerificationKey, ...] | None]] = {}
        # Our own fixed key sets (immutable: rotation builds a new one) answer the same header with the same
        # keys: pick them once per header. Exact types only, so a subclass that changes its keys is asked each time.
        self._fixed_keys = type(keys) in _FIXED_KEY_SETS
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigurationError("cache_size must be a non-negative integer (0 turns the cache off)")
        self.cache = VerifiedTokenCache(cache_size, keys=keys, rules=self.rules, ttl=cache_ttl) if cache_size else None
        if revocation is not None and not all(
            callable(getattr(revocation, name, None)) for name in ("load", "check", "startup", "shutdown")
        ):
            raise ConfigurationError("revocation must be a RevocationStore, e.g. MemoryRevocationStore()")
        self.revocation = revocation
        # Tokens found unrevoked since the store last changed: their hits skip the check. Only for a store
        # that counts its changes (the optional RevocationStore.generation); the others are asked every time.
        self._counts_changes = revocation is not None and isinstance(getattr(revocation, "generation", None), int)
        self._unrevoked_since: tuple[int, set[str]] = (-1, set())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> TokenVerifier:
        """Build from ``JWT_*`` environment variables; see the configuration reference.

        Keyword ``options`` are passed on and win over the environment.
        """
        from asgi_jwt.config import verifier_options_from_env

        settings = verifier_options_from_env(environ)
        settings.update(options)
        return cls(**settings)

    async def startup(self) -> None:
        """Warm the keys up (e.g. fetch a JWK Set) and start the revocation store before the first request.

        :class:`~asgi_jwt.JWTAuthMiddleware` calls this on ``lifespan.startup``; it
        delegates to the resolver's own ``startup()`` when it has one.
        """
        hook = getattr(self.keys, "startup", None)
        if hook is not None:
            await hook()
        if self.revocation is not None:
            await self.revocation.startup()

    async def shutdown(self) -> None:
        """Stop the resolver's and the revocation store's background work (on ``lifespan.shutdown``)."""
        try:
            hook = getattr(self.keys, "shutdown", None)
            if hook is not None:
                await hook()
        finally:
            if self.revocation is not None:
                await self.revocation.shutdown()

    def cached(self, token: str) -> Claims | None:
        """The claims of a token verified before and still valid now, else ``None``.

        Synchronous, so a caller can serve a hit without an ``await``: the middleware
        tries this first and awaits :meth:`verify` only on a miss. Raises the time
        error (e.g. :class:`~asgi_jwt.TokenExpired`) for a cached token that has
        expired since, and :class:`~asgi_jwt.TokenRevoked` for a revoked one. While
        the revocation store cannot answer (not :attr:`~asgi_jwt.RevocationStore.ready`)
        every lookup is a miss, so :meth:`verify` loads it first.
        """
        cache = self.cache
        if cache is None:
            return None
        claims = cache.get(token)
        store = self.revocation
        if claims is None or store is None:
            return claims
        try:  # inline rather than _unrevoked(): this runs on every hit
            if not store.ready:
                return None
            if not self._counts_changes:
                store.check(claims)
                return claims
            generation, unrevoked = self._unrevoked_since
            if generation != store.generation:  # type: ignore[attr-defined]
                unrevoked = set()
                self._unrevoked_since = (store.generation, unrevoked)  # type: ignore[attr-defined]
            elif token in unrevoked:
                return claims
            store.check(claims)
            if len(unrevoked) >= cache.max_size:
                unrevoked.clear()
            unrevoked.add(token)
        except AuthError:
            raise
        except Exception as exc:
            raise _store_failed(store, exc) from exc
        return claims

    async def verify(self, token: str) -> Claims:
        """Return the token's claims, or raise an :class:`~asgi_jwt.AuthError`."""
        if type(token) is not str or len(token) > self.max_token_size:
            check_size(token, self.max_token_size)  # raises the precise error
        store = self.revocation
        if store is not None and not self._ready(store):
            await self._load(store)
        cache = self.cache
        if cache is not None:
            claims = cache.get(token)
            if claims is not None:
                return claims if store is None else self._unrevoked(claims, store)
            version = cache.version()  # before resolving: keys that change meanwhile void the result
        header_segment, payload_segment, signature_segment = split_compact(token)
        header, candidates = self._headers.get(header_segment) or self._header(header_segment)
        if candidates is None:
            candidates = self._of_algorithm(header, await self._resolve(header))
        signature = b64decode(signature_segment)
        signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
        for key in candidates:
            try:
                if key.verify(signing_input, signature):
                    break
            except Exception:  # noqa: S112 (a signature of the wrong length or shape is simply not valid)
                continue
        else:
            raise InvalidSignature()
        raw = b64decode(payload_segment)
        payload = json_object(raw)
        rules = self.rules
        if type(rules) is ClaimRules:
            # Only a \u escape can put a lone surrogate into decoded JSON: no backslash, no walk over the claims.
            rules._check(payload, b"\\" in raw)
        else:  # a replaced rules object: its own check
            rules.check(payload)
        claims = Claims.adopt(payload)
        if store is not None:
            self._unrevoked(claims, store)  # before caching: a revoked token is not remembered as verified
        if cache is not None:
            cache.put(token, claims, version)
        return claims

    @staticmethod
    def _unrevoked(claims: Claims, store: RevocationStore) -> Claims:
        """``claims``, unless the store says the token was revoked; a failing store is an outage, not a 500."""
        try:
            store.check(claims)
        except AuthError:
            raise
        except Exception as exc:
            raise _store_failed(store, exc) from exc
        return claims

    @staticmethod
    def _ready(store: RevocationStore) -> bool:
        try:
            return store.ready
        except Exception as exc:
            raise _store_failed(store, exc) from exc

    @staticmethod
    async def _load(store: RevocationStore) -> None:
        """Bring the store up to date; raises ``RevocationUnavailable`` if it cannot be."""
        try:
            await store.load()
        except AuthError:
            raise
        except Exception as exc:
            raise _store_failed(store, exc) from exc

    async def _resolve(self, header: Mapping[str, Any]) -> Sequence[VerificationKey]:
        try:
            keys = await self.keys.resolve(header)
        except AuthError:
            raise
        except Exception as exc:  # a resolver's own failure is an outage, not a bad token
            logger.warning("key resolver %s failed: %s", type(self.keys).__name__, type(exc).__name__)
            raise KeysUnavailable() from exc
        # A resolver of the user's that breaks the protocol is their bug, but still not a 500.
        if type(keys) is not tuple and type(keys) is not list and not isinstance(keys, Sequence):
            logger.error("key resolver %s returned %s, not keys", type(self.keys).__name__, type(keys).__name__)
            raise KeysUnavailable()
        if not all(isinstance(key, VerificationKey) for key in keys):
            logger.error("key resolver %s returned something other than VerificationKey", type(self.keys).__name__)
            raise KeysUnavailable()
        return keys

    @staticmethod
    def _of_algorithm(header: Mapping[str, Any], keys: Sequence[VerificationKey]) -> tuple[VerificationKey, ...]:
        """The keys pinned to the header's ``alg`` (RFC 8725 §3.1), or ``InvalidAlgorithm``."""
        algorithm = header["alg"]
        candidates = tuple(key for key in keys if key.algorithm == algorithm)
        if not candidates:
            raise InvalidAlgorithm()
        return candidates

    def _header(self, segment: str) -> tuple[dict[str, Any], tuple[VerificationKey, ...] | None]:
        """The checked JOSE header, and its keys when the key set is fixed; tokens from one issuer share a few,
        so both are kept. A header whose keys cannot be picked (unknown ``kid``, another ``alg``) keeps ``None``
        and asks the resolver every time, which raises the same error every time."""
        header = json_object(b64decode(segment))
        if not isinstance(header.get("alg"), str) or has_lone_surrogate(header):  # once per distinct header
            raise MalformedToken()
        if "crit" in header:  # RFC 7515 §4.1.11: we understand no extensions, so reject
            raise MalformedToken("Token uses unsupported critical header parameters")
        if "kid" in header and not isinstance(header["kid"], str):  # RFC 7515 §4.1.4: a string, never null
            raise MalformedToken()
        if header.get("b64", True) is not True:  # RFC 7797 unencoded payloads: never an access token
            raise MalformedToken()
        typ = header.get("typ")
        if typ is None:
            if "typ" in header:  # "typ": null is not a media type (RFC 7515 §4.1.9)
                raise WrongTokenType()
            if self._require_typ:
                raise WrongTokenType("Token must have the at+jwt type")
        elif not isinstance(typ, str) or typ.lower() not in self._allowed_types:
            raise WrongTokenType()
        candidates = None
        if self._fixed_keys:
            try:
                candidates = self._of_algorithm(header, self.keys.select(header))  # type: ignore[attr-defined]
            except Exception:
                candidates = None
        if len(self._headers) >= _HEADER_CACHE_SIZE:
            self._headers.clear()
        entry = self._headers[segment] = (header, candidates)
        return entry

    def __repr__(self) -> str:
        return f"TokenVerifier({self.keys!r}, issuer={self.rules.issuers!r}, audience={self.rules.audiences!r})"


def cache_lookup(verifier: object) -> Callable[[str], Mapping[str, Any] | None] | None:
    """The verifier's synchronous ``cached(token)``, if serving hits from it is provably sound, else ``None``.

    The rule is explicit and fails closed: ``cached`` must be defined by the
    verifier's class (found on ``type(verifier)``, so never an inner object's reached
    through ``__getattr__`` delegation), by the same class as its ``verify`` or a
    subclass of it. A wrapper that delegates, or a subclass that overrides ``verify``
    (to check a denylist, say) without ``cached``, then sees every request. Checks
    that must run on hits and misses alike belong in the ``revocation=`` store of
    :class:`TokenVerifier`, which both of its paths run.
    """
    cls = type(verifier)
    if not callable(getattr(cls, "cached", None)):
        return None
    owners = [vars(owner) for owner in cls.__mro__]
    cached_owner = next((index for index, namespace in enumerate(owners) if "cached" in namespace), None)
    verify_owner = next((index for index, namespace in enumerate(owners) if "verify" in namespace), None)
    if cached_owner is None or verify_owner is None or verify_owner < cached_owner:
        return None
    plain = isinstance(verifier, TokenVerifier) and type(verifier).cached is TokenVerifier.cached
    if plain and verifier.revocation is None:  # type: ignore[attr-defined]
        # TokenVerifier.cached is then exactly its cache's lookup: a hit costs one call, not two.
        return verifier.cache.get if verifier.cache is not None else None  # type: ignore[attr-defined]
    return verifier.cached  # type: ignore[attr-defined,no-any-return]


def _store_failed(store: RevocationStore, exc: Exception) -> RevocationUnavailable:
    """A store's own failure (a bug, a lost connection) is an outage: 503, never a 500 or a silent pass."""
    logger.warning("revocation store %s failed: %s", type(store).__name__, type(exc).__name__)
    return RevocationUnavailable()

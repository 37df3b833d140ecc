"""The ``asgi-jwt`` command: mint, decode and verify tokens, make keys, publish JWK Sets.

Output for programs goes to stdout (a token, JSON); messages for people go to
stderr. Exit codes: 0 success, 1 a configuration or verification error, 2 a usage
error. Every error is one line, never a traceback; ``-`` reads the token from stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from asgi_jwt.cli_keys import add_key_commands, load_pem
from asgi_jwt.errors import AuthError, ConfigurationError, JWKSError
from asgi_jwt.issuing import TokenIssuer
from asgi_jwt.jwks import JWKSResolver
from asgi_jwt.keys import KeyPair, KeyResolver, SecretKey
from asgi_jwt.verify import DEFAULT_LEEWAY, TokenVerifier

__all__ = ["main"]

SECRET_VARIABLE = "JWT_SECRET_KEY"
_DURATION = re.compile(r"(\d{1,9})([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME_CLAIMS = ("iat", "nbf", "exp", "auth_time")
_SCALES = ((90, 1, "s"), (90 * 60, 60, "min"), (48 * 3600, 3600, "h"))  # below the limit: count in this unit
# Claims with an option of their own: --claim must not quietly override them.
_RESERVED = frozenset({"sub", "iss", "aud", "exp", "iat", "nbf", "jti", "scope", "roles", "type", "token_type"})


class CommandError(Exception):
    """A configuration or verification failure: one line on stderr, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line (exit status 2)."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _examples(*lines: str) -> str:
    return "example:\n" + "\n".join(f"  {line}" for line in lines)


def duration(text: str) -> float:
    """``30d``, ``24h``, ``30m``, ``3600s``, ``4w`` (or bare seconds) in seconds; ``never`` is infinite."""
    if text == "never":
        return math.inf
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30d, 24h, 30m, 3600s, 4w or never")
    return int(match.group(1)) * _UNITS[match.group(2)]


def claim(text: str) -> tuple[str, Any]:
    """``key=value``; the value is JSON when it parses as JSON (``3``, ``true``, ``["a"]``), else a string."""
    name, equals, raw = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value")
    if name in _RESERVED:
        raise argparse.ArgumentTypeError(f"the {name!r} claim is set by asgi-jwt itself (see the options)")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="asgi-jwt", description="JWT tokens and keys for asgi-jwt services.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {metadata.version('asgi-jwt')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    formatter = argparse.RawDescriptionHelpFormatter

    token = commands.add_parser(
        "token",
        help="mint a signed token",
        formatter_class=formatter,
        description="Mint a signed token and print it on stdout.",
        epilog=_examples(
            "export JWT_SECRET_KEY=$(asgi-jwt keygen)",
            "export API_BEARER_TOKEN=$(asgi-jwt token --subject my-service --expires-in 7d)",
            "asgi-jwt token --key-file private.pem --issuer https://auth.example.com --audience orders-api \\",
            "    --scope 'orders:read orders:write' --role admin --claim tenant=acme --claim 'level=3'",
        ),
    )
    _key_options(token, f"HMAC secret (default: ${SECRET_VARIABLE})", "PEM private key to sign with")
    token.add_argument("--algorithm", help="HS256 (default for a secret), HS384, HS512, RS256, PS256, ES256, EdDSA…")
    token.add_argument("--subject", default="client", help="the sub claim (default: client)")
    token.add_argument("--scope", help="space-separated scopes, e.g. 'orders:read orders:write'")
    token.add_argument("--role", action="append", default=[], help="a role for the roles claim (repeatable)")
    token.add_argument("--claim", action="append", type=claim, default=[], help="key=value, JSON values allowed")
    token.add_argument(
        "--expires-in", type=duration, help="30d, 24h, 30m, 3600s, 4w or never (default: 15m, refresh 14d)"
    )
    token.add_argument("--issuer", help="the iss claim")
    token.add_argument("--audience", action="append", help="the aud claim (repeatable)")
    token.add_argument("--kid", help="the kid header (default: the key's RFC 7638 thumbprint for a key file)")
    token.add_argument("--type", choices=("access", "refresh"), default="access", help="token type (access)")
    token.set_defaults(run=_token)

    decode = commands.add_parser(
        "decode",
        help="show a token's header and claims WITHOUT verifying it",
        formatter_class=formatter,
        description="Show the header and claims of a token without verifying anything; times in ISO 8601.",
        epilog=_examples("asgi-jwt decode eyJhbGciOi...", "echo $API_BEARER_TOKEN | asgi-jwt decode -"),
    )
    decode.add_argument("token", help="the token, or - to read it from stdin")
    decode.set_defaults(run=_decode)

    verify = commands.add_parser(
        "verify",
        help="verify a token's signature and claims",
        formatter_class=formatter,
        description="Verify a token as the middleware would; print its claims, or the reason it is refused.",
        epilog=_examples(
            "asgi-jwt verify $API_BEARER_TOKEN",
            "asgi-jwt verify --jwks-url https://auth.example.com/.well-known/jwks.json --audience orders-api -",
            "asgi-jwt verify --issuer https://login.example.com/realms/main --audience orders-api $TOKEN",
        ),
    )
    verify.add_argument("token", help="the token, or - to read it from stdin")
    _key_options(verify, f"HMAC secret (default: ${SECRET_VARIABLE})", "PEM public key, certificate or private key")
    verify.add_argument("--jwks-url", help="fetch the keys from this JWK Set URL")
    verify.add_argument("--issuer", help="the accepted iss; without other keys, discover its JWK Set (OIDC)")
    verify.add_argument("--audience", action="append", help="an accepted aud (repeatable)")
    verify.add_argument("--algorithm", help="for --secret or an RSA key: HS384, HS512, PS256, …")
    verify.add_argument("--leeway", type=float, default=DEFAULT_LEEWAY, help=f"clock skew, s ({DEFAULT_LEEWAY})")
    verify.set_defaults(run=_verify)

    add_key_commands(commands, formatter, _examples)
    return parser


def _key_options(parser: argparse.ArgumentParser, secret_help: str, key_help: str) -> None:
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--secret", help=secret_help)
    keys.add_argument("--key-file", metavar="PEM", help=key_help)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    # Failures reach the user as our one line, not also as the library's log records.
    logging.getLogger("asgi_jwt").setLevel(logging.CRITICAL + 1)
    try:
        status = int(args.run(args))
        sys.stdout.flush()  # a closed pipe shows up here, not after we have returned
        return status
    except BrokenPipeError:  # the reader went away (| head): not an error of ours, and nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CommandError, ConfigurationError, JWKSError) as exc:
        return _fail(args, str(exc))
    except OSError as exc:
        return _fail(args, f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug of ours still gets one line, not a traceback
        return _fail(args, f"unexpected error ({type(exc).__name__}): {exc}")


def _fail(args: argparse.Namespace, message: str) -> int:
    print(f"asgi-jwt {args.command}: {message}", file=sys.stderr)
    return 1


def _read_token(value: str) -> str:
    token = sys.stdin.read() if value == "-" else value
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise CommandError("no token given" + (" on stdin" if value == "-" else ""))
    return token


def _secret(args: argparse.Namespace) -> tuple[str, str] | None:
    """The secret and where it came from, for error messages that never show it."""
    if args.secret is not None:
        return args.secret, "--secret"
    secret = os.environ.get(SECRET_VARIABLE, "")
    return (secret, SECRET_VARIABLE) if secret else None


def _secret_key(secret: tuple[str, str], algorithm: str | None, kid: str | None = None) -> SecretKey:
    try:
        return SecretKey(secret[0], algorithm=algorithm or "HS256", kid=kid)
    except ConfigurationError as exc:
        raise CommandError(f"{secret[1]}: {exc}") from None


def _signing_key(args: argparse.Namespace) -> SecretKey | KeyPair:
    if args.key_file is not None:
        key = load_pem(args.key_file, args.algorithm, args.kid, thumbprint_kid=True)
        if not isinstance(key, KeyPair):
            raise CommandError(f"{args.key_file} holds a public key: signing needs the private key")
        return key
    secret = _secret(args)
    if secret is None:
        raise CommandError(f"no key: pass --secret or --key-file, or set {SECRET_VARIABLE} (asgi-jwt keygen makes one)")
    return _secret_key(secret, args.algorithm, args.kid)


def _token(args: argparse.Namespace) -> int:
    key = _signing_key(args)
    refresh, never = args.type == "refresh", args.expires_in == math.inf
    if refresh and never:
        raise CommandError("a refresh token always expires: give --expires-in a duration")
    lifetime = {} if args.expires_in is None or never else {f"{args.type}_ttl": args.expires_in}
    issuer = TokenIssuer(key, issuer=args.issuer, **lifetime)
    grant = {"scope": args.scope, "roles": args.role or None, "claims": dict(args.claim), "audience": args.audience}
    token = (
        issuer.issue_pair(args.subject, **grant)["refresh_token"] if refresh else issuer.issue(args.subject, **grant)
    )
    if never:
        # TokenIssuer always sets exp; for a token that never expires, the same claims are signed again without it.
        header, claims = (_segment(part, "token") for part in token.split(".")[:2])
        token = key.encode({name: value for name, value in claims.items() if name != "exp"}, headers=header)
    print(token)
    return 0


def _decode(args: argparse.Namespace) -> int:
    token = _read_token(args.token)
    parts = token.split(".")
    if len(parts) != 3:
        raise CommandError(f"not a JWT: a signed token has 3 dot-separated parts, this one has {len(parts)}")
    header, claims = (_segment(part, name) for part, name in ((parts[0], "header"), (parts[1], "claims")))
    document: dict[str, Any] = {"header": header, "claims": claims}
    times = {name: describe_time(claims[name]) for name in _TIME_CLAIMS if _is_number(claims.get(name))}
    if times:
        document["times"] = times
    print(json.dumps(document, indent=2, ensure_ascii=False))
    print("WARNING: NOTHING WAS VERIFIED: not the signature, not the expiry; use `asgi-jwt verify`", file=sys.stderr)
    return 0


def _segment(segment: str, name: str) -> Any:
    from base64 import urlsafe_b64decode

    try:
        value = json.loads(urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        raise CommandError(f"not a JWT: the {name} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise CommandError(f"not a JWT: the {name} is not a JSON object")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def describe_time(timestamp: float, now: float | None = None) -> str:
    """``2026-12-05T15:00:00Z (in 23 h)``: an ISO 8601 date and how far away it is."""
    try:
        when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{timestamp} (not a representable date)"
    offset = timestamp - (time.time() if now is None else now)
    return f"{when.isoformat(timespec='seconds').replace('+00:00', 'Z')} ({_relative(offset)})"


def _relative(offset: float) -> str:
    distance = abs(offset)
    if distance < 1:
        return "now"
    size, unit = next(
        ((size, unit) for limit, size, unit in _SCALES if distance < limit),
        (86400, "d"),
    )
    amount = f"{round(distance / size)} {unit}"
    return f"in {amount}" if offset > 0 else f"{amount} ago"


def _verify(args: argparse.Namespace) -> int:
    token = _read_token(args.token)
    return asyncio.run(_verify_async(args, token))


async def _verify_async(args: argparse.Namespace, token: str) -> int:
    keys = await _verification_keys(args)
    verifier = TokenVerifier(
        keys, issuer=args.issuer, audience=args.audience, leeway=args.leeway, require=("exp",), cache_size=0
    )
    try:
        claims = await verifier.verify(token)
    except AuthError as exc:
        hint = " (the token names an audience: pass --audience)" if exc.reason == "invalid_audience" else ""
        raise CommandError(f"{exc.reason}: {exc.description}{'' if args.audience else hint}") from None
    print(json.dumps(dict(claims), indent=2, ensure_ascii=False))
    print("valid: signature and claims verified", file=sys.stderr)
    return 0


async def _verification_keys(args: argparse.Namespace) -> KeyResolver:
    """--key-file, --jwks-url, the secret (--secret or $JWT_SECRET_KEY), else the --issuer's discovered keys."""
    if args.key_file is not None:
        return load_pem(args.key_file, args.algorithm, None)
    if args.jwks_url is not None:
        if args.secret is not None:
            raise CommandError("--secret and --jwks-url exclude each other")
        resolver = JWKSResolver(args.jwks_url)
    else:
        secret = _secret(args)
        if secret is not None:
            return _secret_key(secret, args.algorithm)
        if args.issuer is None:
            raise CommandError(f"no key: pass --secret, --key-file, --jwks-url or --issuer, or set {SECRET_VARIABLE}")
        resolver = await JWKSResolver.from_issuer(args.issuer)
    await resolver.refresh()
    return resolver


if __name__ == "__main__":
    sys.exit(main())

"""Rotating an HMAC secret without logging anyone out.

1. Deploy with the new secret in ``JWT_SECRET_KEY`` and the old one in
   ``JWT_PREVIOUS_SECRET_KEY``: tokens signed with either are accepted, new
   tokens are signed with the new one.
2. Once the longest-lived token signed with the old secret has expired, drop
   ``JWT_PREVIOUS_SECRET_KEY``.
"""

import os

from asgi_jwt import KeyPair, RotatingKeys, SecretKey, TokenVerifier

# From the environment: RotatingKeys(SecretKey(JWT_SECRET_KEY), SecretKey(JWT_PREVIOUS_SECRET_KEY)).
verifier = TokenVerifier.from_env()

# The same in code, with a kid on each key so that a token is checked with its own key only.
keys = RotatingKeys(
    SecretKey(os.environ["JWT_SECRET_KEY"], kid="2025-06"),
    SecretKey(os.environ["JWT_PREVIOUS_SECRET_KEY"], kid="2025-01"),
)
# keys.encode(claims) signs with the current key and writes its kid into the header.

# Moving from a shared secret to a key pair: accept both while services switch over.
signing_key = KeyPair.generate("ES256")
migrating = RotatingKeys(signing_key, SecretKey(os.environ["JWT_SECRET_KEY"]))

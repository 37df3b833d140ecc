"""Mint a token that the quickstart app accepts, to try it out.

In production your identity provider issues the tokens; this is the same thing in
a few lines, signed with the shared secret from ``JWT_SECRET_KEY``::

    TOKEN=$(python mint_token.py)
"""

import os
import time

from asgi_jwt import SecretKey

key = SecretKey(os.environ["JWT_SECRET_KEY"])
now = int(time.time())
claims = {"sub": "alice", "iss": "https://auth.example.com", "aud": "orders-api", "iat": now, "exp": now + 3600}
token = key.encode(claims)

if __name__ == "__main__":
    print(token)

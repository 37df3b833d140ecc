#!/usr/bin/env bash
# The command-line workflow: a secret, tokens, a look inside, a verification, and a key pair with its JWK Set.
# Run it in an empty directory: it writes keys/ there.
set -euo pipefail

export JWT_SECRET_KEY=$(asgi-jwt keygen)                         # 32 random bytes, base64url
export API_BEARER_TOKEN=$(asgi-jwt token --subject my-service --expires-in 7d)
echo "$API_BEARER_TOKEN" | asgi-jwt decode - 2>/dev/null | grep '"exp":'
asgi-jwt verify "$API_BEARER_TOKEN" | grep '"sub":'

asgi-jwt keygen --algorithm ES256 --out keys/
TOKEN=$(asgi-jwt token --key-file keys/private.pem --subject svc-reports --audience orders-api --expires-in 1h)
asgi-jwt verify --key-file keys/public.pem --audience orders-api "$TOKEN" | grep '"aud":'
asgi-jwt jwks keys/public.pem | grep -c '"kid":'

# A refused token: exit status 1 and the reason on stderr.
if asgi-jwt verify --secret "not-the-secret-that-signed-this-token!" "$API_BEARER_TOKEN"; then
    exit 1
fi

"""Framework integrations.

Each module here imports its framework only inside itself, so ``import asgi_jwt``
never pulls in Django, FastAPI or anything else optional: install the matching
extra (``pip install "asgi-jwt[django]"``) and import the module you need.
"""

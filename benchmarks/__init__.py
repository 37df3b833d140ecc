"""Benchmarks of asgi-jwt side by side with the alternatives.

``python -m benchmarks`` (in-process, every app called directly), ``python -m
benchmarks.e2e`` (over uvicorn on 127.0.0.1) and ``python -m benchmarks.memory``
(a million distinct tokens through the middleware). See docs/performance.md.
"""

"""Local stand-ins for the social platforms' HTTP APIs (dev, demo, tests), with fault injection.

Start it with ``python -m uvicorn services.sandbox.app:create_app --factory --port 8790``.
State lives in memory (one process, lost on restart); see ``app.py`` for the endpoints.
"""

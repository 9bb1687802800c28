"""The browser edge: Chorus's web app, server-rendered, beside the API in one ASGI app.

It calls the same ``shared/`` services as the API with the same principal and the same
policy function; it never calls the REST API over HTTP. See services/web/README.md."""

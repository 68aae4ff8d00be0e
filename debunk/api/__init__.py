"""The platforms' HTTP API (/api/v1/): API keys, authentication, throttling and request logging."""

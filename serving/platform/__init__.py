"""The HTTP platform around the endpoints: the gateway middleware (keys, roles, limits, audit,
problem details, request ids), the OpenAPI additions, admin routes and per-worker process tuning."""

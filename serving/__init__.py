"""BentoML service: loads the registry's champion models and serves them over HTTP."""

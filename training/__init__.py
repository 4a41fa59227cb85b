"""Training pipelines: each stage is a `ccrisk` command that logs to MLflow."""

"""Model lifecycle in a worker: load a registry alias, hold it, follow it when it moves."""

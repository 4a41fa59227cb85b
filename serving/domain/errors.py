"""Request errors the endpoints turn into 4xx answers. A module of their own, free of heavy
imports, so that the service module BentoML's supervisor imports stays light (the models and
their libraries are loaded in the workers only)."""


class TooManyClaims(ValueError):
    """A batch over the configured maximum."""


class TooManyTexts(ValueError):
    """A batch over serving.max_batch_texts."""


class UnknownQueryId(LookupError):
    """Feedback that names a query id the service never returned."""

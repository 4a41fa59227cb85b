"""ccrisk: claims fraud scoring, contact-text models and knowledge answers for insurers."""

__version__ = "0.1.0"

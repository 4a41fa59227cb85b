"""Personal data in free text: found (`find_pii`) and masked with typed placeholders (`mask_pii`)
wherever text is stored or logged. See features/pii/masker.py and docs/decisions/0011-pii-masking.md."""

from features.pii.masker import PII_TYPES, Span, find_pii, mask_pii

__all__ = ["PII_TYPES", "Span", "find_pii", "mask_pii"]

"""Every real development claim (when ../shared/datasets is here) encodes and fires the shipped
rules the same way through the plain-Python path (features/claims/rowpath.py) as through Polars."""

import polars as pl

from features.claims.rules import RuleBook, default_rules_path
from tests.conftest import REAL_CLAIMS, require_real
from tests.unit.test_rowpath import assert_same_features, served_frame


def test_real_claims_take_the_row_path_with_the_same_features_and_rule_hits(spec):
    frame = pl.read_csv(require_real(REAL_CLAIMS))
    rows = frame.select(list(spec.columns)).to_dicts()
    served = served_frame(spec, rows)
    assert_same_features(spec, rows, served)
    book = RuleBook(default_rules_path("vehicle_claims"), spec)
    expected = book.evaluate(served)
    assert book.row_hits(rows) == expected
    assert sum(map(len, expected)) > 1000  # the real claims fire rules

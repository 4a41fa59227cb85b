"""KB fusion: candidate features, the legacy logistic fusion, the LambdaRank ranker, the choice
between them by out-of-fold nDCG@10, and the query -> line-of-business prior."""

import pickle

import numpy as np
import pytest

from features.kb.articles import Article, chunk_article
from features.kb.fusion import FEATURES, LEGACY_FEATURES, ArticleScores, Fusion, candidate_features
from features.kb.index import KBIndex, build_bm25, chunk_texts
from training.kb import fusion as learning
from training.kb.config import FusionConfig

COL = {n: i for i, n in enumerate(FEATURES)}


def scores(**over):
    n = 4
    base = dict(
        dense=np.array([0.9, 0.5, 0.7, 0.6]),
        bm25=np.array([4.0, 8.0, 0.0, 2.0]),
        dense_first=np.array([0.8, 0.5, 0.1, 0.6]),
        dense_mean=np.array([0.7, 0.5, 0.4, 0.6]),
        bm25_first=np.array([4.0, 0.0, 0.0, 2.0]),
        chunks=np.array([3, 1, 2, 1]),
        title=np.zeros(n),
        title_group=np.array([1, 1, 0, 2]),
        lob_prob=np.array([0.2, 0.2, 0.0, 0.8]),
    )
    return ArticleScores(**{**base, **over})


def test_candidate_features_compare_each_article_with_its_title_group():
    x = candidate_features(scores())
    assert x.shape == (4, len(FEATURES))
    np.testing.assert_allclose(x[:, COL["title_group_dense_gap"]], [0.0, -0.4, 0.0, 0.0])
    np.testing.assert_allclose(x[:, COL["title_group_bm25_gap"]], [np.log(5) - np.log(9), 0, 0, 0])
    np.testing.assert_allclose(x[:, COL["title_group_size_log"]], [np.log(2), np.log(2), 0.0, 0.0])
    np.testing.assert_allclose(x[:, COL["bm25_first"]], [0.5, 0.0, 0.0, 0.25])  # relative to the best BM25
    np.testing.assert_allclose(x[:, COL["dense_first_gap"]], [-0.1, 0.0, -0.6, 0.0])
    np.testing.assert_allclose(x[:, COL["lob_prob"]], [0.2, 0.2, 0.0, 0.8])
    np.testing.assert_allclose(x[:, COL["dense_gap"]], [0.0, -0.4, -0.2, -0.3])


def test_a_fusion_pickled_before_the_new_features_reads_its_seven_columns():
    old = Fusion(np.array([2.0, 1.0, 0.5, 0.3, 0.0, 0.0, 1.0]), -1.0)
    state = {k: v for k, v in vars(old).items() if k in ("weights", "bias", "threshold", "learned")}
    loaded = Fusion.__new__(Fusion)
    loaded.__dict__.update(pickle.loads(pickle.dumps(state)))
    assert loaded.features == LEGACY_FEATURES
    x = candidate_features(scores())
    expected = 1 / (1 + np.exp(-(x[:, :7] @ old.weights - 1.0)))
    np.testing.assert_allclose(loaded.proba(x), expected)


def ranked_rows(n_queries=60, per_query=12, seed=0):
    """Relevance depends on feature 0 being in a middle band: a ranker can learn it, a linear
    model cannot."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n_queries * per_query, len(FEATURES)))
    y = ((x[:, 0] > 0.4) & (x[:, 0] < 0.6)).astype(int)
    spans = [(q * per_query, (q + 1) * per_query) for q in range(n_queries)]
    return learning.Rows(x, y, spans, [max(1, int(y[lo:hi].sum())) for lo, hi in spans])


def test_auto_picks_the_ranker_when_relevance_is_not_linear():
    rows = ranked_rows()
    cfg = FusionConfig(ranker={"trees": 50, "min_child_samples": 5, "threads": 1, "min_queries": 20})
    fusion, chosen = learning.learn(rows, cfg, seed=0)
    assert set(chosen) == {"logistic", "lambdarank"}
    assert chosen["lambdarank"] > chosen["logistic"] + 0.2
    assert fusion.kind == "lambdarank"
    proba = fusion.proba(rows.x)
    assert ((proba > 0) & (proba < 1)).all()
    assert np.corrcoef(proba, fusion.raw(rows.x))[0, 1] > 0.99  # Platt scaling keeps the order
    assert 0 < fusion.threshold < 1
    again = pickle.loads(pickle.dumps(fusion))
    np.testing.assert_array_equal(again.proba(rows.x), proba)


def test_the_default_weights_are_kept_calibrated_when_they_rank_best():
    """One feature carries the relevance (with noise), the other 16 are noise: weights on that
    feature alone rank at least as well out of fold as a logistic fusion fitted over all 17 on
    60 queries, so they are kept, Platt-scaled, with their own threshold; weights that rank
    upside down are not."""
    rows = ranked_rows()
    band = np.zeros(len(FEATURES))
    band[1] = 1.0
    rows.x[:, 1] = rows.y + np.random.default_rng(2).normal(0, 0.3, len(rows.y))
    default = Fusion(band, -0.5, threshold=0.5, learned=False, features=FEATURES)
    fusion, chosen = learning.learn(rows, FusionConfig(), seed=0, default=default)
    assert set(chosen) == {"logistic", "default"} and chosen["default"] >= chosen["logistic"]
    assert fusion.kind == "default" and fusion.fixed and fusion.learned
    np.testing.assert_array_equal(fusion.weights, band)
    assert fusion.platt != (1.0, 0.0) and 0 < fusion.threshold < 1
    worse = Fusion(-band, 0.0, learned=False, features=FEATURES)  # ranks the labels upside down
    fusion, chosen = learning.learn(rows, FusionConfig(), seed=0, default=worse)
    assert fusion.kind == "logistic" and chosen["logistic"] > chosen["default"]


def test_auto_keeps_the_logistic_fusion_with_few_queries():
    fusion, chosen = learning.learn(ranked_rows(), FusionConfig(), seed=0)  # 60 < ranker.min_queries
    assert list(chosen) == ["logistic"] and fusion.kind == "logistic"


def test_a_configured_kind_is_used_without_comparison():
    rows = ranked_rows(n_queries=20)
    fusion, chosen = learning.learn(rows, FusionConfig(model="logistic"), seed=0)
    assert list(chosen) == ["logistic"] and fusion.kind == "logistic"
    assert len(fusion.weights) == len(FEATURES)


def lob_index():
    articles = [
        Article(id=f"{lob}-{i}", title="", body=f"{lob} article number {i}", line_of_business=lob)
        for lob in ("motor", "home")
        for i in range(3)
    ] + [Article(id="general", body="general article")]
    chunks = [c for i, a in enumerate(articles) for c in chunk_article(i, a, 50, 10)]
    _, tokens = chunk_texts(articles, chunks)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(chunks), 4)).astype(np.float32)
    fusion = Fusion(np.zeros(len(FEATURES)), 0.0, features=FEATURES)
    index = KBIndex(articles, chunks, vectors, build_bm25(tokens), fusion, "v", np.zeros((len(articles), 4)))
    return index, articles


def test_line_of_business_prior_learns_from_the_queries_and_feeds_the_feature():
    index, articles = lob_index()
    rng = np.random.default_rng(1)
    queries, vecs = [], []
    for q in range(40):
        lob = "motor" if q % 2 else "home"
        queries.append((f"question {q}", {f"{lob}-{q % 3}"}))
        vecs.append(np.array([3.0 if lob == "motor" else -3.0, 0, 0, 0]) + rng.normal(size=4) * 0.3)
    prior, oof = learning.learn_lob_prior(index, queries, np.array(vecs), FusionConfig(), seed=0)
    assert prior.classes == ("home", "motor")
    assert oof.shape == (40, 2) and (oof.argmax(1) == [q % 2 for q in range(40)]).all()
    index.set_lob_prior(prior)
    motor_query = np.array([3.0, 0, 0, 0])
    cand = index.candidates_for("motor article", motor_query, None)
    ids = [articles[a].id for a in cand.articles]
    lob_prob = dict(zip(ids, cand.features[:, COL["lob_prob"]], strict=True))
    assert lob_prob["motor-0"] > 0.9 and lob_prob["home-0"] < 0.1 and lob_prob["general"] == 0.0
    given = index.candidates_for("motor article", motor_query, None, lob_proba=np.array([1.0, 0.0]))
    under_home = dict(zip(given.articles, given.features[:, COL["lob_prob"]], strict=True))
    assert under_home[0] == 0.0 and under_home[3] == 1.0  # motor-0 and home-0, told P(home) = 1


def test_no_prior_without_two_lines_of_business():
    index, _ = lob_index()
    queries = [(f"q{i}", {"motor-0"}) for i in range(40)]
    prior, oof = learning.learn_lob_prior(index, queries, np.ones((40, 4)), FusionConfig(), seed=0)
    assert prior is None and oof is None


@pytest.mark.parametrize("kind", ["logistic", "lambdarank"])
def test_each_kind_fits_on_real_shaped_rows(kind):
    rows = ranked_rows(n_queries=15)
    cfg = FusionConfig(model=kind, ranker={"trees": 20, "min_child_samples": 5, "threads": 1})
    fusion, _ = learning.learn(rows, cfg, seed=0)
    assert fusion.kind == kind
    assert (len(fusion.weights) == len(FEATURES)) == (kind == "logistic")

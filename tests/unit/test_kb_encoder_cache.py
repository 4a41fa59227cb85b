"""The bench's fine-tuned KB encoder: keyed by its inputs, trained once, only on training queries;
and the BankFAQs bar reads the tuned row when the run has one."""

from __future__ import annotations

from types import SimpleNamespace

from benchmarks.kb import TUNED, quality_bars
from features.kb.articles import Article
from training.kb import runs
from training.kb.config import load_kb_config
from training.kb.data import split_queries


def _kb():
    articles = [Article(id=f"a{i}", title=f"topic {i}", body=f"answer {i} about fees") for i in range(6)]
    queries = [(f"question {i} about topic {i % 6}?", {f"a{i % 6}"}) for i in range(20)]
    return articles, queries


def _fake_finetune(calls: list):
    def finetune(pairs, base, out_dir, **kwargs):
        calls.append((pairs, base, out_dir, kwargs))
        out_dir.mkdir(parents=True)
        (out_dir / "modules.json").write_text("[]")
        return out_dir

    return finetune


def test_encoder_is_tuned_once_on_training_queries_then_reused(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(runs, "finetune", _fake_finetune(calls))
    articles, queries = _kb()
    cfg, settings = load_kb_config(), SimpleNamespace(state_path=tmp_path)
    folder, seconds = runs.cached_encoder(articles, queries, cfg, settings)
    assert seconds >= 0.0 and folder.parent == tmp_path / "cache" / "kb_encoders"
    assert (folder / "modules.json").is_file()
    assert not folder.with_name(folder.name + ".partial").exists()
    pairs, base, _, kwargs = calls[0]
    _, test = split_queries(queries, cfg.test_share, cfg.max_test_queries, cfg.seed)
    assert base == cfg.encoder and kwargs["epochs"] == cfg.tuning.epochs
    assert {q for q, _ in pairs}.isdisjoint({q for q, _ in test}) and len(pairs) == len(queries) - len(test)
    again, seconds_again = runs.cached_encoder(articles, queries, cfg, settings)
    assert (again, seconds_again, len(calls)) == (folder, 0.0, 1)


def test_key_changes_with_the_pairs_and_the_settings():
    articles, queries = _kb()
    cfg = load_kb_config()
    pairs = runs.answer_pairs(articles, queries, cfg)
    key = runs.encoder_key(pairs, cfg)
    assert runs.encoder_key(list(pairs), cfg) == key
    assert runs.encoder_key(pairs[1:], cfg) != key
    assert runs.encoder_key(pairs, load_kb_config(overrides=["tuning.epochs=1"])) != key
    assert runs.encoder_key(pairs, load_kb_config(overrides=["max_tokens=128"])) != key


def test_an_unfinished_tuning_is_not_taken_for_a_cached_one(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(runs, "finetune", _fake_finetune(calls))
    articles, queries = _kb()
    cfg, settings = load_kb_config(), SimpleNamespace(state_path=tmp_path)
    train, _ = split_queries(queries, cfg.test_share, cfg.max_test_queries, cfg.seed)
    key = runs.encoder_key(runs.answer_pairs(articles, train, cfg), cfg)
    (tmp_path / "cache" / "kb_encoders" / f"{key}.partial").mkdir(parents=True)  # an interrupted run
    (tmp_path / "cache" / "kb_encoders" / key / "1_Pooling").mkdir(parents=True)  # no saved model
    folder, _ = runs.cached_encoder(articles, queries, cfg, settings)
    assert len(calls) == 1 and folder.name == key and (folder / "modules.json").is_file()


def _hybrid(ndcg: float) -> dict:
    return {"hybrid": {"ndcg_at_10": ndcg}}


def test_bankfaqs_bar_reads_the_tuned_row_when_there_is_one():
    quality = {"bankfaqs": _hybrid(0.68), "bankfaqs" + TUNED: _hybrid(0.72), "stackfaq": _hybrid(0.99)}
    assert quality_bars(quality) == {
        "kb_bankfaqs_ndcg_at_10": (0.72, 0.72),
        "kb_stackfaq_ndcg_at_10": (0.97, 0.99),
    }
    quick = {"bankfaqs": _hybrid(0.68), "medquad": "skipped: absent"}
    assert quality_bars(quick) == {"kb_bankfaqs_ndcg_at_10": (0.72, 0.68)}


def test_train_kb_encoder_twice_fine_tunes_once(tmp_path, monkeypatch):
    """`ccrisk train kb-encoder` goes through the same cache: a second run on the same inputs
    evaluates before/after again but takes the tuned encoder from the first, and says so."""
    import mlflow

    from features.settings import load_settings
    from tests.conftest import write_settings
    from training.kb import pipeline

    calls: list = []
    monkeypatch.setattr(runs, "finetune", _fake_finetune(calls))
    scored = SimpleNamespace(metrics={"dense": {"ndcg_at_10": 0.5}, "hybrid": {"ndcg_at_10": 0.6}})
    monkeypatch.setattr(pipeline, "fit_and_score", lambda *args, **kwargs: scored)
    monkeypatch.setattr(pipeline, "vector_cache", lambda cfg, settings: None)
    settings = load_settings(write_settings(tmp_path))
    mlflow.set_tracking_uri(settings.tracking_uri)
    articles, queries = _kb()
    first = runs.tune_encoder_run(articles, queries, load_kb_config(), settings, "toy")
    second = runs.tune_encoder_run(articles, queries, load_kb_config(), settings, "toy")
    assert len(calls) == 1 and first[2] == second[2]
    tags = [
        r.data.tags["encoder_cached"]
        for r in mlflow.search_runs(output_format="list", search_all_experiments=True)
    ]
    assert sorted(tags) == ["false", "true"]

"""The sample messages: reproducible from the generator, and labelled in the vocabularies of the
real data the production models learn (CFPB product groups, BANKING77 intents)."""

import gzip
import json

import pandas as pd

from tests.conftest import SAMPLE_MESSAGES, SHARED, require_real
from training.text.synthetic import generate_messages


def test_sample_file_is_the_generator_output():
    committed = pd.read_csv(SAMPLE_MESSAGES)
    pd.testing.assert_frame_equal(committed, generate_messages(len(committed), seed=11))


def test_sample_file_shape():
    df = pd.read_csv(SAMPLE_MESSAGES)
    assert len(df) >= 300 and df["text"].is_unique
    assert set(df["complaint"]) == {0, 1} and 0.3 < df["complaint"].mean() < 0.6
    assert df["topic"].nunique() >= 4 and df["intent"].nunique() >= 8
    assert df.groupby("intent")["complaint"].nunique().eq(2).all()  # complaint is not the intent


def test_sample_labels_exist_in_the_real_data():
    with gzip.open(require_real(SHARED / "banking77/categories.json.gz")) as fh:
        intents = json.load(fh)
    products = pd.read_csv(require_real(SHARED / "cfpb_complaints/cfpb_narratives_10k_product_dev.csv.gz"))
    df = pd.read_csv(SAMPLE_MESSAGES)
    assert set(df["intent"]) <= set(intents)
    assert set(df["topic"]) <= set(products["Product"])

"""The domain behind the endpoints: claims scoring, contact-text analysis, knowledge answers,
and what each call leaves behind (prediction log rows, outcome summaries)."""

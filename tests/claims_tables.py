"""A claims table unlike both shipped specs, as an insurer would export it: home-insurance claims
with dates in two formats, a Y/N target, '?' for unknown, money amounts, ids and free text."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

PERILS = ["fire", "flood", "theft", "storm", "escape of water", "accidental damage"]
PROPERTY = ["house", "flat", "bungalow", "cottage"]
REGIONS = ["north", "south", "east", "west", "midlands"]
WORDS = "kitchen roof window door ceiling wall carpet boiler pipe garden shed garage laptop".split()  # noqa: SIM905
TARGET = "fraud_reported"


def home_claims(rows: int = 1500, seed: int = 5) -> pl.DataFrame:
    """Seeded claims whose fraud odds rise with a loss soon after the policy started, a claim
    near the sum insured, a late report, prior claims and theft."""
    rng = np.random.default_rng(seed)
    start = [date(2022, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 700, rows)]
    soon = rng.random(rows) < 0.15
    to_loss = np.where(soon, rng.integers(1, 30, rows), rng.integers(30, 700, rows))
    loss = [s + timedelta(days=int(d)) for s, d in zip(start, to_loss, strict=True)]
    delay = rng.exponential(6, rows).round().astype(int)
    reported = [
        datetime(d.year, d.month, d.day, int(h)) + timedelta(days=int(x))
        for d, x, h in zip(loss, delay, rng.integers(8, 20, rows), strict=True)
    ]
    insured = rng.choice([150_000, 250_000, 400_000, 600_000], rows)
    share = rng.beta(1.2, 12, rows)
    amount = (insured * share).round(2)
    prior = rng.poisson(0.6, rows)
    peril = rng.choice(PERILS, rows)
    alarm = rng.choice(["Y", "N"], rows, p=[0.6, 0.4])
    logit = (
        -3.6 + 2.5 * soon + 2.0 * (share > 0.2) + 1.5 * (delay > 14) + 1.0 * (prior >= 2)
        + 1.2 * (peril == "theft") - 0.8 * (alarm == "Y") + rng.normal(0, 0.3, rows)
    )  # fmt: skip
    fraud = rng.random(rows) < 1 / (1 + np.exp(-logit))
    region = rng.choice(REGIONS, rows).astype(object)
    region[rng.random(rows) < 0.05] = "?"
    prior_text = prior.astype(str).astype(object)
    prior_text[rng.random(rows) < 0.04] = "?"
    return pl.DataFrame(
        {
            "claim_ref": [f"HC-{i:06d}" for i in range(rows)],
            "policy_id": [f"POL{int(n)}" for n in rng.integers(10**6, 10**7, rows)],
            "policy_start": [d.strftime("%d/%m/%Y") for d in start],
            "loss_date": [d.strftime("%d/%m/%Y") for d in loss],
            "reported_at": [d.strftime("%Y-%m-%d %H:%M") for d in reported],
            "property_type": rng.choice(PROPERTY, rows),
            "peril": peril,
            "region": region.tolist(),
            "adjuster": [f"ADJ-{int(a):02d}" for a in rng.integers(0, 60, rows)],
            "claim_amount": amount,
            "sum_insured": insured,
            "prior_claims": prior_text.tolist(),
            "alarm_fitted": alarm,
            "description": [
                f"Customer reports {peril[i]} damage to the {' and '.join(rng.choice(WORDS, 2))} at home"
                for i in range(rows)
            ],
            TARGET: np.where(fraud, "Y", "N"),
        }
    )

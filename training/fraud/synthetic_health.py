"""Seeded generator of synthetic health-insurance claims: the second line of business of the demo
(`data_samples/health_claims_sample.csv`, the `health_claims` spec).

The seed insurer is a health insurer whose members claim for treatment by providers (GPs,
hospitals, specialists...). The fraud signal is this project's own hand-set logistic model:
treatment soon after the policy started, a few providers that bill fraudulently, amounts claimed
far above what is approved, inpatient days billed by a provider that has no beds, weekend
treatment, many recent claims and late claims. Nothing is fitted to real data.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

PROVIDER_TYPES = ["GP", "hospital", "specialist", "physiotherapy", "pharmacy", "dental"]
TYPE_SHARE = [0.35, 0.15, 0.2, 0.12, 0.1, 0.08]
DIAGNOSES = ["respiratory", "musculoskeletal", "cardiovascular", "digestive", "mental health",
             "injury", "skin", "maternity", "oncology", "eye and ear", "endocrine", "other"]  # fmt: skip
PLANS = ["basic", "standard", "premium"]
MEDIAN_COST = {"GP": 80, "hospital": 2500, "specialist": 400, "physiotherapy": 150, "pharmacy": 60,
               "dental": 200}  # fmt: skip
PROVIDERS = 120
RING = 6  # providers that bill fraudulently: the first few ids
BASE_LOGIT = -4.2


def _dates(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    start = np.array([date(2023, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 540, rows)])
    soon = rng.random(rows) < 0.12
    to_treatment = np.where(soon, rng.integers(0, 30, rows), rng.integers(30, 400, rows))
    treatment = np.array([s + timedelta(days=int(d)) for s, d in zip(start, to_treatment, strict=True)])
    late = rng.random(rows) < 0.08
    to_claim = np.where(late, rng.integers(120, 360, rows), rng.integers(1, 60, rows))
    return {"start": start, "treatment": treatment, "soon": soon, "late": late, "to_claim": to_claim}


def generate_health_claims(rows: int = 1500, seed: int = 13) -> pd.DataFrame:
    """`rows` claims in the health_claims spec's columns, with an `is_fraud` label (0/1)."""
    rng = np.random.default_rng(seed)
    d = _dates(rng, rows)
    kind = rng.choice(PROVIDER_TYPES, rows, p=TYPE_SHARE)
    provider = rng.integers(0, PROVIDERS, rows)
    days = np.where(kind == "hospital", rng.poisson(3, rows) + 1, 0)
    padded_days = (kind == "GP") & (rng.random(rows) < 0.03)  # inpatient days from a GP: a red flag
    days = np.where(padded_days, rng.integers(1, 6, rows), days)
    cost = np.array([MEDIAN_COST[k] for k in kind]) * np.exp(rng.normal(0, 0.5, rows)) * (1 + days)
    inflated = rng.random(rows) < 0.1
    claimed = (cost * np.where(inflated, rng.uniform(2.5, 5, rows), rng.uniform(1.0, 1.3, rows))).round(2)
    approved = np.minimum(claimed, cost).round(2)
    prior = rng.poisson(2.5, rows) + np.where(rng.random(rows) < 0.05, rng.integers(10, 30, rows), 0)
    treatment_end = np.array([t + timedelta(days=int(x)) for t, x in zip(d["treatment"], days, strict=True)])
    weekend = np.array([t.weekday() >= 5 for t in d["treatment"]])
    logit = (
        BASE_LOGIT + 2.6 * d["soon"] + 2.0 * (provider < RING) + 2.6 * inflated + 3.0 * padded_days
        + 0.8 * weekend + 1.8 * (prior >= 10) + 1.8 * d["late"] + rng.normal(0, 0.3, rows)
    )  # fmt: skip
    fraud = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    hospital_days = days.astype(object)
    hospital_days[rng.random(rows) < 0.03] = "?"  # unknown on the claim form
    received = [e + timedelta(days=int(x)) for e, x in zip(treatment_end, d["to_claim"], strict=True)]
    return pd.DataFrame(
        {
            "claim_id": [f"HLT-{i:06d}" for i in range(rows)],
            "member_id": [f"M{int(m):07d}" for m in rng.integers(0, 10**7, rows)],
            "provider_id": [f"PRV-{int(p):03d}" for p in provider],
            "provider_type": kind,
            "diagnosis_group": rng.choice(DIAGNOSES, rows),
            "plan": rng.choice(PLANS, rows, p=[0.5, 0.35, 0.15]),
            "policy_start": [x.isoformat() for x in d["start"]],
            "treatment_start": [x.isoformat() for x in d["treatment"]],
            "treatment_end": [x.isoformat() for x in treatment_end],
            "claim_received": [x.isoformat() for x in received],
            "amount_claimed": claimed,
            "amount_approved": approved,
            "hospital_days": hospital_days,
            "prior_claims_12m": prior,
            "member_age": rng.integers(18, 90, rows),
            "member_sex": rng.choice(["F", "M"], rows),
            "is_fraud": fraud,
        }
    )

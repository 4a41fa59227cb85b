"""Seeded generator of synthetic vehicle claims (the demo and fast-test data in data_samples/).

The fraud signal is this project's own invention, a hand-set logistic model on a handful of
claim fields; nothing here is fitted to, or copied from, the real claims data. Columns and
values follow the `vehicle_claims` spec so the same pipeline trains on either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.claims.spec import ClaimSpec

# Hand-set risk weights (log-odds) for values of a few fields; everything else is noise.
RISK_WEIGHTS: dict[str, dict[str, float]] = {
    "Fault": {"Policy Holder": 1.6},
    "BasePolicy": {"Liability": -2.2, "All Perils": 0.4},
    "Days_Policy_Accident": {"1 to 7": 1.5, "8 to 15": 1.2, "none": 0.8},
    "AddressChange_Claim": {"under 6 months": 1.4, "1 year": 0.9},
    "PastNumberOfClaims": {"none": 0.5, "more than 4": 0.3},
    "AgeOfVehicle": {"new": 0.6, "more than 7": 0.3},
    "VehiclePrice": {"more than 69000": 0.6, "less than 20000": 0.3},
    "AgentType": {"Internal": -0.8},
    "NumberOfSuppliments": {"more than 5": -0.3},
}
BASE_LOGIT = -3.4
MISMATCH_LOGIT = 1.0
NO_REPORT_NO_WITNESS_LOGIT = 0.4
# Skewed value frequencies for a realistic mix (the first level is most common).
SKEWED = {
    "Days_Policy_Accident",
    "Days_Policy_Claim",
    "AddressChange_Claim",
    "NumberOfCars",
    "PoliceReportFiled",
    "WitnessPresent",
    "AgentType",
    "AccidentArea",
}
TAIL_FIRST = {"Days_Policy_Accident", "Days_Policy_Claim", "AccidentArea"}


def _draw(rng: np.random.Generator, levels: list, skewed: bool, tail_first: bool, n: int) -> np.ndarray:
    k = len(levels)
    if skewed:
        weights = np.array([0.9] + [0.1 / (k - 1)] * (k - 1)) if k > 1 else np.ones(1)
        if tail_first:
            weights = weights[::-1]
    else:
        weights = rng.dirichlet(np.full(k, 4.0))
    return rng.choice(np.array(levels, dtype=object), size=n, p=weights / weights.sum())


def _ages(rng: np.random.Generator, bands: np.ndarray) -> np.ndarray:
    ranges = {
        "16 to 17": (16, 17),
        "18 to 20": (18, 20),
        "21 to 25": (21, 25),
        "26 to 30": (26, 30),
        "31 to 35": (31, 35),
        "36 to 40": (36, 40),
        "41 to 50": (41, 50),
        "51 to 65": (51, 65),
        "over 65": (66, 80),
    }
    ages = np.array([rng.integers(ranges[b][0], ranges[b][1] + 1) for b in bands])
    ages[(bands == "16 to 17") & (rng.random(len(bands)) < 0.5)] = 0  # the data's missing code
    return ages


def _claim_dates(rng: np.random.Generator, df: pd.DataFrame, spec: ClaimSpec) -> None:
    """Claimed month/week/day = accident date + a lag of days (mostly within two weeks)."""
    months = spec.columns["Month"].levels
    days = spec.columns["DayOfWeek"].levels
    month = df["Month"].map({m: i for i, m in enumerate(months)}).to_numpy()
    day = df["DayOfWeek"].map({d: i for i, d in enumerate(days)}).to_numpy()
    lag = np.minimum(rng.exponential(8.0, len(df)).astype(int), 120)
    day_in_month = (df["WeekOfMonth"].to_numpy() - 1) * 7 + day + lag
    month_claimed = (month + day_in_month // 30) % 12
    df["MonthClaimed"] = [months[m] for m in month_claimed]
    df["WeekOfMonthClaimed"] = np.minimum((day_in_month % 30) // 7 + 1, 5)
    df["DayOfWeekClaimed"] = [days[d] for d in (day + lag) % 7]


def generate_claims(spec: ClaimSpec, n: int = 1500, seed: int = 7) -> pd.DataFrame:
    """`n` synthetic claims with a `FraudFound_P` label drawn from the hand-set risk model."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for col, cs in spec.columns.items():
        if cs.is_categorical:
            data[col] = _draw(rng, cs.levels, col in SKEWED, col in TAIL_FIRST, n)
        else:
            lo, hi = int(cs.min or 0), int(cs.max or 100)
            data[col] = rng.integers(lo, hi + 1, size=n)
    df = pd.DataFrame(data)
    df["Year"] = rng.choice([1994, 1995, 1996], size=n)
    df["Deductible"] = rng.choice([300, 400, 500, 700], size=n, p=[0.02, 0.9, 0.04, 0.04])
    df["Age"] = _ages(rng, df["AgeOfPolicyHolder"].to_numpy())
    mismatch = rng.random(n) < 0.04
    df["PolicyType"] = np.where(mismatch, df["PolicyType"], df["VehicleCategory"] + " - " + df["BasePolicy"])
    _claim_dates(rng, df, spec)

    logit = np.full(n, BASE_LOGIT) + rng.normal(0, 0.4, n)
    for col, weights in RISK_WEIGHTS.items():
        logit += df[col].map(weights).fillna(0.0).to_numpy(dtype=float)
    logit += MISMATCH_LOGIT * (df["PolicyType"] != df["VehicleCategory"] + " - " + df["BasePolicy"])
    no_evidence = (df["PoliceReportFiled"] == "No") & (df["WitnessPresent"] == "No")
    logit += NO_REPORT_NO_WITNESS_LOGIT * no_evidence
    df["FraudFound_P"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    df.insert(0, "PolicyNumber", np.arange(1, n + 1))
    return df

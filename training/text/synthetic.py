"""Seeded generator of the project's own short customer messages (data_samples/contact_messages.csv).

Each message carries three labels, in the label vocabularies of the real data the production
models learn from: `complaint` (1 = complaint), `topic` (a CFPB product group) and `intent`
(a BANKING77 intent). Requests are written per intent; a complaint frame ("third time I ask...")
or a neutral frame wraps each one, so complaint language is independent of the topic.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

CARD = "Credit card or prepaid card"
TRANSFER = "Money transfer, virtual currency, or money service"
ACCOUNT = "Bank account or service, Savings account"
DEBT = "Debt collection"
MORTGAGE = "Mortgage"

REQUESTS: dict[str, tuple[str, list[str]]] = {
    "card_arrival": (
        CARD,
        [
            "my new card has not arrived yet",
            "when will the card you sent me get here",
            "the replacement card still hasn't shown up after {days} days",
            "I ordered a card {days} days ago and I'm still waiting for it",
            "how long until my card is delivered",
        ],
    ),
    "lost_or_stolen_card": (
        CARD,
        [
            "my card was stolen at the station",
            "I lost my credit card, please block it",
            "someone took my wallet with the card in it",
            "I can't find my card anywhere, can you freeze it",
            "my card went missing yesterday",
        ],
    ),
    "change_pin": (
        CARD,
        [
            "how do I change my PIN",
            "I want to set a new PIN for my card",
            "can I pick a different PIN number",
            "where in the app can I update my PIN",
            "I need to reset the PIN on my card",
        ],
    ),
    "transfer_not_received_by_recipient": (
        TRANSFER,
        [
            "the money I sent {days} days ago never reached {name}",
            "my transfer of ${amount} hasn't arrived in my friend's account",
            "the recipient says they never got my payment",
            "I transferred ${amount} and it still is not there",
            "my landlord has not received the transfer I made",
        ],
    ),
    "exchange_rate": (
        TRANSFER,
        [
            "what exchange rate do you use for euros",
            "how is the rate for pounds to dollars calculated",
            "which exchange rate applies when I send money abroad",
            "is the currency exchange rate fixed or does it change",
            "can you tell me today's rate for yen",
        ],
    ),
    "pending_cash_withdrawal": (
        ACCOUNT,
        [
            "my cash withdrawal is still showing as pending",
            "the ATM gave me cash but the withdrawal is pending for {days} days",
            "why is the ${amount} I took out still pending",
            "a withdrawal from yesterday still says pending",
            "how long does a pending cash withdrawal take",
        ],
    ),
    "balance_not_updated_after_bank_transfer": (
        ACCOUNT,
        [
            "my balance did not update after the bank transfer",
            "I moved ${amount} into my account but the balance is the same",
            "the transfer from my other bank is not in my balance",
            "my savings balance still shows the old amount after the transfer",
            "why hasn't my balance changed since the transfer {days} days ago",
        ],
    ),
    "direct_debit_payment_not_recognised": (
        DEBT,
        [
            "there is a direct debit from a collection agency I don't recognise",
            "a debt collector took ${amount} by direct debit and I never agreed",
            "I see a direct debit I never set up",
            "who is this direct debit payment of ${amount} to",
            "an unknown company is collecting payments from my account",
        ],
    ),
    "request_refund": (
        MORTGAGE,
        [
            "I want a refund of the ${amount} mortgage fee",
            "please refund the late fee on my mortgage payment",
            "can I get my escrow overpayment refunded",
            "I was charged twice for my mortgage and need a refund",
            "how do I ask for a refund of the mortgage application fee",
        ],
    ),
}
COMPLAINT_FRAMES = [
    "This is ridiculous, {r}. Worst service ever.",
    "I am so angry. {r} and nobody helps!",
    "Third time I'm asking: {r}. Absolutely unacceptable.",
    "{r}. I will close my account and report you if this isn't fixed today.",
    "Terrible. {r} and your staff keep hanging up on me.",
    "Still waiting!! {r}. I want to speak to a manager.",
    "Fed up with you people, {r}.",
    "{r}, and you charged me a fee for it. Disgraceful.",
]
NEUTRAL_FRAMES = [
    "Hi, {r}?",
    "Hello there, quick question: {r}.",
    "Good morning. {r}. Thanks in advance!",
    "Hi team, {r}. Many thanks.",
    "{r}. Appreciate your help.",
    "Hey, {r}, cheers",
    "Could you help me please, {r}.",
    "Thanks for the quick reply earlier. {r}.",
]
SENTENCE_START = re.compile(r"(?:^|[.:!?] )[a-z]")
NAMES = ["Maria Lopez", "John Smith", "Aisha Khan", "Tom Becker", "Li Wei", "Sarah O'Neill"]


def generate_messages(n: int = 480, seed: int = 11) -> pd.DataFrame:
    """`n` distinct messages, about 40 % complaints, balanced over intents."""
    rng = np.random.default_rng(seed)
    rows: dict[str, dict] = {}
    intents = list(REQUESTS)
    while len(rows) < n:
        intent = intents[len(rows) % len(intents)]
        topic, requests = REQUESTS[intent]
        request = str(rng.choice(requests)).format(
            days=int(rng.integers(2, 15)), amount=int(rng.integers(2, 90)) * 10, name=rng.choice(NAMES)
        )
        complaint = bool(rng.random() < 0.4)
        frame = str(rng.choice(COMPLAINT_FRAMES if complaint else NEUTRAL_FRAMES))
        text = SENTENCE_START.sub(lambda m: m.group(0).upper(), frame.format(r=request))
        rows.setdefault(text, {"text": text, "complaint": int(complaint), "topic": topic, "intent": intent})
    return pd.DataFrame(list(rows.values()))

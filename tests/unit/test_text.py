import pytest

from features.pii import mask_pii
from features.pii.masker import luhn_ok
from features.text import normalize


def test_normalize_urls_mentions_redactions_and_space():
    raw = "@AcmeInsure  my claim\u00a0was denied on XX/XX/XXXX, see https://t.co/abc  !!"
    assert normalize(raw) == ("@user my claim was denied on <redacted>, see <url> !!")


def test_luhn():
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("write to jane.doe+claims@example.co.uk today", "write to [EMAIL] today"),
        ("call me on (555) 123-4567 or +44 20 7946 0958", "call me on [PHONE] or [PHONE]"),
        ("card 4111 1111 1111 1111 was charged twice", "card [CARD] was charged twice"),
        (
            "my policy number is PX-4839201 and claim #7781234",
            "my policy number is [POLICY] and claim #[POLICY]",
        ),
        ("I moved to 42 Oak Street last year", "I moved to [ADDRESS] last year"),
        ("reference 99887766554 please", "reference [POLICY] please"),
        ("transfer 12345678 failed", "transfer [NUMBER] failed"),
        ("Mr. Smith told me to wait", "[PERSON] told me to wait"),
        (
            "Customer Jane Morgan says her windscreen is cracked, reg AB12 CDE, born 04/05/1980",
            "Customer [PERSON] says her windscreen is cracked, reg [PLATE], born [DOB]",
        ),
        ("Hello, my name is Maria Lopez and I am upset", "Hello, my name is [PERSON] and I am upset"),
        ("I'm not happy with the delay", "I'm not happy with the delay"),
    ],
)
def test_mask_pii_realistic_messages(raw, masked):
    assert mask_pii(raw) == masked


def test_mask_pii_keeps_amounts_dates_and_short_numbers():
    text = "I paid $250 on 12/03 for 2 cars, 3 days late"
    assert mask_pii(text) == text


def test_the_schema_pattern_for_text_matches_what_strip_leaves():
    """The OpenAPI pattern of `text`/`query` says what the endpoints check with `strip()`."""
    import re

    from features.text import NOT_ONLY_SPACE

    rx = re.compile(NOT_ONLY_SPACE)
    assert [c for c in range(0x110000) if (rx.search(chr(c)) is None) != chr(c).isspace()] == []


def test_a_contact_batch_over_the_character_cap_is_refused_naming_the_limit():
    from features.contact.api import ContactMessage
    from serving.domain.contact import ContactService
    from serving.domain.errors import TooManyTexts

    class Limits:
        max_batch, max_chars = 256, 200_000

    messages = [ContactMessage(text="my claim is late " * 1176) for _ in range(11)]  # 11 x 19,992
    with pytest.raises(
        TooManyTexts, match=r"219912 characters .* the maximum is 200000 \(serving.max_batch_chars\)"
    ):
        ContactService._checked_texts(Limits(), messages, False)
    assert len(ContactService._checked_texts(Limits(), messages[:10], False)) == 10

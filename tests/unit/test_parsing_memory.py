"""spaCy keeps every new word it reads unless parsing runs in a memory zone: the service's parses
(key phrases, PII masking) go through `features.contact.phrases.parsing`, one block at a time."""

import threading

from features.contact.phrases import load_nlp, parsing
from features.text import mask_pii
from serving.domain.records import _masked_texts


def test_without_a_zone_a_new_word_stays_in_the_vocabulary():
    """The leak the zone exists for (so the test below can fail)."""
    nlp = load_nlp()
    nlp("Krobvaltimer from claims called me")
    assert "Krobvaltimer" in nlp.vocab.strings


def test_a_parsing_block_frees_the_words_it_added():
    nlp = load_nlp()
    before = len(nlp.vocab.strings)
    with parsing() as inner:
        doc = inner("Policy QZX981273: Wrenfeldtova from your office never called back")
        spans = [(e.start_char, e.end_char) for e in doc.ents]
        assert "Wrenfeldtova" in inner.vocab.strings
    assert spans  # plain offsets taken out of the block stay valid
    assert "Wrenfeldtova" not in nlp.vocab.strings
    assert len(nlp.vocab.strings) == before


def test_masking_from_many_threads_matches_one_thread_and_keeps_the_vocabulary():
    names = [
        a + b
        for a in ("Vrel", "Kosh", "Trand", "Mirv", "Ulb")
        for b in ("kinsky", "avet", "orrow", "ezza", "ini", "quist", "aldo", "erman")
    ]
    texts = [f"Hi, Jonathan {n} here, policy PX{93817 + i} was charged twice" for i, n in enumerate(names)]
    nlp = load_nlp()
    with parsing() as inner:
        expected = [mask_pii(t, inner) for t in texts]
    before = len(nlp.vocab.strings)
    results: dict[int, list[str]] = {}

    def work(k: int) -> None:
        results[k] = _masked_texts(texts[k::4])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert results[k] == expected[k::4]
    assert all("[ACCOUNT]" in m for m in expected)
    assert len(nlp.vocab.strings) == before

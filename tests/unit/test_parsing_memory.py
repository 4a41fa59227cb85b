"""spaCy keeps every new word it reads unless parsing runs in a memory zone: the service's parses
(key phrases) go through `features.contact.phrases.parsing`, one block at a time."""

from features.contact.phrases import load_nlp, parsing


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

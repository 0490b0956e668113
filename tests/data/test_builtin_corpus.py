from keras_electra.data.builtin_corpus import builtin_documents, write_builtin_corpus


def test_corpus_is_english_paragraphs_and_deterministic(tmp_path):
    first = list(builtin_documents(max_bytes=200_000))
    second = list(builtin_documents(max_bytes=200_000))
    assert first == second
    paragraphs = [p for doc in first for p in doc]
    assert len(paragraphs) > 200
    assert all("\n" not in p and len(p.split()) >= 6 for p in paragraphs)
    words = " ".join(paragraphs).lower().split()
    # Ordinary English function words are frequent: it is prose, not code.
    assert sum(w in ("the", "a", "of", "is", "to") for w in words) / len(words) > 0.08


def test_written_file_layout(tmp_path):
    path = tmp_path / "corpus.txt"
    size = write_builtin_corpus(str(path), max_bytes=50_000)
    text = path.read_text(encoding="utf-8")
    assert size == len(text.encode("utf-8")) and size >= 50_000
    assert "\n\n" in text  # documents separated by a blank line
    assert not list(tmp_path.glob("*.tmp*"))

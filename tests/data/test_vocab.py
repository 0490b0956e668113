import pytest

from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.data.vocab import (
    SpecialTokenIds, load_vocabulary, special_token_ids, train_vocabulary, write_vocabulary)


def _bert_like_vocab(tmp_path):
    # BERT's uncased layout: [PAD]=0, [unused*], [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103.
    tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += ["the", "cat", "sat", "##s", "on", "mat", "."]
    path = tmp_path / "vocab.txt"
    write_vocabulary(tokens, str(path))
    return path


def test_special_ids_come_from_the_file(tmp_path):
    path = _bert_like_vocab(tmp_path)
    vocabulary = load_vocabulary(str(path))
    assert special_token_ids(vocabulary) == SpecialTokenIds(pad=0, unk=100, cls=101, sep=102, mask=103)


def test_missing_special_token_is_named(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n")
    with pytest.raises(ValueError, match=r"vocab.txt: missing required special token\(s\) \['\[MASK\]'\]"):
        make_tokenizer(str(path))


def test_unreadable_vocabularies(tmp_path):
    with pytest.raises(ValueError, match="nope.txt: vocabulary file not found"):
        load_vocabulary(str(tmp_path / "nope.txt"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty.txt: vocabulary file is empty"):
        load_vocabulary(str(tmp_path / "empty.txt"))
    (tmp_path / "bin.txt").write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(ValueError, match="bin.txt: vocabulary is not valid UTF-8"):
        load_vocabulary(str(tmp_path / "bin.txt"))


def test_tokenizer_with_bert_layout(tmp_path):
    tokenizer, vocabulary, special = make_tokenizer(str(_bert_like_vocab(tmp_path)))
    ids = tokenizer.tokenize(["The cats sat on the MAT."]).to_list()[0]
    assert [vocabulary[i] for i in ids] == ["the", "cat", "##s", "sat", "on", "the", "mat", "."]
    assert special.mask == 103


def test_trained_vocabulary_tokenizes_words(tmp_path):
    text = tmp_path / "corpus.txt"
    sentence = "The quick brown fox jumps over the lazy dog near the riverbank.\n"
    text.write_text(sentence * 50 + "Ünïcödé wörds – and “quotes” too.\n" * 20)
    out = tmp_path / "vocab.txt"
    vocabulary = train_vocabulary([str(text)], str(out), vocabulary_size=200)
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert load_vocabulary(str(out)) == vocabulary
    assert not any(ch.isspace() for token in vocabulary for ch in token)
    tokenizer, vocab, _ = make_tokenizer(str(out))
    ids = tokenizer.tokenize(["the lazy dog"]).to_list()[0]
    assert [vocab[i] for i in ids] == ["the", "lazy", "dog"]
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically


def test_bad_text_inputs_are_named(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.txt: input file is empty"):
        train_vocabulary([str(empty)], str(tmp_path / "v.txt"), 100)
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(ValueError, match="blob.bin: looks like a binary file"):
        train_vocabulary([str(binary)], str(tmp_path / "v.txt"), 100)
    assert not (tmp_path / "v.txt").exists()


def test_invalid_utf8_bytes_are_dropped_and_counted(tmp_path):
    from keras_electra.data.vocab import count_words

    path = tmp_path / "mixed.txt"
    path.write_bytes(b"good words here\nbad \xff\xfe bytes here\n" + "caf\u00e9 na\u00efve\n".encode())
    counts, stats = count_words([str(path)], lowercase=True)
    assert stats["invalid_utf8_lines"] == 1 and stats["lines"] == 3
    # Accents stripped and lowercased like FastBertTokenizer does.
    assert counts["here"] == 2 and counts["cafe"] == 1 and counts["naive"] == 1
    assert counts["bad"] == 1 and counts["bytes"] == 1


def test_five_megabyte_line(tmp_path):
    path = tmp_path / "long.txt"
    words = ("alpha beta gamma delta " * 250_000).strip()  # ~5.75 MB on one line
    path.write_text(words + "\n")
    vocabulary = train_vocabulary([str(path)], str(tmp_path / "v.txt"), 50)
    assert {"alpha", "beta", "gamma", "delta"} <= set(vocabulary)


def test_cased_vocabulary_keeps_case(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("The Cat saw the cat . Über alles .\n" * 40)
    vocabulary = train_vocabulary([str(text)], str(tmp_path / "v.txt"), 60, lowercase=False)
    assert {"The", "the", "Cat", "cat", "Über"} <= set(vocabulary)
    tokenizer, vocab, _ = make_tokenizer(str(tmp_path / "v.txt"), lowercase=False)
    ids = tokenizer.tokenize(["The cat"]).to_list()[0]
    assert [vocab[i] for i in ids] == ["The", "cat"]

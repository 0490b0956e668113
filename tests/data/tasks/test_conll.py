import pytest

from keras_electra.data.tasks.conll import (
    align_word_labels, iob1_to_iob2, read_conll, sequence_word_ids, tag_vocabulary,
    word_predictions)
from keras_electra.data.tasks.tagged_sentence import TaggedSentence
from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.data.vocab import write_vocabulary
from tests.test_case import shared_data_dir

CONLL_VALID = shared_data_dir() / "conll2003" / "valid.txt"

# IOB1, as in the original CoNLL-2003 release: I- opens a chunk unless it continues one
# of the same type; B- only separates two adjacent chunks of the same type.
IOB1_FILE = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
.	.	O	O


Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
Paris NNP I-NP B-PER
-DOCSTART- -X- O O
Bonn NNP I-NP I-LOC
"""


def test_iob1_to_iob2():
    assert iob1_to_iob2(["I-PER", "I-PER", "B-PER", "I-PER", "O", "I-LOC", "I-ORG", "I-ORG"]) == [
        "B-PER", "I-PER", "B-PER", "I-PER", "O", "B-LOC", "B-ORG", "I-ORG"]
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC"]
    assert iob1_to_iob2(iob2) == iob2
    assert iob1_to_iob2([]) == []


def test_reads_iob1_columns_as_iob2(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(IOB1_FILE, encoding="utf-8")
    # Blank lines (one or more), tabs or spaces, and -DOCSTART- all end a sentence.
    assert read_conll(path) == [
        TaggedSentence(("EU", "rejects", "German", "call", "."),
                       ("B-ORG", "O", "B-MISC", "O", "O"), 3),
        TaggedSentence(("Peter", "Blackburn", "Paris"), ("B-PER", "I-PER", "B-PER"), 10),
        TaggedSentence(("Bonn",), ("B-LOC",), 14),
    ]
    chunks = read_conll(path, tag_column=2)
    assert chunks[0].tags == ("B-NP", "B-VP", "B-NP", "I-NP", "O")
    pos = read_conll(path, tag_column=1, iob=False)
    assert pos[0].tags == ("NNP", "VBZ", "JJ", "NN", ".")
    assert tag_vocabulary(read_conll(path)) == ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER"]


def test_bad_conll_lines(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("EU B-ORG\nrejects\n", encoding="utf-8")
    with pytest.raises(ValueError,
                       match=r"bad.txt:2: expected at least 2 columns \(token ... tag\), got 1\."):
        read_conll(path)
    path.write_text("EU NNP B-ORG\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt:1: tag 'NNP' is not O, B-TYPE or I-TYPE\."):
        read_conll(path, tag_column=1)
    with pytest.raises(ValueError, match=r"bad.txt:1: expected at least 5 columns"):
        read_conll(path, tag_column=4)


def test_real_conll_valid():
    sentences = read_conll(CONLL_VALID)
    # SOURCES.md: 3,250 sentences, 51,362 tokens, 5,942 entities.
    assert len(sentences) == 3250
    assert sum(len(s.words) for s in sentences) == 51362
    assert sum(tag.startswith("B-") for s in sentences for tag in s.tags) == 5942
    assert sentences[0] == TaggedSentence(
        ("CRICKET", "-", "LEICESTERSHIRE", "TAKE", "OVER", "AT", "TOP", "AFTER", "INNINGS",
         "VICTORY", "."), ("O", "O", "B-ORG") + ("O",) * 8, 3)
    assert sentences[1] == TaggedSentence(("LONDON", "1996-08-30"), ("B-LOC", "O"), 15)


def test_word_piece_alignment_round_trip(tmp_path):
    write_vocabulary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "eu", "rejects", "ger",
                      "##man", "##s", "call"], str(tmp_path / "vocab.txt"))
    tokenizer, _, _ = make_tokenizer(str(tmp_path / "vocab.txt"))
    words = ["EU", "rejects", "Germans", "call"]
    pieces_per_word = tokenizer.tokenize(words).row_lengths().numpy().tolist()
    assert pieces_per_word == [1, 1, 3, 1]  # ger ##man ##s
    labels = ["B-ORG", "O", "B-MISC", "O"]
    label_ids = [tag_vocabulary([TaggedSentence(tuple(words), tuple(labels))]).index(t)
                 for t in labels]  # O=0, B-MISC=1, B-ORG=2
    assert label_ids == [2, 0, 1, 0]

    word_ids = sequence_word_ids(pieces_per_word, 10)
    assert word_ids.tolist() == [-1, 0, 1, 2, 2, 2, 3, -1, -1, -1]
    piece_labels, mask = align_word_labels(label_ids, word_ids)
    assert piece_labels.tolist() == [-1, 2, 0, 1, -1, -1, 0, -1, -1, -1]
    assert mask.tolist() == [0, 1, 1, 1, 0, 0, 1, 0, 0, 0]
    # Predictions on the non-first pieces are ignored when mapping back.
    piece_tags = ["O", "B-ORG", "O", "B-MISC", "I-PER", "I-PER", "O", "O", "O", "O"]
    assert word_predictions(piece_tags, word_ids, len(words), "O") == labels

    # max_seq_length 6 leaves 4 pieces: "call" gets none, is unlabelled and predicted "O".
    short = sequence_word_ids(pieces_per_word, 6)
    assert short.tolist() == [-1, 0, 1, 2, 2, -1]
    assert align_word_labels(label_ids, short)[0].tolist() == [-1, 2, 0, 1, -1, -1]
    assert word_predictions(["O", "B-ORG", "O", "B-MISC", "O", "O"], short, 4, "O") == labels

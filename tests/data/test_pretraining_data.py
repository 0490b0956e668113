"""`build_pretraining_data`: exact records, documents, stats, bad input, determinism, resume."""

import collections
import doctest
import gzip
import itertools
import json
import logging
import math
import os
import pathlib
import random
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_electra.data import pretraining_data
from keras_electra.data.pretraining_data import build_pretraining_data, shard_filename
from keras_electra.data.vocab import write_vocabulary
from tests.test_case import shared_data_dir

FEATURES = ("input_ids", "input_mask", "segment_ids")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "far", "."]  # ids 5..14


def _vocab(tmp_path, words=WORDS, layout="ours", name="vocab.txt"):
    if layout == "bert":  # [PAD]=0, [unused*], [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103
        tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + SPECIALS[1:]
    else:
        tokens = list(SPECIALS)
    path = tmp_path / name
    write_vocabulary(tokens + list(words), str(path))
    return str(path)


def _read(path, max_seq_length):
    """Every record of a shard, parsed the way the training pipeline parses it."""
    spec = {name: tf.io.FixedLenFeature([max_seq_length], tf.int64) for name in FEATURES}
    compression = "GZIP" if str(path).endswith(".gz") else ""
    return [{k: v.numpy().tolist() for k, v in tf.io.parse_single_example(r, spec).items()}
            for r in tf.data.TFRecordDataset(str(path), compression)]


def _read_all(out, stats):
    return [_read(out / name, stats["max_seq_length"]) for name in stats["output_files"]]


def _build(tmp_path, inputs, vocab, out="out", **kwargs):
    kwargs.setdefault("progress", False)
    stats = build_pretraining_data(inputs, vocab, str(tmp_path / out), **kwargs)
    return tmp_path / out, stats


def _gutenberg_slice(tmp_path, lines=1200, doc_lines=40, name="slice.txt"):
    """Real paragraphs cut into documents of `doc_lines` lines (books are too few, too big)."""
    with open(shared_data_dir() / "gutenberg" / "train_00.txt", encoding="utf-8") as f:
        paragraphs = [line for line in itertools.islice(f, lines * 2) if line.strip()][:lines]
    text = "".join(p + ("\n" if (i + 1) % doc_lines == 0 else "")
                   for i, p in enumerate(paragraphs))
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _shard_bytes(out, stats):
    return [(out / name).read_bytes() for name in stats["output_files"]]


def test_docstring_example_runs():
    assert doctest.testmod(pretraining_data).failed == 0


def test_exact_examples_by_hand(tmp_path):
    vocab = _vocab(tmp_path)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the mat.\nA dog ran far.\n\nThe dog sat.\n")
    out, stats = _build(tmp_path, str(corpus), vocab, max_seq_length=12, num_shards=1, seed=0)
    [records] = _read_all(out, stats)
    # Seed 0, shard 0 draws 0.81 (>= 0.1: two segments), 0.23 (>= 0.05: target stays 12).
    # Lines of 7 and 5 tokens reach the target 12. The first-segment target is
    # (12 - 3) // 2 = 4: line 1 fills the first segment, line 2 goes to the
    # second, cut to 12 - 7 - 3 = 2 tokens ("a dog"; "ran far ." are dropped).
    cls, sep, the, cat, sat, on, mat, a, dog, dot = 2, 3, 5, 6, 7, 8, 9, 10, 11, 14
    assert records[0] == {
        "input_ids": [cls, the, cat, sat, on, the, mat, dot, sep, a, dog, sep],
        "input_mask": [1] * 12,
        "segment_ids": [0] * 9 + [1] * 3,
    }
    # The second document (4 tokens) is flushed by the end of the file.
    assert records[1] == {
        "input_ids": [cls, the, dog, sat, dot, sep] + [0] * 6,
        "input_mask": [1] * 6 + [0] * 6,
        "segment_ids": [0] * 12,
    }
    assert len(records) == 2
    assert {k: stats[k] for k in (
        "num_documents", "num_lines", "num_blank_lines", "num_examples", "num_input_tokens",
        "num_truncated_tokens", "num_tokens", "num_padding", "num_single_segment_examples",
        "num_skipped_lines")} == {
        "num_documents": 2, "num_lines": 3, "num_blank_lines": 1, "num_examples": 2,
        "num_input_tokens": 16, "num_truncated_tokens": 3, "num_tokens": 18, "num_padding": 6,
        "num_single_segment_examples": 0, "num_skipped_lines": 0}
    assert stats["special_token_ids"] == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    assert json.loads((out / "stats.json").read_text()) == stats

    # Cased: "The" is not in this (uncased) vocabulary.
    out, stats = _build(tmp_path, str(corpus), vocab, out="cased", max_seq_length=12,
                        num_shards=1, do_lower_case=False)
    assert _read_all(out, stats)[0][1]["input_ids"][:3] == [cls, 1, dog]


def test_bert_layout_vocabulary_ids_are_used(tmp_path):
    vocab = _vocab(tmp_path, layout="bert")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the mat.\nA dog ran far.\n\nThe dog sat.\n")
    out, stats = _build(tmp_path, str(corpus), vocab, max_seq_length=12, num_shards=1, seed=0)
    records = _read_all(out, stats)[0]
    assert stats["special_token_ids"] == {"pad": 0, "unk": 100, "cls": 101, "sep": 102,
                                          "mask": 103}
    the, dog, sat, dot = 104, 110, 106, 113
    assert records[1]["input_ids"] == [101, the, dog, sat, dot, 102] + [0] * 6
    assert records[0]["input_ids"][0] == 101 and records[0]["input_ids"].count(102) == 2


def test_records_have_exactly_the_original_features(tmp_path):
    out, stats = _build(tmp_path, _gutenberg_slice(tmp_path, lines=150),
                        _vocab(tmp_path), max_seq_length=32, num_shards=2)
    for name in stats["output_files"]:
        raw = list(tf.data.TFRecordDataset(str(out / name)))
        assert raw
        for record in raw:
            example = tf.train.Example.FromString(record.numpy())
            assert sorted(example.features.feature) == list(FEATURES)
            for feature in example.features.feature.values():
                assert feature.WhichOneof("kind") == "int64_list"
                assert len(feature.int64_list.value) == 32
    spec = {k: tf.io.FixedLenFeature([32], tf.int64) for k in FEATURES}
    parsed = tf.io.parse_single_example(raw[0], spec)
    assert all(parsed[k].dtype == tf.int64 and parsed[k].shape == (32,) for k in FEATURES)


def test_documents_never_share_an_example(tmp_path):
    words = [f"w{i:02d}" for i in range(30)]
    vocab = _vocab(tmp_path, words=words)
    rng = random.Random(3)
    files, doc = [], 0
    for f in range(3):
        docs = []
        for _ in range(10):
            lines = [" ".join([words[doc]] * rng.randint(1, 30)) for _ in range(rng.randint(1, 12))]
            docs.append("\n".join(lines) + "\n")
            doc += 1
        path = tmp_path / f"part{f}.txt"
        # The last document of a file has no blank line after it: the file's end ends it.
        path.write_text("\n".join(docs))
        files.append(str(path))
    out, stats = _build(tmp_path, ",".join(files), vocab, max_seq_length=16, num_shards=3)
    assert stats["num_documents"] == 30
    shard_of_word = {}
    for shard, records in enumerate(_read_all(out, stats)):
        for record in records:
            text_ids = {i for i in record["input_ids"] if i >= 5}
            assert len(text_ids) == 1, record["input_ids"]
            assert shard_of_word.setdefault(text_ids.pop(), shard) == shard
    assert len(shard_of_word) == 30
    # Contiguous assignment: documents in input order fill shards 0, 1, 2 in turn.
    assert [shard_of_word[i] for i in sorted(shard_of_word)] == sorted(shard_of_word.values())


def test_stats_agree_with_the_records_and_rates_are_plausible(tmp_path):
    out, stats = _build(tmp_path, _gutenberg_slice(tmp_path, lines=1500),
                        _vocab(tmp_path, words=_slice_words(tmp_path)),
                        max_seq_length=32, num_shards=3, seed=5)
    shards = _read_all(out, stats)
    records = [r for shard in shards for r in shard]
    n = len(records)
    assert n == stats["num_examples"] == sum(s["num_examples"] for s in stats["shards"])
    assert [len(s) for s in shards] == [s["num_examples"] for s in stats["shards"]]
    mask = np.array([r["input_mask"] for r in records])
    ids = np.array([r["input_ids"] for r in records])
    assert stats["num_tokens"] == mask.sum()
    assert stats["num_padding"] == (1 - mask).sum() == n * 32 - stats["num_tokens"]
    num_seps = int((ids == 3).sum())
    assert stats["num_input_tokens"] - stats["num_truncated_tokens"] == mask.sum() - n - num_seps
    assert stats["num_documents"] == math.ceil(1500 / 40) and stats["num_lines"] == 1500
    # The original's draws: 10% single-segment examples, 5% random target lengths.
    for key, p in (("num_single_segment_examples", 0.1), ("num_short_target_examples", 0.05)):
        assert abs(stats[key] / n - p) < 4 * math.sqrt(p * (1 - p) / n), (key, stats[key], n)
    # Segment 1 exists exactly in the examples with two [SEP]s.
    segments = np.array([r["segment_ids"] for r in records])
    assert ((segments.max(axis=1) == 1) == ((ids == 3).sum(axis=1) == 2)).all()


def _slice_words(tmp_path):
    """A small real vocabulary: the 3000 commonest lowercased words of the slice."""
    text = open(_gutenberg_slice(tmp_path, lines=1500, name="words.txt"), encoding="utf-8").read()
    counts = collections.Counter(re.findall(r"\w+|[^\w\s]", text.lower()))
    return [w for w, _ in counts.most_common(3000)]


def test_gzip_shards_hold_the_same_records(tmp_path):
    corpus, vocab = _gutenberg_slice(tmp_path, lines=300), _vocab(tmp_path)
    plain_out, plain = _build(tmp_path, corpus, vocab, out="plain", num_shards=2, seed=3)
    gz_out, gz = _build(tmp_path, corpus, vocab, out="gz", num_shards=2, seed=3,
                        compression="gzip")
    assert gz["output_files"] == ["pretrain_data-00000-of-00002.tfrecord.gz",
                                  "pretrain_data-00001-of-00002.tfrecord.gz"]
    assert plain["output_files"] == [shard_filename(i, 2) for i in range(2)]
    for plain_name, gz_name in zip(plain["output_files"], gz["output_files"]):
        # A standard gzip stream of exactly the uncompressed shard's bytes.
        plain_bytes = (plain_out / plain_name).read_bytes()
        assert gzip.decompress((gz_out / gz_name).read_bytes()) == plain_bytes
    assert _read_all(gz_out, gz) == _read_all(plain_out, plain)
    assert sum(len(s) for s in _read_all(gz_out, gz)) == gz["num_examples"] > 0


@pytest.mark.slow
def test_output_does_not_depend_on_num_processes(tmp_path):
    corpus, vocab = _gutenberg_slice(tmp_path, lines=800), _vocab(tmp_path)
    one_out, one = _build(tmp_path, corpus, vocab, out="one", num_shards=4, seed=11)
    two_out, two = _build(tmp_path, corpus, vocab, out="two", num_shards=4, seed=11,
                          num_processes=2)
    again_out, again = _build(tmp_path, corpus, vocab, out="again", num_shards=4, seed=11)
    assert _shard_bytes(one_out, one) == _shard_bytes(two_out, two)
    assert _shard_bytes(one_out, one) == _shard_bytes(again_out, again)
    assert one == two == again
    other_out, other = _build(tmp_path, corpus, vocab, out="other", num_shards=4, seed=12)
    assert _shard_bytes(other_out, other) != _shard_bytes(one_out, one)


def test_rerun_skips_complete_shards_and_rebuilds_missing_ones(tmp_path, caplog):
    corpus, vocab = _gutenberg_slice(tmp_path, lines=300), _vocab(tmp_path)
    out, stats = _build(tmp_path, corpus, vocab, num_shards=3, seed=2)
    before = _shard_bytes(out, stats)
    (out / stats["output_files"][1]).unlink()
    stale = out / ".build" / (stats["output_files"][1] + ".partial-99999")
    stale.write_bytes(b"half a shard")
    # On the "absl" logger itself: TensorFlow's SavedModel writer (run by other tests in the
    # same process) sets that logger to WARNING, which a root-only level would not override.
    with caplog.at_level(logging.INFO, logger="absl"):
        out, again = _build(tmp_path, corpus, vocab, num_shards=3, seed=2)
    assert _shard_bytes(out, again) == before
    assert again == stats
    assert not stale.exists()
    skipped = [m for m in caplog.messages if "exists (complete): skipped" in m]
    assert len(skipped) == 2 and stats["output_files"][1] not in " ".join(skipped)
    # Shards made with other settings are never mixed in.
    with pytest.raises(ValueError, match=r"pretrain_data.tfrecord-00000-of-00003: exists but "
                                         r"was not built from these inputs with these settings"):
        _build(tmp_path, corpus, vocab, num_shards=3, seed=3)


def test_pattern_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"nothing\*.txt: no file matches this input pattern"):
        _build(tmp_path, str(tmp_path / "nothing*.txt"), _vocab(tmp_path))


def test_vocabulary_without_a_special_token_is_an_error(tmp_path):
    vocab = tmp_path / "bad_vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[MASK]\nthe\n")
    corpus = tmp_path / "c.txt"
    corpus.write_text("the\n")
    with pytest.raises(ValueError, match=r"bad_vocab.txt: missing required special token\(s\) "
                                         r"\['\[SEP\]'\]"):
        _build(tmp_path, str(corpus), str(vocab))


def test_empty_files_are_skipped_and_listed(tmp_path, caplog):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    empty, blank, text = corpus / "empty.txt", corpus / "blank.txt", corpus / "text.txt"
    empty.write_bytes(b"")
    blank.write_text("\n  \n\n")
    text.write_text("the cat sat.\n")
    with caplog.at_level(logging.WARNING, logger="absl"):
        out, stats = _build(tmp_path, str(corpus / "*.txt"), _vocab(tmp_path), num_shards=1)
    assert stats["empty_input_files"] == [str(blank), str(empty)]
    assert stats["num_examples"] == 1 and stats["num_documents"] == 1
    assert any("empty.txt: no text" in m for m in caplog.messages)
    with pytest.raises(ValueError, match=r"no text in the input files: .*blank.txt, .*empty.txt"):
        _build(tmp_path, f"{blank},{empty}", _vocab(tmp_path))


def test_invalid_lines_are_skipped_and_counted(tmp_path):
    corpus = tmp_path / "mixed.txt"
    corpus.write_bytes(b"the cat sat.\n\xff\xfe\xfd broken\nthe dog\x00 ran.\na dog ran.\n")
    out, stats = _build(tmp_path, str(corpus), _vocab(tmp_path), max_seq_length=16,
                        num_shards=1)
    assert stats["skipped_lines"] == {"invalid_utf8": 1, "nul_byte": 1}
    assert stats["num_skipped_lines"] == 2 and stats["num_lines"] == 2
    # Skipped lines do not end the document: both good lines are in one example.
    # (Seed 0 draws 0.81: two segments, then 0.23 < 0.5: line 2 joins the first.)
    [[record]] = _read_all(out, stats)
    assert record["input_ids"] == [2, 5, 6, 7, 14, 10, 11, 12, 14, 3] + [0] * 6


def test_binary_file_is_an_error_naming_it(tmp_path):
    binary = tmp_path / "model.bin"
    noise = random.Random(0).randbytes(4000).replace(b"\n", b"")
    binary.write_bytes(b"".join(noise[i * 50:(i + 1) * 50] + b"\x00\n" for i in range(40))
                       + b"one text line\n")
    with pytest.raises(ValueError, match=r"model.bin: 40 of 41 non-blank lines are not UTF-8 "
                                         r"text .*binary file"):
        _build(tmp_path, str(binary), _vocab(tmp_path))
    with pytest.raises(ValueError, match=r"is a directory"):
        _build(tmp_path, str(tmp_path), _vocab(tmp_path))


def test_a_5mb_line_is_read_in_pieces(tmp_path):
    corpus = tmp_path / "one_line.txt"
    sentence = "the cat sat on the mat . "
    line = sentence * (5 * 2**20 // len(sentence) + 1)  # just over 5 MiB, no newline at all
    corpus.write_text(line + "\n\nthe dog ran.\n")
    out, stats = _build(tmp_path, str(corpus), _vocab(tmp_path), max_seq_length=16,
                        num_shards=2, split_long_lines=False)  # the original: truncate
    assert stats["num_long_lines"] == 1 and stats["num_long_line_pieces"] == 6
    assert stats["num_lines"] == 7 and stats["num_documents"] == 2
    # 5 full pieces of 1 MiB and a 21-byte tail: an example per piece (each full
    # piece is far over the target; the tail is flushed by the blank line),
    # then one for the second document.
    records = [r for shard in _read_all(out, stats) for r in shard]
    assert len(records) == stats["num_examples"] == 7
    assert records[0]["input_ids"] == [2] + [5, 6, 7, 8, 5, 9, 14] * 2 + [3]
    assert all(r["input_mask"] == [1] * 16 for r in records[:5])
    assert records[6]["input_ids"] == [2, 5, 11, 12, 14, 3] + [0] * 10


def test_long_lines_are_split_into_sentences(tmp_path):
    corpus = tmp_path / "paragraphs.txt"
    # One paragraph of five 7-token sentences (35 > 16 - 3), then a short line.
    corpus.write_text("the cat sat on the mat . " * 5 + "\nthe dog ran\n")
    out, stats = _build(tmp_path, str(corpus), _vocab(tmp_path), max_seq_length=16,
                        num_shards=1, seed=3)
    assert stats["num_split_lines"] == 1
    records = _read_all(out, stats)[0]
    # Each example's first segment is exactly one sentence, as with sentence-per-line input.
    assert records[0]["input_ids"][:9] == [2, 5, 6, 7, 8, 5, 9, 14, 3]
    kept = sum(t not in (0, 2, 3) for r in records for t in r["input_ids"])
    assert kept == stats["num_input_tokens"] - stats["num_truncated_tokens"]
    # The original behaviour truncates the paragraph to one example: far more is lost.
    _, original = _build(tmp_path, str(corpus), _vocab(tmp_path), out="orig", max_seq_length=16,
                         num_shards=1, seed=3, split_long_lines=False)
    assert original["num_split_lines"] == 0
    assert original["num_truncated_tokens"] == 35 - 14  # all but [CLS] + 14 tokens
    assert stats["num_truncated_tokens"] < original["num_truncated_tokens"]


def test_long_lines_are_cut_on_character_boundaries():
    import io

    line = ("é" * 100 + "z" + "€" * 77 + "𝄞" * 33).encode("utf-8")
    chunks = list(pretraining_data._iter_chunks(io.BytesIO(line + b"\nnext\n"), 64))
    pieces = [c for c, _, piece in chunks if piece]
    assert all(len(c) <= 64 for c, _, _ in chunks)
    assert b"".join(pieces) == line + b"\n" and len(pieces) > 5
    for piece in pieces:
        piece.decode("utf-8")  # no character is split
    assert [piece for _, _, piece in chunks] == list(range(1, len(pieces) + 1)) + [0]
    assert chunks[-1] == (b"next\n", True, 0)


def test_more_shards_than_documents_gives_empty_shards(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat.\n\na dog ran.\n")
    out, stats = _build(tmp_path, [corpus], pathlib.Path(_vocab(tmp_path)),
                        num_shards=5)
    records = _read_all(out, stats)
    assert [len(r) for r in records] == [s["num_examples"] for s in stats["shards"]]
    assert sorted(len(r) for r in records) == [0, 0, 0, 1, 1]
    assert sorted(os.listdir(out)) == [".build"] + stats["output_files"] + ["stats.json"]

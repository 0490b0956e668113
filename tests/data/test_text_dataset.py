import numpy as np
import pytest

from keras_electra.data.text_dataset import expand_file_patterns, text_dataset
from keras_electra.data.vocab import write_vocabulary

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e", "f", "g", "h"]


def test_packs_token_stream_into_fixed_examples(tmp_path):
    write_vocabulary(TOKENS, str(tmp_path / "vocab.txt"))
    (tmp_path / "a.txt").write_text("a b c\nd e\n\nf g h a\n")  # 9 tokens + a blank line
    ds = text_dataset([str(tmp_path / "a.txt")], str(tmp_path / "vocab.txt"), max_seq_length=5,
                      batch_size=3, shuffle_buffer=0, repeat=False)
    batches = list(ds)
    assert len(batches) == 1
    ids = batches[0]["input_ids"].numpy()
    # Pieces of 3 tokens wrapped as [CLS] ... [SEP].
    np.testing.assert_array_equal(ids, [[2, 5, 6, 7, 3], [2, 8, 9, 10, 3], [2, 11, 12, 5, 3]])
    np.testing.assert_array_equal(batches[0]["input_mask"], np.ones((3, 5)))
    np.testing.assert_array_equal(batches[0]["segment_ids"], np.zeros((3, 5)))


def test_unknown_words_and_globs(tmp_path):
    write_vocabulary(TOKENS, str(tmp_path / "vocab.txt"))
    (tmp_path / "x1.txt").write_text("a zzz b\n")
    (tmp_path / "x2.txt").write_text("c\n")
    files = expand_file_patterns(str(tmp_path / "x*.txt"))
    assert [f.rsplit("/", 1)[1] for f in files] == ["x1.txt", "x2.txt"]
    ds = text_dataset(files, str(tmp_path / "vocab.txt"), 6, 1, shuffle_buffer=0, repeat=False)
    np.testing.assert_array_equal(next(iter(ds))["input_ids"], [[2, 5, 1, 6, 7, 3]])


def test_glob_matching_nothing_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"nothing\*.txt: no file matches this input pattern"):
        expand_file_patterns(str(tmp_path / "nothing*.txt"))

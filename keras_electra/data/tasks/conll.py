"""CoNLL-2003-style tagging files, IOB1 -> IOB2, and word <-> WordPiece label alignment.

    sentences = read_conll("conll2003/train.txt")            # NER tags, the last column
    chunks = read_conll("conll2003/train.txt", tag_column=2)  # CoNLL-2000 chunk tags

A file holds one `token col1 col2 ... tag` line per word (space- or
tab-separated), a blank line between sentences and `-DOCSTART-` lines between
documents (skipped). Chunk tags may be IOB1 (the original CoNLL-2003 release)
or IOB2; both come out as IOB2, the scheme the entity metrics and the model's
label ids use.

A word becomes one or more WordPieces; the model predicts on every piece but
is trained and scored on the first piece of each word only (the original
ELECTRA `tagging_tasks.py` and BERT do the same).
"""

import numpy as np

from keras_electra.data.tasks.tagged_sentence import TaggedSentence
from keras_electra.data.tasks.text_lines import read_lines

IGNORE_LABEL = -1


def read_conll(path, tag_column=-1, iob=True):
    """The sentences of a CoNLL column file, tags converted to IOB2.

    Args:
        path: the file (`gs://` works).
        tag_column: the column holding the tags (0-based; negative counts
            from the end); default the last (NER in CoNLL-2003).
        iob: the tags are chunk tags (`O`, `B-TYPE`, `I-TYPE`): check them and
            convert IOB1 to IOB2. False for plain tags such as part of speech.

    Example:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ner.txt"
    >>> _ = path.write_text("-DOCSTART- -X- O\\n\\nEU NNP I-ORG\\nrejects VBZ O\\n")
    >>> read_conll(path)
    [TaggedSentence(words=('EU', 'rejects'), tags=('B-ORG', 'O'), line_number=3)]
    """
    sentences, words, tags, first_line = [], [], [], 0

    def flush():
        if words:
            sentences.append(TaggedSentence(
                tuple(words), tuple(iob1_to_iob2(tags) if iob else tags), first_line))
        words.clear()
        tags.clear()

    needed = max(2, tag_column + 1 if tag_column >= 0 else -tag_column + 1)
    for line_number, line in read_lines(path):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            flush()
            continue
        if len(fields) < needed:
            raise ValueError(f"{path}:{line_number}: expected at least {needed} columns "
                             f"(token ... tag), got {len(fields)}.")
        tag = fields[tag_column]
        if iob and not _is_iob_tag(tag):
            raise ValueError(f"{path}:{line_number}: tag {tag!r} is not O, B-TYPE or I-TYPE.")
        if not words:
            first_line = line_number
        words.append(fields[0])
        tags.append(tag)
    flush()
    return sentences


def _is_iob_tag(tag):
    return tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2)


def iob1_to_iob2(tags):
    """IOB1 (`I-` starts a chunk unless it continues one of the same type) -> IOB2.

    IOB2 input comes back unchanged.

    Example:

    >>> iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
    ['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC', 'B-ORG']
    """
    converted = []
    for i, tag in enumerate(tags):
        previous = tags[i - 1] if i else "O"
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        converted.append(tag)
    return converted


def tag_vocabulary(sentences):
    """`["O", the other tags sorted]`: label id order for a tagging head.

    Example:

    >>> tag_vocabulary([TaggedSentence(("a", "b"), ("I-X", "O")),
    ...                 TaggedSentence(("c",), ("B-X",))])
    ['O', 'B-X', 'I-X']
    """
    tags = {tag for sentence in sentences for tag in sentence.tags}
    return ["O"] + sorted(tags - {"O"})


def sequence_word_ids(pieces_per_word, max_seq_length):
    """Word index of each position of `[CLS] pieces [SEP] [PAD]...`; -1 where no word.

    Pieces past `max_seq_length - 2` are cut, so trailing words may get none.

    Example:

    >>> sequence_word_ids([1, 2, 1], 7).tolist()   # [CLS] w0 w1 w1 w2 [SEP] [PAD]
    [-1, 0, 1, 1, 2, -1, -1]
    """
    word_ids = np.full(max_seq_length, -1, np.int32)
    pieces = np.repeat(np.arange(len(pieces_per_word), dtype=np.int32), pieces_per_word)
    pieces = pieces[:max_seq_length - 2]
    word_ids[1:1 + len(pieces)] = pieces
    return word_ids


def first_piece_mask(word_ids):
    """True at the first piece of each word."""
    word_ids = np.asarray(word_ids)
    previous = np.concatenate([[-1], word_ids[:-1]])
    return (word_ids >= 0) & (word_ids != previous)


def align_word_labels(word_labels, word_ids, ignore_label=IGNORE_LABEL):
    """Per-position `(labels, mask)`: each word's label on its first piece only.

    Other positions (later pieces, `[CLS]`, `[SEP]`, padding) get
    `ignore_label` and mask 0.

    Example:

    >>> labels, mask = align_word_labels([3, 5, 7], [-1, 0, 1, 1, 2, -1])
    >>> labels.tolist(), mask.tolist()
    ([-1, 3, 5, -1, 7, -1], [0, 1, 1, 0, 1, 0])
    """
    word_ids = np.asarray(word_ids)
    first = first_piece_mask(word_ids)
    labels = np.full(word_ids.shape, ignore_label, np.int32)
    labels[first] = np.asarray(word_labels, np.int32)[word_ids[first]]
    return labels, first.astype(np.int32)


def word_predictions(piece_predictions, word_ids, num_words, default):
    """The inverse of `align_word_labels`: each word's prediction, read at its first piece.

    Words left without a piece (cut by `max_seq_length`) get `default`.

    Example:

    >>> word_predictions(["O", "B-X", "I-X", "I-X", "O"], [-1, 0, 1, 1, -1], 3, "O")
    ['B-X', 'I-X', 'O']
    """
    word_ids = np.asarray(word_ids)
    predictions = [default] * num_words
    for position in np.flatnonzero(first_piece_mask(word_ids)):
        predictions[word_ids[position]] = piece_predictions[position]
    return predictions

"""Packs tokenized lines into pre-training examples, as the original ELECTRA does.

A port of `ExampleBuilder` from google-research/electra
`build_pretraining_dataset.py`, with its packing logic and its sequence of
random draws kept exactly. Two things differ, both outside the packing:

* it takes token ids, not text: the caller tokenizes lines in batches with
  tensorflow-text (the original called a Python tokenizer once per line);
* it draws from the `rng` it is given (a seeded `random.Random` per output
  shard) instead of the global `random` module, so a shard depends only on
  its documents and its seed.

Pure Python (no TensorFlow), so it can be tested and reasoned about alone.
"""

# First-segment target that no example reaches: the "one segment, as in
# classification tasks" case of the original.
_SINGLE_SEGMENT_TARGET = 100000


class ExampleBuilder:
    """Turns a stream of tokenized lines into `[CLS] A [SEP] B [SEP]` examples.

    Lines accumulate until their tokens reach the target length (normally
    `max_length`) or the document ends; then they are split into a first and
    a second segment at a line boundary and truncated to fit. Documents never
    share an example. As in the original:

    * 10% of examples put every line in the first segment (single-segment
      examples, like classification inputs);
    * after each example, 5% of the time the next example's target length is
      drawn uniformly from `[5, max_length]` instead of `max_length`;
    * a line that overflows the first segment's target still goes to it 50%
      of the time, if the second segment is empty and the first is under its
      target.

    Args:
        max_length: length of every example (`max_seq_length`), at least 5.
        cls_id: id of `[CLS]`.
        sep_id: id of `[SEP]`.
        pad_id: id of `[PAD]`, used to pad `input_ids`.
        rng: a `random.Random` (anything with `random()` and `randint(a, b)`).

    After each example, `last_single_segment` and `last_short_target` tell
    whether it was drawn as a single-segment example and whether it was built
    under a random (short) target length; `num_examples`,
    `num_single_segment`, `num_short_target`, `num_input_tokens` and
    `num_truncated_tokens` count over the builder's life.

    Example:

    >>> import random
    >>> builder = ExampleBuilder(max_length=8, cls_id=2, sep_id=3, pad_id=0,
    ...                          rng=random.Random(0))
    >>> builder.add_line([10, 11, 12]) is None  # 3 tokens: under the target of 8
    True
    >>> example = builder.end_document()        # a blank line: flush what there is
    >>> example["input_ids"]
    [2, 10, 11, 12, 3, 0, 0, 0]
    >>> example["input_mask"]
    [1, 1, 1, 1, 1, 0, 0, 0]
    >>> example["segment_ids"]
    [0, 0, 0, 0, 0, 0, 0, 0]
    """

    def __init__(self, *, max_length, cls_id, sep_id, pad_id, rng):
        if max_length < 5:
            raise ValueError(f"max_length must be at least 5, got {max_length}.")
        self.max_length = int(max_length)
        self.cls_id, self.sep_id, self.pad_id = int(cls_id), int(sep_id), int(pad_id)
        self._rng = rng
        self._current_sentences = []
        self._current_length = 0
        self._target_length = self.max_length
        self._short_target = False
        self.last_single_segment = False
        self.last_short_target = False
        self.num_examples = 0
        self.num_single_segment = 0
        self.num_short_target = 0
        self.num_input_tokens = 0
        self.num_truncated_tokens = 0

    def add_line(self, token_ids):
        """Adds one non-blank line's token ids; returns an example or `None`.

        A line that tokenizes to nothing is a no-op (in the original it is
        an empty sentence, which changes no length and draws no random number).
        """
        if not token_ids:
            return None
        sentence = list(token_ids)
        self._current_sentences.append(sentence)
        self._current_length += len(sentence)
        self.num_input_tokens += len(sentence)
        if self._current_length >= self._target_length:
            return self._create_example()
        return None

    def end_document(self):
        """A blank line or the end of a file: flushes the pending lines, if any."""
        if self._current_length != 0:
            return self._create_example()
        return None

    def _create_example(self):
        # Small chance to only have one segment, as in classification tasks.
        single_segment = self._rng.random() < 0.1
        if single_segment:
            first_segment_target_length = _SINGLE_SEGMENT_TARGET
        else:
            # -3: [CLS] and two [SEP] are not in the text yet.
            first_segment_target_length = (self._target_length - 3) // 2
        first_segment, second_segment = [], []
        for sentence in self._current_sentences:
            # The sentence goes to the first segment if (1) it is empty, (2) the
            # sentence does not put it over its target, or (3) 50% of the time
            # when it does, while the second segment is still empty. The
            # short-circuit order decides when a random number is drawn.
            if (len(first_segment) == 0
                    or len(first_segment) + len(sentence) < first_segment_target_length
                    or (len(second_segment) == 0
                        and len(first_segment) < first_segment_target_length
                        and self._rng.random() < 0.5)):
                first_segment += sentence
            else:
                second_segment += sentence
        packed = len(first_segment) + len(second_segment)
        # Trim to max_length, counting the [CLS]/[SEP] tokens added below.
        first_segment = first_segment[:self.max_length - 2]
        second_segment = second_segment[:max(0, self.max_length - len(first_segment) - 3)]
        self.num_truncated_tokens += packed - len(first_segment) - len(second_segment)
        self._current_sentences = []
        self._current_length = 0

        self.last_single_segment = single_segment
        self.last_short_target = self._short_target
        self.num_examples += 1
        self.num_single_segment += single_segment
        self.num_short_target += self._short_target
        # Small chance of a random-length instead of a max_length-length next example.
        if self._rng.random() < 0.05:
            self._target_length = self._rng.randint(5, self.max_length)
            self._short_target = True
        else:
            self._target_length = self.max_length
            self._short_target = False
        return self._make_example(first_segment, second_segment)

    def _make_example(self, first_segment, second_segment):
        input_ids = [self.cls_id] + first_segment + [self.sep_id]
        segment_ids = [0] * len(input_ids)
        if second_segment:
            input_ids += second_segment + [self.sep_id]
            segment_ids += [1] * (len(second_segment) + 1)
        padding = self.max_length - len(input_ids)
        input_mask = [1] * len(input_ids) + [0] * padding
        input_ids += [self.pad_id] * padding
        segment_ids += [0] * padding
        return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}

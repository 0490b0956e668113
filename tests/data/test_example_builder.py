"""`ExampleBuilder` against hand-worked examples and the original ELECTRA code."""

import doctest
import math
import random

import pytest

from keras_electra.data import example_builder
from keras_electra.data.example_builder import ExampleBuilder

PAD, CLS, SEP = 0, 2, 3


class ScriptedRandom:
    """Returns the given draws in order and fails on any draw not scripted.

    So a test states the exact sequence of random numbers the original
    algorithm consumes, and when.
    """

    def __init__(self, randoms=(), randints=()):
        self.randoms, self.randints = list(randoms), list(randints)

    def random(self):
        assert self.randoms, "unexpected random() draw"
        return self.randoms.pop(0)

    def randint(self, a, b):
        assert self.randints, "unexpected randint() draw"
        value = self.randints.pop(0)
        assert (a, b) == value[:2], f"randint{(a, b)} != scripted {value[:2]}"
        return value[2]

    def assert_used_up(self):
        assert not self.randoms and not self.randints, (self.randoms, self.randints)


def _builder(max_length, rng):
    return ExampleBuilder(max_length=max_length, cls_id=CLS, sep_id=SEP, pad_id=PAD, rng=rng)


def test_docstring_example_runs():
    assert doctest.testmod(example_builder).failed == 0


def test_two_segments_with_truncation_by_hand():
    # max_length 16: target 16, first-segment target (16 - 3) // 2 = 6.
    rng = ScriptedRandom(randoms=[
        0.5,  # >= 0.1: two segments
        0.7,  # line 2 overflows the first segment; 0.7 >= 0.5: it goes to the second
        0.9,  # >= 0.05: the next target stays 16
    ])
    builder = _builder(16, rng)
    assert builder.add_line([10, 11, 12]) is None                  # 3 tokens
    assert builder.add_line([13, 14, 15, 16]) is None              # 7
    assert builder.add_line([17, 18, 19, 20, 21, 22]) is None      # 13
    example = builder.add_line([23, 24, 25])                       # 16 >= 16: an example
    rng.assert_used_up()
    # First = line 1; second = lines 2-4 (13 tokens) cut to 16 - 3 - 3 = 10.
    assert example["input_ids"] == [CLS, 10, 11, 12, SEP,
                                    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, SEP]
    assert example["segment_ids"] == [0] * 5 + [1] * 11
    assert example["input_mask"] == [1] * 16
    assert not builder.last_single_segment and not builder.last_short_target
    assert builder.num_truncated_tokens == 3


def test_overflowing_line_joins_first_segment_half_the_time():
    rng = ScriptedRandom(randoms=[0.5, 0.3, 0.9])  # 0.3 < 0.5: line 2 joins the first segment
    builder = _builder(16, rng)
    builder.add_line([10, 11, 12])
    builder.add_line([13, 14, 15, 16])
    builder.add_line([17, 18, 19, 20, 21, 22])
    example = builder.add_line([23, 24, 25])
    rng.assert_used_up()
    # First = lines 1-2 (7 >= 6: no more draws); second = lines 3-4 cut to 16 - 7 - 3 = 6.
    assert example["input_ids"] == [CLS, 10, 11, 12, 13, 14, 15, 16, SEP,
                                    17, 18, 19, 20, 21, 22, SEP]
    assert example["segment_ids"] == [0] * 9 + [1] * 7


def test_single_segment_example_by_hand():
    rng = ScriptedRandom(randoms=[0.05, 0.9])  # < 0.1: one segment; no draws while packing
    builder = _builder(10, rng)
    builder.add_line([10, 11, 12, 13])
    example = builder.add_line([14, 15, 16, 17, 18, 19])           # 10 >= 10
    rng.assert_used_up()
    assert example["input_ids"] == [CLS, 10, 11, 12, 13, 14, 15, 16, 17, SEP]  # cut to 8
    assert example["segment_ids"] == [0] * 10
    assert builder.last_single_segment and builder.num_single_segment == 1


def test_short_target_and_document_end_by_hand():
    rng = ScriptedRandom(
        randoms=[0.5, 0.01,   # example 1: two segments; 0.01 < 0.05: random next target
                 0.5, 0.6],   # example 2: two segments; next target back to 12
        randints=[(5, 12, 7)])
    builder = _builder(12, rng)
    builder.add_line([10, 11, 12, 13, 14, 15])
    example = builder.add_line([16, 17, 18, 19, 20, 21])           # 12 >= 12
    # first target (12 - 3) // 2 = 4: line 2 cannot join (6 >= 4), so no 50% draw.
    assert example["input_ids"] == [CLS, 10, 11, 12, 13, 14, 15, SEP, 16, 17, 18, SEP]
    assert not builder.last_short_target
    # Target 7 now: (7 - 3) // 2 = 2 for the first segment.
    assert builder.add_line([30, 31, 32, 33]) is None
    example = builder.add_line([34, 35, 36])                       # 7 >= 7
    assert example["input_ids"] == [CLS, 30, 31, 32, 33, SEP, 34, 35, 36, SEP, PAD, PAD]
    assert example["input_mask"] == [1] * 10 + [0] * 2
    assert example["segment_ids"] == [0] * 6 + [1] * 4 + [0] * 2
    assert builder.last_short_target and builder.num_short_target == 1
    # A blank line with nothing pending draws nothing and makes nothing.
    assert builder.end_document() is None
    rng.assert_used_up()
    # A blank line flushes a short document.
    rng.randoms = [0.5, 0.9]
    builder.add_line([40, 41])
    assert builder.add_line([]) is None  # a line with no tokens changes nothing
    example = builder.end_document()
    rng.assert_used_up()
    assert example["input_ids"] == [CLS, 40, 41, SEP] + [PAD] * 8
    assert example["input_mask"] == [1] * 4 + [0] * 8
    assert builder.num_examples == 3


def test_padding_uses_the_vocabulary_pad_id():
    builder = ExampleBuilder(max_length=6, cls_id=101, sep_id=102, pad_id=7,
                             rng=ScriptedRandom([0.5, 0.9]))
    builder.add_line([1000])
    assert builder.end_document()["input_ids"] == [101, 1000, 102, 7, 7, 7]


def test_max_length_below_five_is_an_error():
    with pytest.raises(ValueError, match="max_length must be at least 5, got 4"):
        _builder(4, random.Random(0))


class _OriginalExampleBuilder:
    """google-research/electra `ExampleBuilder`, verbatim but for the tokenizer (lines
    arrive as token lists, `[]` for a blank line) and `random` (an instance)."""

    def __init__(self, max_length, rng):
        self._current_sentences = []
        self._current_length = 0
        self._max_length = max_length
        self._target_length = max_length
        self.random = rng

    def add_line(self, bert_tokids):
        if (not bert_tokids) and self._current_length != 0:  # empty lines separate docs
            return self._create_example()
        self._current_sentences.append(bert_tokids)
        self._current_length += len(bert_tokids)
        if self._current_length >= self._target_length:
            return self._create_example()
        return None

    def _create_example(self):
        if self.random.random() < 0.1:
            first_segment_target_length = 100000
        else:
            first_segment_target_length = (self._target_length - 3) // 2
        first_segment = []
        second_segment = []
        for sentence in self._current_sentences:
            if (len(first_segment) == 0 or
                    len(first_segment) + len(sentence) < first_segment_target_length or
                    (len(second_segment) == 0 and
                     len(first_segment) < first_segment_target_length and
                     self.random.random() < 0.5)):
                first_segment += sentence
            else:
                second_segment += sentence
        first_segment = first_segment[:self._max_length - 2]
        second_segment = second_segment[:max(0, self._max_length - len(first_segment) - 3)]
        self._current_sentences = []
        self._current_length = 0
        if self.random.random() < 0.05:
            self._target_length = self.random.randint(5, self._max_length)
        else:
            self._target_length = self._max_length
        return self._make_tf_example(first_segment, second_segment)

    def _make_tf_example(self, first_segment, second_segment):
        input_ids = [CLS] + first_segment + [SEP]
        segment_ids = [0] * len(input_ids)
        if second_segment:
            input_ids += second_segment + [SEP]
            segment_ids += [1] * (len(second_segment) + 1)
        input_mask = [1] * len(input_ids)
        input_ids += [0] * (self._max_length - len(input_ids))
        input_mask += [0] * (self._max_length - len(input_mask))
        segment_ids += [0] * (self._max_length - len(segment_ids))
        return {"input_ids": input_ids, "input_mask": input_mask, "segment_ids": segment_ids}


def _random_lines(seed, count):
    """Token lists of varied lengths with blank lines (`[]`) between documents."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        if rng.random() < 0.08:
            lines.append([])
        else:
            length = rng.choice([rng.randint(1, 12), rng.randint(10, 60), rng.randint(100, 300)])
            lines.append([rng.randint(5, 999) for _ in range(length)])
    return lines


@pytest.mark.parametrize("max_length", [5, 16, 128])
def test_same_examples_and_draws_as_the_original(max_length):
    lines = _random_lines(max_length, 6000)
    original = _OriginalExampleBuilder(max_length, random.Random(7))
    ported_rng = random.Random(7)
    ported = _builder(max_length, ported_rng)
    expected, actual = [], []
    for tokens in lines:
        expected.append(original.add_line(tokens))
        actual.append(ported.add_line(tokens) if tokens else ported.end_document())
    assert actual == expected
    assert sum(e is not None for e in actual) > 300
    assert ported_rng.getstate() == original.random.getstate()  # the same draws, in order


def test_rates_of_single_segment_and_short_target_examples():
    max_length = 64
    builder = _builder(max_length, random.Random(12345))
    lines = _random_lines(1, 30000)
    examples = [e for e in (builder.add_line(t) if t else builder.end_document() for t in lines)
                if e is not None]
    n = len(examples)
    assert n == builder.num_examples > 10000
    for count, p in ((builder.num_single_segment, 0.10), (builder.num_short_target, 0.05)):
        assert abs(count / n - p) < 4 * math.sqrt(p * (1 - p) / n), (count, n, p)
    for example in examples:
        ids, mask, segments = example["input_ids"], example["input_mask"], example["segment_ids"]
        assert len(ids) == len(mask) == len(segments) == max_length
        length = sum(mask)
        assert mask == [1] * length + [0] * (max_length - length)
        padding = max_length - length
        assert ids[0] == CLS and ids[length - 1] == SEP and ids[length:] == [PAD] * padding
        first_end = ids.index(SEP)
        assert segments == [0] * (first_end + 1) + [1] * (length - first_end - 1) + [0] * padding
        assert ids.count(SEP) == (2 if length > first_end + 1 else 1)

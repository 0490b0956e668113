"""`SpanModule`: a fine-tuned `ElectraSpanExtractor` as a raw-text question-answering module.

Everything `run_squad` does between a (question, context) pair and its
answer runs in the serving graph, for a whole batch at once:

1. WordPiece both texts (`FastBertTokenizer`, character offsets for the
   context), cut the question to `max_query_length` pieces;
2. cut each context into doc-stride windows exactly as `squad_windows` /
   `doc_spans` do: `max_tokens = max_seq_length - question pieces - 3`
   context pieces a window, a new window every `min(doc_stride, max_tokens)`
   pieces until one reaches the end. The windows of every example are
   flattened into one batch `[CLS] question [SEP] window [SEP]` (with a
   window -> example index), as wide as the widest window;
3. mark each context piece's "max context" window (`max_context_windows`:
   `min(left, right) + 0.01 * length`, in float64, ties to the earlier
   window), computed per piece over the few windows that can cover it;
4. run the model once on all windows;
5. per window, the `n_best_size` best starts and ends (`top_k`: ties go to
   the lower position, as the runner's stable argsort), every pair that is
   inside the context, starts at a max-context piece, has `end >= start`
   and at most `max_answer_length` pieces, scored `start + end` logit
   (float32, as the runner's numpy sum); per example the best one, the
   earlier window and then the earlier (start rank, end rank) on a tie --
   the first entry of the runner's stable-sorted candidate list;
6. SQuAD 2.0: the runner's no-answer rule (`dev_answers`): with the
   answerability head, the minimum of `answerable_logits` over the windows;
   without it, the minimum `[CLS]` span score minus the best span's (in
   float32, as numpy 2 computes the runner's expression); no answer where
   that exceeds `null_odds_threshold`.

The one thing that can differ from the runner: windows are not padded to
`max_seq_length`. The padding positions the runner adds carry the model's
`-1000` not-an-answer penalty, so they only matter when fewer than
`n_best_size` positions outrank them, and then only in place of other
penalised positions, which are never valid spans either -- the same answer
unless a logit reaches about -1000.
"""

import tensorflow as tf

from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.export.packed_encoder import call_task_model, check_packed_matches
from keras_electra.export.serving_text import char_offsets, check_max_seq_length, sanitize_utf8

_QUESTION = tf.TensorSpec([None], tf.string, name="question")
_CONTEXT = tf.TensorSpec([None], tf.string, name="context")
_IDS = [tf.TensorSpec([None, None], tf.int32, name=name)
        for name in ("input_ids", "input_mask", "segment_ids")]
# `null_odds_threshold` when task.json has none: BERT's null_score_diff_threshold.
DEFAULT_NULL_ODDS_THRESHOLD = 0.0


def _segment_first(values, mask, segment_ids, num_segments):
    """Per segment, the smallest of `values` where `mask` (int64.max where none)."""
    big = tf.constant(tf.int64.max, tf.int64)
    return tf.math.unsorted_segment_min(tf.where(mask, values, big), segment_ids, num_segments)


def _first_max(values, axis):
    """Index of the first maximum along `axis` (`tf.argmax` does not promise which on ties)."""
    best = tf.reduce_max(values, axis=axis, keepdims=True)
    index = tf.range(tf.shape(values, out_type=tf.int64)[axis], dtype=tf.int64)
    shape = [1] * values.shape.rank
    shape[axis] = -1
    index = tf.reshape(index, shape)
    return tf.reduce_min(tf.where(values == best, index, tf.constant(tf.int64.max, tf.int64)),
                         axis=axis)


class SpanModule:
    """Extractive question answering (SQuAD 1.1 / 2.0) from a raw question and context.

    Signatures:

    * `answer` (`serving_default`): `question`, `context` `(batch,)` ->
      per example `answer` (the context text of the best span, sliced from
      the context by character offsets; SQuAD 2.0: `""` where the question
      is judged unanswerable -- the runner's `dev_predictions.json`),
      `start_offset` / `end_offset` (Unicode characters of the best span in
      the context, `context[start:end]`), `score` (its start + end logit)
      and, for SQuAD 2.0 models, `has_answer`, `null_odds` (the no-answer
      score compared with the threshold, the runner's `null_odds.json`) and
      `best_span` (the best span's text whatever `has_answer` says, the
      runner's `dev_best_non_null.json`). Offsets and score always describe
      the best span; where there is none (an empty context, or no valid
      pair among the n best) they are -1 and -inf and the answer is `""`.
    * `span_ids` (`input_ids`, `input_mask`, `segment_ids`) -> the model's
      raw outputs (`start_logits`, `end_logits`, and `answerable_logits`
      with the answerability head), for clients that build windows themselves.

    Args:
        model: a fine-tuned `ElectraSpanExtractor`.
        vocab_file: its `vocab.txt`.
        info: the run's `task.json` (`kind` "span"): `max_seq_length`,
            `doc_stride`, `max_query_length`, `max_answer_length`,
            `n_best_size`, `version_2`, `null_odds_threshold` (default 0.0)
            and `do_lower_case`.

    Example:

    >>> info = json.load(open("runs/squad/task.json"))  # doctest: +SKIP
    >>> module = SpanModule(model, "runs/squad/vocab.txt", info)  # doctest: +SKIP
    >>> module.answer(tf.constant(["Who wrote it?"]),  # doctest: +SKIP
    ...               tf.constant(["It was written by Ada."]))["answer"]
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'Ada'], dtype=object)>
    """

    def __init__(self, model, vocab_file, info):
        self.max_seq_length = int(info["max_seq_length"])
        self.doc_stride = int(info["doc_stride"])
        self.max_query_length = int(info["max_query_length"])
        self.max_answer_length = int(info["max_answer_length"])
        self.n_best_size = int(info["n_best_size"])
        self.version_2 = bool(info.get("version_2", False))
        threshold = info.get("null_odds_threshold")
        self.null_odds_threshold = float(
            DEFAULT_NULL_ODDS_THRESHOLD if threshold is None else threshold)
        check_max_seq_length(self.max_seq_length, model.backbone.embeddings)
        check_packed_matches(model.backbone)
        if self.max_seq_length < self.max_query_length + 4:
            raise ValueError(f"max_seq_length={self.max_seq_length} leaves no room for context "
                             f"after a max_query_length={self.max_query_length} question.")
        for name in ("doc_stride", "max_query_length", "max_answer_length", "n_best_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        self.model = model
        # As `dev_answers`: the head decides the no-answer rule.
        self.answerability = bool(getattr(model, "answerability", False))
        self.tokenizer, _, self.special_ids = make_tokenizer(
            vocab_file, info.get("do_lower_case", True))

    # -- windows ----------------------------------------------------------

    def _windows(self, question, context):
        """The model inputs of every window of the batch, and how to map them back."""
        special = self.special_ids
        question_ids = self.tokenizer.tokenize(question).with_row_splits_dtype(tf.int64)
        question_ids = question_ids[:, :self.max_query_length]
        context_ids, byte_starts, byte_ends = self.tokenizer.tokenize_with_offsets(context)
        context_ids = context_ids.with_row_splits_dtype(tf.int64)
        char_starts = tf.cast(char_offsets(context, byte_starts).flat_values, tf.int32)
        char_ends = tf.cast(char_offsets(context, byte_ends).flat_values, tf.int32)

        query_length = question_ids.row_lengths()
        num_pieces = context_ids.row_lengths()
        max_tokens = self.max_seq_length - query_length - 3  # >= 1 (checked in __init__)
        stride = tf.minimum(tf.constant(self.doc_stride, tf.int64), max_tokens)
        # `doc_spans`: windows at 0, stride, 2 * stride, ... up to the first
        # one that reaches the end.
        num_windows = tf.where(
            num_pieces == 0, tf.constant(0, tf.int64),
            tf.where(num_pieces <= max_tokens, tf.constant(1, tf.int64),
                     (num_pieces - max_tokens + stride - 1) // stride + 1))
        best_window = self._max_context_windows(context_ids, stride, max_tokens, num_windows)

        batch = tf.shape(context_ids.row_splits, out_type=tf.int64)[0] - 1
        example = tf.repeat(tf.range(batch), num_windows)  # window -> example
        window_index = tf.ragged.range(num_windows).flat_values
        start = window_index * tf.gather(stride, example)
        length = tf.minimum(tf.gather(num_pieces, example) - start,
                            tf.gather(max_tokens, example))
        query = tf.gather(query_length, example)[:, tf.newaxis]
        offset = query + 2  # the window's first context column
        last_sep = offset + length[:, tf.newaxis]
        width = tf.maximum(
            tf.reduce_max(tf.concat([last_sep[:, 0], tf.zeros([1], tf.int64)], 0)) + 1, 3)
        columns = tf.range(width)[tf.newaxis, :]

        in_query = (columns >= 1) & (columns <= query)
        in_context = (columns >= offset) & (columns < last_sep)
        query_at = (tf.gather(question_ids.row_starts(), example)[:, tf.newaxis]
                    + columns - 1)
        context_at = (tf.gather(context_ids.row_starts(), example)[:, tf.newaxis]
                      + start[:, tf.newaxis] + columns - offset)

        def gather(values, index, inside, default):
            # One padding element at the end, so every index is valid.
            values = tf.concat([values, tf.fill([1], tf.constant(default, values.dtype))], 0)
            index = tf.where(inside, index, tf.size(values, tf.int64) - 1)
            return tf.gather(values, index)

        ids = tf.fill(tf.shape(in_query), tf.constant(special.pad, tf.int32))
        ids = tf.where(in_query, gather(question_ids.flat_values, query_at, in_query, 0), ids)
        ids = tf.where(in_context, gather(context_ids.flat_values, context_at, in_context, 0),
                       ids)
        ids = tf.where(columns == 0, tf.constant(special.cls, tf.int32), ids)
        ids = tf.where((columns == query + 1) | (columns == last_sep),
                       tf.constant(special.sep, tf.int32), ids)
        features = {
            "input_ids": ids,
            "input_mask": tf.cast(columns <= last_sep, tf.int32),
            "segment_ids": tf.cast((columns >= offset) & (columns <= last_sep), tf.int32),
        }
        return features, {
            "example": example,
            "window_index": window_index,
            "num_windows": num_windows,
            "char_start": gather(char_starts, context_at, in_context, -1),
            "char_end": gather(char_ends, context_at, in_context, -1),
            "is_max_context": in_context & (
                gather(best_window, context_at, in_context, -1) == window_index[:, tf.newaxis]),
        }

    @staticmethod
    def _max_context_windows(context_ids, stride, max_tokens, num_windows):
        """`max_context_windows` for every context piece of the batch (flat, int64).

        Window `k` covers pieces `[k * stride, k * stride + length_k)`, so
        piece `j` can only be in windows `(j - max_tokens) // stride + 1`
        to `j // stride`: a handful, however long the context.
        """
        row = context_ids.value_rowids()
        piece = tf.range(tf.size(row, tf.int64)) - tf.gather(context_ids.row_starts(), row)
        step, most, total, windows = (tf.gather(t, row)[:, tf.newaxis] for t in (
            stride, max_tokens, context_ids.row_lengths(), num_windows))
        piece = piece[:, tf.newaxis]
        first = tf.maximum((piece - most) // step + 1, 0)
        last = tf.minimum(piece // step, windows - 1)
        span = tf.reduce_max(tf.concat([(last - first + 1)[:, 0], tf.ones([1], tf.int64)], 0))
        candidate = first + tf.range(span)[tf.newaxis, :]
        start = candidate * step
        length = tf.minimum(total - start, most)
        covers = (candidate <= windows - 1) & (start <= piece) & (piece < start + length)
        # The runner's float64 score, operation for operation.
        score = (tf.cast(tf.minimum(piece - start, start + length - 1 - piece), tf.float64)
                 + 0.01 * tf.cast(length, tf.float64))
        score = tf.where(covers, score, tf.constant(-float("inf"), tf.float64))
        return first[:, 0] + _first_max(score, axis=1)

    # -- answers ----------------------------------------------------------

    def _answer(self, question, context):
        question = sanitize_utf8(tf.convert_to_tensor(question, tf.string))
        context = sanitize_utf8(tf.convert_to_tensor(context, tf.string))
        features, windows = self._windows(question, context)
        outputs = call_task_model(self.model, features)
        start_logits = tf.cast(outputs["start_logits"], tf.float32)
        end_logits = tf.cast(outputs["end_logits"], tf.float32)
        example, num_windows = windows["example"], windows["num_windows"]
        batch = tf.shape(num_windows, out_type=tf.int64)[0]

        # The n best starts and ends of every window, and all their pairs.
        k = tf.minimum(tf.constant(self.n_best_size, tf.int32), tf.shape(start_logits)[1])
        start_value, start_at = tf.math.top_k(start_logits, k=k)
        end_value, end_at = tf.math.top_k(end_logits, k=k)
        start_char = tf.gather(windows["char_start"], start_at, batch_dims=1)
        end_in_context = tf.gather(windows["char_start"], end_at, batch_dims=1) >= 0
        start_max_context = tf.gather(windows["is_max_context"], start_at, batch_dims=1)
        span_length = end_at[:, tf.newaxis, :] - start_at[:, :, tf.newaxis] + 1
        valid = ((start_char >= 0)[:, :, tf.newaxis] & end_in_context[:, tf.newaxis, :]
                 & start_max_context[:, :, tf.newaxis]
                 & (span_length >= 1) & (span_length <= self.max_answer_length))
        score = start_value[:, :, tf.newaxis] + end_value[:, tf.newaxis, :]
        score = tf.where(valid, score, -float("inf"))
        num_rows = tf.shape(score, out_type=tf.int64)[0]
        score = tf.reshape(score, [num_rows, -1])  # (window, start rank * k + end rank)
        window_best = tf.reduce_max(score, axis=1)
        window_pair = _first_max(score, axis=1)

        # Per example: the best score, in its earliest window.
        has_windows = num_windows > 0
        best = tf.math.unsorted_segment_max(window_best, example, batch)
        # The segment max starts from the lowest float, not -inf: an example
        # whose windows have no valid pair gets that (and one without windows too).
        best = tf.where(has_windows & (best > tf.float32.min), best, -float("inf"))
        found = best > -float("inf")
        row = _segment_first(tf.range(num_rows), window_best == tf.gather(best, example),
                             example, batch)
        row = tf.where(found, row, num_rows)  # num_rows: a padding row below

        def pick(values, default):  # values[row], default where no span
            padded = tf.concat([values, tf.fill([1], tf.constant(default, values.dtype))], 0)
            return tf.gather(padded, row)

        pair = pick(window_pair, 0)
        k64 = tf.cast(k, tf.int64)
        start_rank, end_rank = pair // k64, pair % k64

        def ranked(values, rank, default):  # values[row, rank]
            padded = tf.concat([values, tf.fill([1, tf.shape(values)[1]],
                                                tf.constant(default, values.dtype))], 0)
            return tf.gather_nd(padded, tf.stack([row, rank], axis=1))

        start_position = ranked(tf.cast(start_at, tf.int64), start_rank, 0)
        end_position = ranked(tf.cast(end_at, tf.int64), end_rank, 0)
        first_char = ranked(windows["char_start"], start_position, -1)
        end_char = ranked(windows["char_end"], end_position, -1)
        first_char = tf.where(found, first_char, -1)
        end_char = tf.where(found, end_char, -1)
        span = tf.where(found, tf.strings.substr(context, tf.maximum(first_char, 0),
                                                 tf.maximum(end_char - first_char, 0),
                                                 unit="UTF8_CHAR"), "")
        result = {"answer": span, "start_offset": first_char, "end_offset": end_char,
                  "score": best}
        if not self.version_2:
            return result

        if self.answerability:
            null_odds = tf.math.unsorted_segment_min(
                tf.cast(outputs["answerable_logits"], tf.float32), example, batch)
        else:
            null_score = tf.math.unsorted_segment_min(
                start_logits[:, 0] + end_logits[:, 0], example, batch)
            # The runner: np.float32 null score minus the Python-float sum of
            # the best span's logits; numpy 2 does that subtraction in float32.
            best_sum = tf.cast(tf.cast(ranked(start_value, start_rank, 0.0), tf.float64)
                               + tf.cast(ranked(end_value, end_rank, 0.0), tf.float64),
                               tf.float32)
            null_odds = tf.where(found, null_score - best_sum, float("inf"))
        null_odds = tf.where(has_windows, null_odds, float("inf"))
        has_answer = ~(tf.cast(null_odds, tf.float64) > self.null_odds_threshold)
        result.update(answer=tf.where(has_answer, span, ""), has_answer=has_answer,
                      null_odds=null_odds, best_span=span)
        return result

    @tf.function(input_signature=[_QUESTION, _CONTEXT])
    def answer(self, question, context):
        return self._answer(question, context)

    @tf.function(input_signature=_IDS)
    def span_ids(self, input_ids, input_mask, segment_ids):
        outputs = call_task_model(self.model, {"input_ids": input_ids, "input_mask": input_mask,
                                               "segment_ids": segment_ids})
        return {name: tf.cast(value, tf.float32) for name, value in outputs.items()}

    def endpoints(self):
        """`{signature name: tf.function}`, for `export_saved_model`."""
        return {"serving_default": self.answer, "answer": self.answer,
                "span_ids": self.span_ids}

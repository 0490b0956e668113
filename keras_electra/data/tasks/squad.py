"""SQuAD 1.1 / 2.0: reading, doc-stride windows over WordPieces, and answers from logits.

    examples = read_squad("dev-v1.1.json")
    tokenizer, _, special = make_tokenizer("vocab.txt")
    windows = squad_windows(examples, tokenizer, special, max_seq_length=384)
    ... run the model: start_logits, end_logits of shape (len(windows), 384) ...
    predictions = squad_predictions(examples, windows, start_logits, end_logits)
    squad_v1_metrics({e.qas_id: e.answers for e in examples}, predictions.answers)

Windows, targets and n-best search follow google-research/electra
`finetune/qa/qa_tasks.py` / `qa_metrics.py` (max_query_length 64, doc_stride
128, max_answer_length 30, the "max context" rule, target 0 = `[CLS]` when a
window misses the answer or there is none, SQuAD 2.0 null score = min over
windows of `start[0] + end[0]`). One difference, on purpose: spans map to
text through the tokenizer's character offsets, not through the original's
whitespace words + `_improve_answer_span` + `get_final_text` heuristics, so
a predicted span is exactly the context characters its pieces cover. Span
logits are the independent start/end kind (BERT style), not ELECTRA's
optional joint start-end head or answerable classifier.
"""

import json

import numpy as np
import tensorflow as tf

from keras_electra.data.tasks.squad_example import SquadExample
from keras_electra.data.tasks.squad_predictions import SquadPredictions
from keras_electra.data.tasks.squad_window import SquadWindow
from keras_electra.data.tasks.text_lines import open_text


def read_squad(path):
    """The questions of a SQuAD 1.1 or 2.0 JSON file, in file order.

    Reads `data[].paragraphs[].{context, qas[]}`; a question's `answers`
    are its gold answers, `is_impossible` (2.0) marks unanswerable ones
    (their `plausible_answers` are not gold and are not read). The first
    answer must sit at its `answer_start`; anything else is a one-line
    `ValueError` naming the file and question.

    Example:

    >>> examples = read_squad("squad_v1.1/dev-v1.1.json")  # doctest: +SKIP
    >>> len(examples), examples[0].answer_text  # doctest: +SKIP
    (10570, 'Denver Broncos')
    """
    with open_text(path) as f:
        try:
            data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not a JSON file ({e}).") from None
    examples = []
    try:
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                examples.extend(_example(path, context, qa) for qa in paragraph["qas"])
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{path}: not in SQuAD's data[].paragraphs[].qas[] layout "
                         f"({type(e).__name__}: {e}).") from None
    return examples


def _example(path, context, qa):
    qas_id = qa.get("id", "?")
    is_impossible = bool(qa.get("is_impossible", False))
    if is_impossible:
        return SquadExample(qas_id, qa["question"], context, "", -1, (), True)
    answers = qa.get("answers") or []
    if not answers:
        raise ValueError(f"{path}: question {qas_id} has no answers and is not is_impossible.")
    text, start = answers[0]["text"], answers[0]["answer_start"]
    found = context[start:start + len(text)]
    if found != text:
        raise ValueError(f"{path}: question {qas_id}: expected answer {text!r} at character "
                         f"{start} of its context, found {found!r}.")
    return SquadExample(qas_id, qa["question"], context, text, start,
                        tuple(a["text"] for a in answers), False)


def squad_windows(examples, tokenizer, special_ids, max_seq_length, max_query_length=64,
                  doc_stride=128, batch_size=1024):
    """Every question as one or more `[CLS] question [SEP] window [SEP]` `SquadWindow`s.

    Args:
        examples: `SquadExample`s.
        tokenizer: a tensorflow-text tokenizer with `tokenize_with_offsets`
            returning int ids and UTF-8 byte offsets into the input
            (`FastBertTokenizer` from `keras_electra.data.tokenizer.make_tokenizer`,
            or `BertTokenizer`).
        special_ids: a `SpecialTokenIds` (`cls`, `sep`, `pad` are used).
        max_seq_length: tokens per window, padding included.
        max_query_length: question pieces kept (the rest are cut).
        doc_stride: pieces between the starts of consecutive windows.
        batch_size: texts per tokenizer call.

    Example:

    >>> tokenizer, _, special = make_tokenizer("vocab.txt")  # doctest: +SKIP
    >>> w = squad_windows(examples, tokenizer, special, 384)[0]  # doctest: +SKIP
    >>> w.answer_text(examples[0].context)  # doctest: +SKIP
    'Denver Broncos'
    """
    contexts = list(dict.fromkeys(e.context for e in examples))
    context_pieces = dict(zip(contexts, _tokenize(tokenizer, contexts, batch_size)))
    questions = _tokenize(tokenizer, [e.question for e in examples], batch_size)
    windows = []
    for index, (example, (question_ids, _, _)) in enumerate(zip(examples, questions)):
        windows.extend(_example_windows(
            index, example, question_ids[:max_query_length], context_pieces[example.context],
            special_ids, max_seq_length, doc_stride))
    return windows


def _tokenize(tokenizer, texts, batch_size):
    """`[(ids, char_starts, char_ends)]` per text, offsets in characters (numpy int32)."""
    out = []
    for first in range(0, len(texts), batch_size):
        batch = texts[first:first + batch_size]
        ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(batch, tf.string))
        if ids.ragged_rank > 1:  # BertTokenizer: (batch, words, pieces)
            ids, starts, ends = (t.merge_dims(1, -1) for t in (ids, starts, ends))
        splits = ids.row_splits.numpy()
        ids, starts, ends = (t.flat_values.numpy() for t in (ids, starts, ends))
        for i, text in enumerate(batch):
            row = slice(splits[i], splits[i + 1])
            to_char = byte_to_char_offsets(text)
            out.append((ids[row].astype(np.int32), to_char[starts[row]], to_char[ends[row]]))
    return out


def byte_to_char_offsets(text):
    """int32 array mapping each UTF-8 byte offset of `text` (and its end) to a character offset.

    tensorflow-text reports offsets in bytes; Python slices in characters.

    Example:

    >>> byte_to_char_offsets("é!").tolist()   # é is 2 bytes
    [0, 0, 1, 2]
    """
    if text.isascii():
        return np.arange(len(text) + 1, dtype=np.int32)
    widths = [len(ch.encode("utf-8")) for ch in text]
    return np.append(np.repeat(np.arange(len(text), dtype=np.int32), widths),
                     np.int32(len(text)))


def doc_spans(num_tokens, max_tokens, doc_stride):
    """`[(start, length)]` windows over `num_tokens` context pieces (the original's `_DocSpan`s).

    Example:

    >>> doc_spans(10, 4, 3)
    [(0, 4), (3, 4), (6, 4)]
    """
    spans, start = [], 0
    while start < num_tokens:
        length = min(num_tokens - start, max_tokens)
        spans.append((start, length))
        if start + length == num_tokens:
            break
        start += min(length, doc_stride)
    return spans


def max_context_windows(spans, num_tokens):
    """For each context piece, the window that gives it the most context.

    The original's score: min(left, right context) + 0.01 * window length;
    ties go to the earlier window.

    Example:

    >>> max_context_windows([(0, 4), (3, 4), (6, 4)], 10).tolist()
    [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    """
    if not spans:  # a context without pieces has no windows (as in the original)
        return np.zeros(num_tokens, np.int64)
    scores = np.full((len(spans), num_tokens), -np.inf)
    for i, (start, length) in enumerate(spans):
        position = np.arange(start, start + length)
        scores[i, position] = (np.minimum(position - start, start + length - 1 - position)
                               + 0.01 * length)
    return np.argmax(scores, axis=0)


def answer_token_span(char_starts, char_ends, answer_start, answer_end):
    """`(first, last)` piece overlapping characters `[answer_start, answer_end)`, or None.

    A piece that holds part of the answer is included whole (an answer
    "Japan" inside the piece "japanese" maps to that piece).

    Example:

    >>> answer_token_span([0, 4, 8], [3, 7, 12], 4, 12)
    (1, 2)
    """
    overlaps = np.flatnonzero((np.asarray(char_ends) > answer_start)
                              & (np.asarray(char_starts) < answer_end))
    if not overlaps.size:
        return None
    return int(overlaps[0]), int(overlaps[-1])


def _example_windows(index, example, question_ids, context, special, max_seq_length, doc_stride):
    context_ids, char_starts, char_ends = context
    max_tokens = max_seq_length - len(question_ids) - 3  # [CLS] and two [SEP]s
    if max_tokens <= 0:
        raise ValueError(f"max_seq_length={max_seq_length} leaves no room for context after "
                         f"a {len(question_ids)}-piece question; lower max_query_length.")
    answer = None
    if not example.is_impossible:
        answer = answer_token_span(char_starts, char_ends, example.answer_start,
                                   example.answer_start + len(example.answer_text))
        if answer is None:
            raise ValueError(f"question {example.qas_id}: answer {example.answer_text!r} "
                             "covers no WordPiece of the context.")
    spans = doc_spans(len(context_ids), max_tokens, doc_stride)
    best_window = max_context_windows(spans, len(context_ids))
    offset = len(question_ids) + 2  # where the context starts in the window
    windows = []
    for window_index, (start, length) in enumerate(spans):
        doc = slice(offset, offset + length)
        piece = slice(start, start + length)
        input_ids = np.full(max_seq_length, special.pad, np.int32)
        input_ids[:offset + length + 1] = np.concatenate(
            [[special.cls], question_ids, [special.sep], context_ids[piece], [special.sep]])
        segment_ids = np.zeros(max_seq_length, np.int32)
        segment_ids[offset:offset + length + 1] = 1
        window_starts = np.full(max_seq_length, -1, np.int32)
        window_ends = np.full(max_seq_length, -1, np.int32)
        window_starts[doc], window_ends[doc] = char_starts[piece], char_ends[piece]
        is_max_context = np.zeros(max_seq_length, bool)
        is_max_context[doc] = best_window[piece] == window_index
        target = (0, 0)  # [CLS]: no answer in this window (or none at all)
        if answer and start <= answer[0] and answer[1] < start + length:
            target = (answer[0] - start + offset, answer[1] - start + offset)
        windows.append(SquadWindow(
            example_index=index, qas_id=example.qas_id, window_index=window_index,
            input_ids=input_ids, input_mask=(np.arange(max_seq_length) <= offset + length)
            .astype(np.int32), segment_ids=segment_ids, start_position=target[0],
            end_position=target[1], is_impossible=example.is_impossible,
            char_start=window_starts, char_end=window_ends, is_max_context=is_max_context))
    return windows


def squad_predictions(examples, windows, start_logits, end_logits, n_best_size=20,
                      max_answer_length=30, version_2=False, null_score_diff_threshold=0.0):
    """The n best spans and the answer of every question, from per-window logits.

    Args:
        examples: the `SquadExample`s the windows were built from.
        windows: `SquadWindow`s, in the order of the logits' rows.
        start_logits, end_logits: `(len(windows), max_seq_length)` arrays.
        n_best_size: start and end candidates per window, and spans kept per question.
        max_answer_length: longest span, in pieces.
        version_2: SQuAD 2.0: answer `""` when the null score minus the best
            span's score exceeds `null_score_diff_threshold`.
        null_score_diff_threshold: that threshold (tune it on dev with
            `keras_electra.metrics.squad_v2_metrics`' `best_f1_thresh`).

    Returns:
        A `SquadPredictions`.

    Example:

    >>> p = squad_predictions(examples, windows, start_logits, end_logits)  # doctest: +SKIP
    >>> p.answers[examples[0].qas_id]  # doctest: +SKIP
    'Denver Broncos'
    """
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    if start_logits.shape != end_logits.shape or len(start_logits) != len(windows):
        raise ValueError(f"expected start and end logits of shape ({len(windows)}, seq), got "
                         f"{start_logits.shape} and {end_logits.shape}.")
    by_example = [[] for _ in examples]
    for row, window in enumerate(windows):
        by_example[window.example_index].append(row)
    answers, best_non_null, diffs, nbest = {}, {}, {}, {}
    for example, rows in zip(examples, by_example):
        entries = _nbest(example.context, [windows[r] for r in rows], start_logits[rows],
                         end_logits[rows], n_best_size, max_answer_length)
        best = entries[0] if entries else None
        best_non_null[example.qas_id] = best["text"] if best else ""
        answers[example.qas_id] = best_non_null[example.qas_id]
        nbest[example.qas_id] = entries
        if version_2:
            # No window or no valid span: infinitely sure there is no answer.
            null_score = min((s[0] + e[0] for s, e in zip(start_logits[rows], end_logits[rows])),
                             default=np.inf)
            diff = float(null_score - (best["start_logit"] + best["end_logit"])
                         if best else np.inf)
            diffs[example.qas_id] = diff
            if diff > null_score_diff_threshold:
                answers[example.qas_id] = ""
    return SquadPredictions(answers, best_non_null, diffs, nbest)


def _nbest(context, windows, start_logits, end_logits, n_best_size, max_answer_length):
    """Up to `n_best_size` distinct span texts, best `start + end` logit first."""
    candidates = []  # (score, start logit, end logit, window, start, end)
    for window, starts_row, ends_row in zip(windows, start_logits, end_logits):
        starts = np.argsort(-starts_row, kind="stable")[:n_best_size]
        ends = np.argsort(-ends_row, kind="stable")[:n_best_size]
        start, end = (a.ravel() for a in np.meshgrid(starts, ends, indexing="ij"))
        # Spans inside this window's context, starting where it has max context.
        valid = ((window.char_start[start] >= 0) & (window.char_start[end] >= 0)
                 & window.is_max_context[start] & (end >= start)
                 & (end - start + 1 <= max_answer_length))
        for s, e in zip(start[valid], end[valid]):
            candidates.append((starts_row[s] + ends_row[e], starts_row[s], ends_row[e],
                               window, s, e))
    candidates.sort(key=lambda c: -c[0])  # stable: ties keep the original's order
    entries, seen = [], set()
    for _, start_logit, end_logit, window, s, e in candidates:
        if len(entries) >= n_best_size:
            break
        text = window.answer_text(context, s, e)
        if text in seen:
            continue
        seen.add(text)
        entries.append({"text": text, "start_logit": float(start_logit),
                        "end_logit": float(end_logit)})
    if entries:
        scores = np.array([e["start_logit"] + e["end_logit"] for e in entries])
        probabilities = np.exp(scores - scores.max())
        for entry, probability in zip(entries, probabilities / probabilities.sum()):
            entry["probability"] = float(probability)
    return entries

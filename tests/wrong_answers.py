"""Every known wrong-but-plausible answer fails its named check: ``make test-wrong-answers``.

Issue 28 §1 lists answers that once passed every check of their lab; the solutions were changed
so that each fails a check. This module is the durable proof: each wrong answer is a *mutant*,
an exact ``(old, new)`` text replacement inside the solution's code between ``### BEGIN
SOLUTION`` and ``### END SOLUTION`` (``old`` must occur exactly once in the notebook, so the
suite breaks loudly when a solution changes and the mutant has to be rewritten).

For each mutant, in the smoke profile:

* the mutated solution is cut after the named check cell (later cells cannot matter) and run in
  a fresh kernel (``notebook_runner.run``): every earlier cell must run cleanly and the check
  cell must end with ``CheckFailure`` or ``AssertionError`` whose first line names the
  assertion that catches the wrong answer (``expect``);
* ``graded`` mutants (answers whose fault shows only when the judge reaches the student's
  kernel through the grader's link, issue 28) are also graded as a whole submission with the
  real grader (``tools.grading.grade``, sandbox and judge): the named check must score 0 with
  status failed or error.

The control, that the unmutated solutions pass those same checks, is ``make notebooks`` (every
solution graded as a submission, full marks): it is not rerun here.

A wrong answer that no check catches yet carries ``gap`` (why not): its test is a strict xfail,
so it fails as soon as a check catches the answer, and the ``gap`` must then go.

Not collected by ``make test`` (no ``test_`` prefix, like ``tests/colab_runtime.py``), and CI
does not run it: ``make test-wrong-answers`` or ``.venv/bin/pytest tests/wrong_answers.py``.
Each test writes its row (lab, wrong answer, check, first line of the failure, seconds) to
``build/wrong-answers/``; ``python tests/wrong_answers.py`` prints them as a Markdown table.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROWS = ROOT / "build" / "wrong-answers"
ALLOWED_CHECK_ERRORS = {"AssertionError", "CheckFailure"}
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


@dataclass(frozen=True)
class Mutant:
    lab: str  # "00": solutions/00_*.ipynb
    name: str  # short id: the test is "<lab>-<name>"
    wrong: str  # the wrong answer in words (issue 28 §1)
    old: str  # text of the solution, inside a BEGIN/END SOLUTION block, exactly once
    new: str  # the wrong answer's text in its place
    check: str  # the check id (cell metadata course.id) that must fail
    expect: str  # the start of the failure message's first line (the assertion that catches it)
    graded: bool = False  # also graded as a whole submission: the check must score 0
    gap: str = ""  # a known gap: no check catches it yet (a strict xfail, to flip when fixed)

    @property
    def id(self) -> str:
        return f"{self.lab}-{self.name}"


MUTANTS = [
    # ------------------------------------------------------------------------------ lab 00
    Mutant(
        "00",
        "center_crop-offset",
        "center_crop with offset H//2 − size//2 instead of (H − size)//2",
        "top, left = (height - size) // 2, (width - size) // 2",
        "top, left = height // 2 - size // 2, width // 2 - size // 2",
        "ex1_shapes",
        "3×3 centre crop of 6×8 images",
    ),
    Mutant(
        "00",
        "median_time-warmup-timed",
        "median_time taking the median over warm-up and timed calls together",
        "    for _ in range(warmup):\n"
        "        wait_for(fn())\n"
        "    durations = []\n"
        "    for _ in range(repeats):\n",
        "    durations = []\n    for _ in range(warmup + repeats):\n",
        "ex4_timing",
        "three slow warm-up calls and two fast timed ones",
    ),
    Mutant(
        "00",
        "median_time-no-wait_for",
        "median_time without waiting for the result (wait_for) inside the timed region",
        "        start = time.perf_counter()\n        wait_for(fn())\n",
        "        start = time.perf_counter()\n        fn()\n",
        "ex4_timing",
        "a result whose computation finishes only when fetched",
    ),
    Mutant(
        "00",
        "classifier-no-float32-output",
        "build_classifier without a float32 output layer (wrong under mixed precision)",
        '            keras.layers.Dense(num_classes, activation="softmax", dtype="float32"),\n'
        "        ]\n"
        "    )\n"
        "    model.compile(",
        '            keras.layers.Dense(num_classes, activation="softmax"),\n'
        "        ]\n"
        "    )\n"
        "    model.compile(",
        "ex3_keras_model",
        "built under the mixed_float16 policy, the softmax layer still computes in float32",
    ),
    Mutant(
        "00",
        "mixed_classifier-no-float32-output",
        'build_mixed_classifier (exercise 5) without dtype="float32" on its output layer',
        '            keras.layers.Dense(128, activation="relu", dtype="mixed_float16"),\n'
        '            keras.layers.Dense(num_classes, activation="softmax", dtype="float32"),\n',
        '            keras.layers.Dense(128, activation="relu", dtype="mixed_float16"),\n'
        '            keras.layers.Dense(num_classes, activation="softmax"),\n',
        "ex5_mixed_precision",
        "built under a global mixed_float16 policy (as on a T4), your softmax layer still",
    ),
    # ------------------------------------------------------------------------------ lab 01
    Mutant(
        "01",
        "mlp-dropout-0.5",
        "the MLP with Dropout(0.5) instead of the asked 0.2",
        "            keras.layers.Dropout(0.2),\n"
        '            keras.layers.Dense(512, activation="relu"),\n'
        "            keras.layers.Dropout(0.2),\n",
        "            keras.layers.Dropout(0.5),\n"
        '            keras.layers.Dense(512, activation="relu"),\n'
        "            keras.layers.Dropout(0.5),\n",
        "ex4_mlp",
        "two Dropout layers, rate 0.2 each",
    ),
    Mutant(
        "01",
        "train_by_hand-in-place",
        "train_by_hand changing the caller's arrays in place (new = dict(params); new[k] -= …)",
        '    params = {name: np.array(value, dtype="float64") for name, value in params.items()}\n'
        "    losses = []\n"
        "    for _ in range(steps):\n"
        "        loss, grads = mlp_loss_and_grads(params, X, y)\n"
        "        params = {name: params[name] - lr * grads[name] for name in params}\n"
        "        losses.append(loss)\n"
        "    return params, losses\n",
        "    new = dict(params)\n"
        "    losses = []\n"
        "    for _ in range(steps):\n"
        "        loss, grads = mlp_loss_and_grads(new, X, y)\n"
        "        for name in new:\n"
        "            new[name] -= lr * grads[name]\n"
        "        losses.append(loss)\n"
        "    return new, losses\n",
        "ex3_backprop_xor",
        "train_by_hand leaves the caller's params, X and y unchanged",
        graded=True,
    ),
    # ------------------------------------------------------------------------------ lab 02
    Mutant(
        "02",
        "cnn-dropout-0.25",
        "the CNN with Dropout(0.25) instead of 0.5",
        "            layers.Dropout(0.5),\n",
        "            layers.Dropout(0.25),\n",
        "ex3_cnn_mnist",
        "one Dropout layer, rate 0.5",
    ),
    Mutant(
        "02",
        "shift_images-valueerror-dy-only",
        "shift_images raising ValueError only for a too large dy",
        "    if abs(dy) >= height or abs(dx) >= width:\n",
        "    if abs(dy) >= height:\n",
        "ex5_shift",
        "a shift by the full width (dx = −7) raises ValueError",
    ),
    Mutant(
        "02",
        "shift_images-np.roll",
        "shift_images with np.roll (wraps around instead of filling with zeros)",
        "    out = np.zeros_like(x)\n"
        "    rows_to = slice(max(dy, 0), height + min(dy, 0))\n"
        "    rows_from = slice(max(-dy, 0), height + min(-dy, 0))\n"
        "    cols_to = slice(max(dx, 0), width + min(dx, 0))\n"
        "    cols_from = slice(max(-dx, 0), width + min(-dx, 0))\n"
        "    out[:, rows_to, cols_to] = x[:, rows_from, cols_from]\n"
        "    return out\n",
        "    return np.roll(x, (dy, dx), axis=(1, 2))\n",
        "ex5_shift",
        "shift by (1, 0): down/right positive, zeros come in",
    ),
    # ------------------------------------------------------------------------------ lab 03
    Mutant(
        "03",
        "momentum-without-0.9",
        '"Momentum" built without momentum=0.9 (plain SGD at 0.01)',
        '        "Momentum": keras.optimizers.SGD(0.01, momentum=0.9),\n',
        '        "Momentum": keras.optimizers.SGD(0.01),\n',
        "ex9_train_step",
        "Momentum and Nesterov are SGD(momentum=0.9) without and with nesterov=True",
    ),
    Mutant(
        "03",
        "nesterov-wrong-lr",
        "Nesterov with the wrong learning rate (0.1, the SGD row's, instead of 0.01)",
        '        "Nesterov": keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),\n',
        '        "Nesterov": keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),\n',
        "ex9_train_step",
        "learning rates as in the table",
    ),
    # ------------------------------------------------------------------------------ lab 04
    Mutant(
        "04",
        "few_shot_run-fine-tune-STEPS",
        "few_shot_run fine-tuning STEPS steps instead of STEPS // 2",
        "    tuned_model.fit(few_shot_batches(x_few, y_few, STEPS // 2), verbose=0)\n",
        "    tuned_model.fit(few_shot_batches(x_few, y_few, STEPS), verbose=0)\n",
        "ex3_few_shot",
        "feature extraction trained STEPS = ",
    ),
    Mutant(
        "04",
        "flowers-preprocess-before-augment",
        "build_flowers_model applying preprocess_input before the augmentation",
        "    x = augment(inputs)\n    x = keras.applications.mobilenet_v2.preprocess_input(x)\n",
        "    x = keras.applications.mobilenet_v2.preprocess_input(inputs)\n    x = augment(x)\n",
        "ex4_frozen_mobilenet",
        "the base sees preprocess_input(augment(pixels))",
    ),
    # ------------------------------------------------------------------------------ lab 05
    Mutant(
        "05",
        "forecaster-wrong-lr",
        "the forecaster compiled with a wrong learning rate (Adam's default 1e-3, not 3e-3)",
        "        [keras.Input((window, 1)), keras.layers.SimpleRNN(32), keras.layers.Dense(1)]\n"
        "    )\n"
        '    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3, clipnorm=1.0), loss="mse")\n',
        "        [keras.Input((window, 1)), keras.layers.SimpleRNN(32), keras.layers.Dense(1)]\n"
        "    )\n"
        '    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3, clipnorm=1.0), loss="mse")\n',
        "ex6_forecast",
        "Adam's learning rate is 3e-3",
    ),
    # ------------------------------------------------------------------------------ lab 06
    Mutant(
        "06",
        "adding_problem-no-n-check",
        "adding_problem without the ValueError for n < 1",
        "    if n < 1 or length < 2:\n",
        "    if length < 2:\n",
        "ex3_adding_problem",
        "n < 1 raises ValueError",
    ),
    # ------------------------------------------------------------------------------ lab 07
    Mutant(
        "07",
        "attention-value-is-key",
        "the attention layer called as [query, key, key] (value = the projected key)",
        "        [query, encoder_seq, key], return_attention_scores=True\n",
        "        [query, key, key], return_attention_scores=True\n",
        "ex8_attention_model",
        "the attention reads [query, value, key]",
    ),
    Mutant(
        "07",
        "additive-softmax-wrong-axis",
        "additive attention with the softmax over the query axis instead of the input positions",
        "    weights = tf.nn.softmax(scores, axis=-1)\n",
        "    weights = tf.nn.softmax(scores, axis=1)\n",
        "ex6_additive_attention",
        "weights match keras.layers.AdditiveAttention",
    ),
    # ------------------------------------------------------------------------------ lab 08
    Mutant(
        "08",
        "make_optimizers-one-adam-twice",
        "make_optimizers returning one Adam twice",
        "    g_opt = keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)\n"
        "    d_opt = keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)\n"
        "    return g_opt, d_opt\n",
        "    opt = keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)\n    return opt, opt\n",
        "ex4_train_step",
        "two separate optimizers: a step of g_opt leaves d_opt untouched",
        graded=True,
    ),
    Mutant(
        "08",
        "frechet-without-factor-2",
        "the Fréchet distance with the factor 2 of the cross term dropped",
        "    return float(mean_term + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)\n",
        "    return float(mean_term + np.trace(cov_a) + np.trace(cov_b) - cross)\n",
        "ex5b_frechet",
        "1-D: (μa − μb)² + (σa − σb)²",
    ),
    # ------------------------------------------------------------------------------ lab 09
    Mutant(
        "09",
        "prefix_beam-repeats-merged",
        "prefix beam search not keeping repeats apart (a repeated symbol extends from p_b + p_nb)",
        "                source = log_b if prefix and c == prefix[-1] else log_total\n",
        "                source = log_total\n",
        "ex5b_prefix_beam",
        "unpruned beam = the most probable label",
    ),
    # ------------------------------------------------------------------------------ lab 10
    Mutant(
        "10",
        "ctc-softmax-output",
        "the CTC model with a softmax on its output layer",
        "            layers.Dense(NUM_DIGITS + 1),\n",
        '            layers.Dense(NUM_DIGITS + 1, activation="softmax"),\n',
        "ex2_ctc_model",
        "the outputs are logits, not probabilities",
    ),
    Mutant(
        "10",
        "joint-without-tanh",
        "the RNN-T joint network without its tanh",
        '    hidden = layers.Activation("tanh")(layers.Add()([f_proj, g_proj]))\n',
        "    hidden = layers.Add()([f_proj, g_proj])\n",
        "ex5_rnnt_networks",
        "the joint network is not affine in f_t",
    ),
    Mutant(
        "10",
        "rnnt_loss_numpy-no-final-blank",
        "RNN-T loss (NumPy recursion) with the final blank left out",
        "    return float(-(alpha[-1, -1] + np.asarray(log_probs)[-1, len(label), blank]))\n",
        "    return float(-alpha[-1, -1])\n",
        "ex4_rnnt_recursion",
        "T=1, label [2]: recursion = sum over all paths",
    ),
    Mutant(
        "10",
        "rnnt_loss_tf-no-final-blank",
        "RNN-T loss (TensorFlow, batched) with the final blank left out",
        "    end = tf.gather(last + blank_lp[:, -1], lengths, batch_dims=1)\n",
        "    end = tf.gather(last, lengths, batch_dims=1)\n",
        "ex6_rnnt_loss_tf",
        "batch of 4 (U = 3, 1, 2, 0) = brute force",
    ),
    # ------------------------------------------------------------------------------ lab 11
    # One wrong-but-plausible answer per exercise (issue 29).
    Mutant(
        "11",
        "attention-scaled-by-d_k",
        "scaled dot-product attention divided by d_k instead of its square root",
        "    scores = tf.matmul(q, k, transpose_b=True) / tf.sqrt(d_k)\n",
        "    scores = tf.matmul(q, k, transpose_b=True) / d_k\n",
        "ex1_attention",
        "weights = keras.layers.MultiHeadAttention's (one head)",
    ),
    Mutant(
        "11",
        "mask-after-softmax",
        "the mask applied to the weights after the softmax (rows no longer sum to 1)",
        "    if mask is not None:\n"
        "        scores += (1.0 - tf.cast(mask, tf.float32)) * -1e9\n"
        "    weights = tf.nn.softmax(scores, axis=-1)\n",
        "    weights = tf.nn.softmax(scores, axis=-1)\n"
        "    if mask is not None:\n"
        "        weights *= tf.cast(mask, tf.float32)\n",
        "ex1_attention",
        "padding-masked weights = Keras's",
    ),
    Mutant(
        "11",
        "split_heads-no-transpose",
        "split_heads reshaping straight to (n, h, T, d_k), without the transpose",
        "    x = tf.reshape(x, (n, t, num_heads, x.shape[-1] // num_heads))\n"
        "    return tf.transpose(x, (0, 2, 1, 3))\n",
        "    return tf.reshape(x, (n, num_heads, t, x.shape[-1] // num_heads))\n",
        "ex2_multi_head",
        "head 2 at time 3 = features 8–11 of time 3",
    ),
    Mutant(
        "11",
        "positional-encoding-exponent",
        "the positional encoding with 10000^(i/d) instead of 10000^(2i/d)",
        "    angles = positions / np.power(10000.0, 2 * i / depth)\n",
        "    angles = positions / np.power(10000.0, i / depth)\n",
        "ex3_positional_encoding",
        "PE[p, 2i] = sin(p / 10000^(2i/d))",
    ),
    Mutant(
        "11",
        "decoder-block-no-causal-mask",
        "the decoder block's self-attention without its causal mask (it sees the future)",
        "        hidden = hidden + self.self_attention(normed, normed, use_causal_mask=True)\n",
        "        hidden = hidden + self.self_attention(normed, normed)\n",
        "ex4_blocks",
        "decoder position t ignores later positions (causal)",
    ),
    Mutant(
        "11",
        "transformer-no-encoder-norm",
        "build_transformer without the encoder's final layer norm (pre-norm needs it)",
        '    context = keras.layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(hidden)\n',
        "    context = hidden\n",
        "ex5_transformer_model",
        "layer 'encoder_norm' exists",
    ),
    Mutant(
        "11",
        "train_and_measure-ignores-learning-rate",
        "train_and_measure compiling with Adam's default learning rate, not the one given",
        "        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),\n",
        "        optimizer=keras.optimizers.Adam(clipnorm=1.0),\n",
        "ex6_train_and_measure",
        "hidden: learning_rate is used",
    ),
    Mutant(
        "11",
        "train_and_measure-seconds-per-epoch",
        "train_and_measure reporting the whole fit's seconds as seconds per epoch",
        '        "seconds_per_epoch": seconds / epochs,\n',
        '        "seconds_per_epoch": seconds,\n',
        "ex6_train_and_measure",
        "2 epochs: seconds per epoch = seconds / 2",
    ),
    Mutant(
        "11",
        "cross-attention-maps-no-source-mask",
        "cross_attention_maps running the encoder without the source padding mask",
        '    for block in blocks("encoder_block_"):\n        h = block(h, padding_mask=mask)\n',
        '    for block in blocks("encoder_block_"):\n        h = block(h)\n',
        "ex8_cross_attention",
        "= the last decoder block's cross-attention weights",
    ),
    Mutant(
        "11",
        "cached-decoder-reruns-prefix",
        "a CachedDecoder whose step also runs the whole prefix through the decoder blocks again "
        "(right tokens, logits and cache shapes; no work saved)",
        '        tokens = tf.constant(np.asarray(token_ids, "int32")[:, None])\n',
        '        tokens = tf.constant(np.asarray(token_ids, "int32")[:, None])\n'
        "        self.prefix = tokens if self.position == 0 else tf.concat([self.prefix, tokens], 1)\n"
        '        again = self.model.get_layer("decoder_embedding")(self.prefix)\n'
        "        for block in self.blocks:\n"
        "            again = block(again, self.context, context_mask=self.source_mask)\n",
        "ex7_cache_speed",
        "one new position per step through every decoder block",
        graded=True,  # the count runs in the kernel (checks.run_student): prove it when graded
    ),
]


# --------------------------------------------------------------------------- building the notebook


def solution_path(lab: str) -> Path:
    [path] = sorted((ROOT / "solutions").glob(f"{lab}_*.ipynb"))
    return path


def _solution_spans(source: str) -> list[tuple[int, int]]:
    return [
        (m.start(), m.end())
        for m in re.finditer(re.escape(BEGIN) + r".*?" + re.escape(END), source, re.S)
    ]


def mutate(nb, mutant: Mutant):
    """``nb`` (nbformat, changed in place) with ``mutant.old`` replaced by ``mutant.new``."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    total = sum(c.source.count(mutant.old) for c in code)
    assert total == 1, (
        f"{mutant.id}: the solution's text {mutant.old!r} occurs {total} times in "
        f"{solution_path(mutant.lab).name}, expected exactly once: the solution changed, "
        "rewrite the mutant"
    )
    cell = next(c for c in code if mutant.old in c.source)
    at = cell.source.index(mutant.old)
    assert any(a <= at and at + len(mutant.old) <= b for a, b in _solution_spans(cell.source)), (
        f"{mutant.id}: {mutant.old!r} is not inside a {BEGIN} … {END} block"
    )
    cell.source = cell.source.replace(mutant.old, mutant.new)
    return nb


def cut_after(nb, check: str):
    """``nb`` (changed in place) without the cells after the check cell ``check``."""
    where = [
        i
        for i, c in enumerate(nb.cells)
        if c.get("metadata", {}).get("course", {}).get("id") == check
    ]
    assert len(where) == 1, f"check {check!r}: {len(where)} cells carry that id"
    assert nb.cells[where[0]].metadata["course"].get("role") == "check", f"{check} is no check"
    del nb.cells[where[0] + 1 :]
    return nb


def mutated(mutant: Mutant):
    import nbformat

    nb = nbformat.read(solution_path(mutant.lab), as_version=4)
    return mutate(nb, mutant)


def _first_line(message: str) -> str:
    return (message.strip().splitlines() or [""])[0]


def _record(mutant: Mutant, **row) -> None:
    ROWS.mkdir(parents=True, exist_ok=True)
    row = {"id": mutant.id, "lab": mutant.lab, "wrong": mutant.wrong, "check": mutant.check, **row}
    (ROWS / f"{mutant.id}.json").write_text(json.dumps(row, ensure_ascii=False), encoding="utf-8")


# --------------------------------------------------------------------------- the tests


def _ids() -> list[str]:
    return [m.id for m in MUTANTS]


def test_mutant_ids_are_unique():
    assert len(set(_ids())) == len(MUTANTS)


def _params() -> list:
    return [
        pytest.param(
            m, id=m.id, marks=[pytest.mark.xfail(strict=True, reason=m.gap)] if m.gap else []
        )
        for m in MUTANTS
    ]


@pytest.mark.parametrize("mutant", _params())
def test_wrong_answer_fails_its_check(mutant: Mutant, tmp_path):
    import nbformat
    from notebook_runner import describe, run

    nb = cut_after(mutated(mutant), mutant.check)
    path = tmp_path / solution_path(mutant.lab).name
    nbformat.write(nb, path)
    start = time.monotonic()
    results = run(path, timeout=600, env_profile="smoke")
    seconds = time.monotonic() - start
    *before, last = results
    line = _first_line(last.message)
    row = {"error": last.error, "first_line": line, "seconds": round(seconds, 1)}
    broken = [r for r in before if r.error]
    if broken:
        row["broken_before"] = [f"{r.check_id or r.index}: {r.error}" for r in broken]
    _record(mutant, **row)
    assert last.check_id == mutant.check, (mutant.check, last)
    assert not broken, f"{mutant.id}: cells before {mutant.check} failed:\n{describe(broken)}"
    assert last.error in ALLOWED_CHECK_ERRORS, (
        f"{mutant.id}: {mutant.check} should fail with CheckFailure, "
        f"received {last.error or 'no error'}: {last.message}"
    )
    assert line.startswith(mutant.expect), (
        f"{mutant.id}: {mutant.check} failed on another assertion than the expected "
        f"{mutant.expect!r}: {line!r}"
    )
    if not mutant.graded:
        return
    # Graded as a whole submission, as an instructor's `make grade` would.
    from tools import grading

    folder = tmp_path / "submissions" / mutant.id
    folder.mkdir(parents=True)
    nbformat.write(mutated(mutant), folder / path.name)
    start = time.monotonic()
    [result] = grading.grade(
        mutant.lab,
        tmp_path / "submissions",
        tmp_path / "out",
        cell_timeout=600,
        student_timeout=1800,
        jobs=1,
        profile="smoke",
        log=lambda message: None,
    )
    graded_seconds = time.monotonic() - start
    verdict = next(c for c in result.checks if c.check == mutant.check)
    others = sorted(c.check for c in result.checks if c.points < c.max_points)
    row.update(
        graded_status=verdict.status,
        graded_points=f"{verdict.points:g}/{verdict.max_points:g}",
        graded_first_line=_first_line(verdict.message).split("; expected:")[0],
        graded_score=f"{result.score:g}/{result.max_score:g}",
        graded_below_full=others,
        graded_seconds=round(graded_seconds, 1),
    )
    _record(mutant, **row)
    assert verdict.max_points > 0
    assert (verdict.points, verdict.status in {"failed", "error"}) == (0, True), (
        f"{mutant.id} graded: {mutant.check} scored {verdict.points}/{verdict.max_points} "
        f"({verdict.status}: {verdict.message})"
    )
    assert mutant.expect in verdict.message, (
        f"{mutant.id} graded: {mutant.check} failed on another assertion than the expected "
        f"{mutant.expect!r}: {verdict.message!r}"
    )


# --------------------------------------------------------------------------- the table


def table() -> str:
    """The rows the last run wrote, as Markdown, in the order of MUTANTS."""
    lines = [
        "| lab | wrong answer | check that fails | first line of the failure | seconds |",
        "|---|---|---|---|---|",
    ]
    for mutant in MUTANTS:
        path = ROWS / f"{mutant.id}.json"
        if not path.exists():
            lines.append(f"| {mutant.lab} | {mutant.wrong} | `{mutant.check}` | (not run) | |")
            continue
        row = json.loads(path.read_text(encoding="utf-8"))
        failure = f"{row['error']}: {row['first_line']}" if row["error"] else "**did not fail**"
        if mutant.gap:
            failure += f" (known gap, strict xfail: {mutant.gap})"
        seconds = f"{row['seconds']:g}"
        if "graded_status" in row:
            also = [c for c in row["graded_below_full"] if c != mutant.check]
            failure += (
                f"; graded: {row['graded_status']}, {row['graded_points']} "
                f"(score {row['graded_score']}"
                + (f"; also below full: {', '.join(also)}" if also else "")
                + ")"
            )
            seconds += f" + graded {row['graded_seconds']:g}"
        lines.append(
            f"| {mutant.lab} | {mutant.wrong} | `{mutant.check}` | {failure.replace('|', '/')} "
            f"| {seconds} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())

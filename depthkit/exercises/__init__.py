"""Exercises in the lessons: blank answers, checks that give a specific hint, collapsed solutions.

The protocol is the same in every lesson:

1. **Exercise cell** (code, tagged ``exercise``): blank as committed, ``answer = ...`` or a function whose body is
   ``...``. The student edits it.
2. **Check cell** (code, tagged ``check``): calls one check from ``depthkit.exercises.lessonNN``. It prints exactly
   one line: ``✔ ...`` when the answer is right, otherwise ``✗ Not yet: <hint>``. It never raises on a blank or wrong
   answer (exceptions raised by the student's function become a hint), so "Run all" works on a fresh lesson. With the
   environment variable ``DEPTHKIT_STRICT_CHECKS=1`` a check that is not passed raises :class:`AssertionError` with the
   same line instead (tests use this).
3. **Solution cell** (markdown, tagged ``solution``): ``<details><summary>Solution</summary>`` holding exactly one
   fenced ``python`` block which, pasted into the exercise cell, makes the check pass.

Checks judge the student's work only, never the model's quality: the same check passes or fails in the same way with
untrained weights, the released checkpoint or any other checkpoint.

Writing a check::

    from depthkit.exercises import Mistake, NotYet, compare_function, exercise_check

    @exercise_check
    def check_double(student_fn):
        compare_function(student_fn, lambda x: 2 * x, lambda rng: (rng.normal(size=5),),
                         mistakes=[Mistake("you added instead of multiplying", lambda x: x + 2)])
        return "your function doubles its input."

A judge function raises :class:`NotYet` with a hint, or returns the text shown after ``✔``.
``check_double.verdict(answer)`` returns the :class:`Verdict` without printing (for unit tests).
"""

from __future__ import annotations

import ast
import dis
import functools
import inspect
import os
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BLANK_HINT",
    "PASS_MARK",
    "STRICT_ENV",
    "Mistake",
    "NotYet",
    "Verdict",
    "as_array",
    "as_number",
    "call_student",
    "check_choice",
    "check_value",
    "choice_check",
    "compare_function",
    "exercise_check",
    "is_blank",
    "require_answer",
    "strict_checks",
]

PASS_MARK = "✔"
FAIL_PREFIX = "✗ Not yet: "
STRICT_ENV = "DEPTHKIT_STRICT_CHECKS"
BLANK_HINT = "the exercise cell is still blank: replace the `...` with your answer and run that cell again."


class NotYet(Exception):
    """Raised inside a judge function: the answer is not right yet. The message is the hint shown to the student."""


@dataclass(frozen=True)
class Verdict:
    """Outcome of a check: ``passed`` and the one line the check prints."""

    passed: bool
    line: str


@dataclass(frozen=True)
class Mistake:
    """A typical mistake and the hint meant for it.

    Attributes:
        hint: what is wrong, phrased for the student (not the answer).
        produce: for :func:`compare_function`, a function of the same inputs returning what the mistaken
            implementation returns; for :func:`check_value`, the mistaken value itself.
    """

    hint: str
    produce: Any


def strict_checks() -> bool:
    """True when ``DEPTHKIT_STRICT_CHECKS`` is set to 1/true/yes: failed checks raise AssertionError."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes"}


def _function_body_is_ellipsis(fn: Callable) -> bool:
    """True if ``fn``'s body (after an optional docstring) is only ``...`` or ``pass``, or empty."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        tree = None
    if tree is not None and tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        body = tree.body[0].body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # a docstring alone is a blank body too
        return all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                                and s.value.value is Ellipsis) for s in body)
    code = getattr(fn, "__code__", None)  # no source (e.g. exec'd): a body that only returns None is blank
    if code is None:
        return False
    ops = [i for i in dis.get_instructions(code) if i.opname not in {"RESUME", "NOP", "CACHE"}]
    names = [i.opname for i in ops]
    returns_none = names in (["RETURN_CONST"], ["LOAD_CONST", "RETURN_VALUE"]) and ops[0].argval is None
    return returns_none and code.co_names == ()


def is_blank(answer: Any) -> bool:
    """True for an answer the student has not filled in.

    Blank means: ``...`` (Ellipsis), a tuple/list/dict containing ``...``, or a function whose body is ``...``
    (or ``pass``, or only a docstring; comments do not count).
    """
    if answer is Ellipsis:
        return True
    if isinstance(answer, (tuple, list)):
        return any(a is Ellipsis for a in answer)
    if isinstance(answer, dict):
        return any(v is Ellipsis for v in answer.values())
    if inspect.isfunction(answer):
        return _function_body_is_ellipsis(answer)
    return False


def require_answer(answer: Any) -> None:
    """Raise :class:`NotYet` with :data:`BLANK_HINT` if ``answer`` is blank (see :func:`is_blank`)."""
    if is_blank(answer):
        raise NotYet(BLANK_HINT)


def call_student(fn: Any, *args: Any, name: str = "your function") -> Any:
    """Call the student's function; any exception it raises becomes a :class:`NotYet` hint.

    Arguments are passed as copies of numpy arrays, so a function that modifies its input cannot spoil the check.
    """
    if not callable(fn):
        raise NotYet(f"the exercise expects a function, but the cell defines a {type(fn).__name__}.")
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        return fn(*copies)
    except Exception as exc:  # noqa: BLE001 - any error in the student's code must become a hint, not a traceback
        raise NotYet(f"{name} raised {type(exc).__name__}: {exc}") from None


def as_array(value: Any, name: str = "your result") -> np.ndarray:
    """``value`` as a float64 numpy array (torch tensors included), or :class:`NotYet` with a hint."""
    if isinstance(value, (str, bytes)):
        raise NotYet(f"{name} should be a number or an array of numbers, not a {type(value).__name__}; "
                     "remove the quotes.")
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NotYet(f"{name} should be a number or an array of numbers, not a {type(value).__name__}.") from None
    return array


def as_number(value: Any, name: str = "your answer") -> float:
    """``value`` as a Python float, or :class:`NotYet` with a hint (e.g. for a string or an array)."""
    if isinstance(value, (bool, np.bool_)):
        raise NotYet(f"{name} should be a number, not True/False.")
    array = as_array(value, name)
    if array.size != 1:
        raise NotYet(f"{name} should be a single number, but it has shape {array.shape}.")
    return float(array.reshape(()))


def _close(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> bool:
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=False))


def _same(got: Any, produced: Any, rtol: float, atol: float) -> bool:
    """True if ``got`` equals ``produced`` (element-wise for tuples); False for anything not comparable."""
    try:
        if isinstance(produced, tuple):
            return isinstance(got, (tuple, list)) and len(got) == len(produced) and all(
                _close(as_array(g), as_array(p), rtol, atol) for g, p in zip(got, produced, strict=True))
        return _close(as_array(got), as_array(produced), rtol, atol)
    except NotYet:
        return False


def _match_mistake(got: Any, mistakes: Iterable[Mistake], args: tuple, rtol: float, atol: float) -> None:
    for mistake in mistakes:
        produced = mistake.produce(*args) if callable(mistake.produce) else mistake.produce
        if _same(got, produced, rtol, atol):
            raise NotYet(mistake.hint)


def _compare_outputs(got: Any, expected: Any, name: str, rtol: float, atol: float) -> str | None:
    """None if ``got`` matches ``expected``; otherwise a hint about the difference."""
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{name} should return {len(expected)} values (a tuple), got {type(got).__name__}."
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            hint = _compare_outputs(g, e, f"value {i + 1} returned by {name}", rtol, atol)
            if hint:
                return hint
        return None
    got_a, exp_a = as_array(got, f"what {name} returns"), as_array(expected)
    if got_a.shape != exp_a.shape:
        return f"{name} returns shape {got_a.shape}, expected shape {exp_a.shape}."
    if not np.all(np.isfinite(got_a)):
        return f"{name} returns NaN or infinite values; check for a division by zero or an empty selection."
    if not np.allclose(got_a, exp_a, rtol=rtol, atol=atol):
        err = float(np.max(np.abs(got_a - exp_a)))
        return f"{name} returns values that differ from the expected ones (largest difference {err:.3g})."
    return None


def compare_function(student_fn: Any, reference: Callable, make_inputs: Callable[[np.random.Generator], tuple], *,
                     trials: int = 5, seed: int = 0, rtol: float = 1e-5, atol: float = 1e-6,
                     mistakes: Sequence[Mistake] = (), name: str = "your function") -> None:
    """Compare the student's function with depthkit's implementation on seeded random inputs.

    Args:
        student_fn: the function the student wrote (blank → :data:`BLANK_HINT`).
        reference: depthkit's implementation, called with the same inputs.
        make_inputs: ``rng -> tuple of arguments``; called ``trials`` times with ``np.random.default_rng(seed)``.
        trials, seed: how many random inputs, and their seed (the same inputs on every run).
        rtol, atol: tolerance of the comparison (numpy ``allclose``).
        mistakes: typical mistakes; if the student's output matches a mistake's output, its hint is shown.
        name: how the hint refers to the student's function.

    Raises:
        NotYet: with the hint of the first failing trial. Returns None when every trial matches.
    """
    require_answer(student_fn)
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        args = make_inputs(rng)
        expected = reference(*args)
        got = call_student(student_fn, *args, name=name)
        hint = _compare_outputs(got, expected, name, rtol, atol)
        if hint:
            _match_mistake(got, mistakes, args, rtol, atol)
            raise NotYet(hint)


def check_value(answer: Any, expected: Any, *, rtol: float = 1e-3, atol: float = 0.0,
                mistakes: Sequence[Mistake] = (), wrong: str = "that is not the value asked for; re-read the "
                "exercise and recompute.", name: str = "your answer") -> None:
    """Compare a value the student computed with the expected one.

    ``mistakes`` hold the values typical mistakes give (``Mistake(hint, value)``); ``wrong`` is the hint when the
    answer matches none of them. Raises :class:`NotYet`; returns None when the answer is right.
    """
    require_answer(answer)
    got, exp = as_array(answer, name), as_array(expected)
    if got.shape != exp.shape:
        raise NotYet(f"{name} has shape {got.shape}, expected shape {exp.shape}.")
    if np.allclose(got, exp, rtol=rtol, atol=atol):
        return
    for mistake in mistakes:
        if np.allclose(got, np.asarray(mistake.produce, dtype=np.float64), rtol=rtol, atol=atol):
            raise NotYet(mistake.hint)
    raise NotYet(wrong)


def _picked_letters(answer: Any, valid: set[str]) -> set[str]:
    """The letters of a multiple-choice answer: "b", "a, c", "AC", {"a", "c"} or ["a", "c"]."""
    if isinstance(answer, str):
        parts = [answer] if answer.strip().lower() in valid else list(answer.replace(",", " ").replace(" ", ""))
    elif isinstance(answer, (set, frozenset, list, tuple)) and all(isinstance(a, str) for a in answer):
        parts = list(answer)
    else:
        raise NotYet(f"answer with a letter in quotes, e.g. answer = \"{sorted(valid)[0]}\".")
    picked = {p.strip().lower() for p in parts if p.strip()}
    if not picked:
        raise NotYet(f"answer with a letter in quotes, e.g. answer = \"{sorted(valid)[0]}\".")
    if not picked <= valid:
        raise NotYet(f"choose among {', '.join(sorted(valid))}; {', '.join(sorted(picked - valid))} is not an option.")
    return picked


def check_choice(answer: Any, correct: str | set[str], options: Sequence[str],
                 hints: Mapping[str, str] | None = None) -> None:
    """Judge a multiple-choice answer: a letter (``"b"``) or, when several options are right, several letters
    (``"ac"``, ``"a, c"`` or ``{"a", "c"}``).

    Args:
        answer: the student's letter(s); case, commas and spaces are ignored.
        correct: the right letter, or the set of right letters.
        options: the valid letters, e.g. ``"abcd"``.
        hints: hint per wrong letter; ``"missing X"`` is the hint when the right letter X was not chosen, and
            ``"missing"`` the fallback for any missing letter.

    Raises:
        NotYet: for a blank, invalid, wrong or incomplete answer. Returns None when the answer is right.
    """
    require_answer(answer)
    hints = dict(hints or {})
    picked = _picked_letters(answer, {o.lower() for o in options})
    right = {correct.lower()} if isinstance(correct, str) else {c.lower() for c in correct}
    wrong = sorted(picked - right)
    if wrong:
        raise NotYet(hints.get(wrong[0], f"option {wrong[0]} is not right; re-read it."))
    missing = sorted(right - picked)
    if missing:
        raise NotYet(hints.get(f"missing {missing[0]}", hints.get(
            "missing", "some right options are missing: more than one option is right.")))


def choice_check(name: str, question: str, correct: str | set[str], options: Sequence[str],
                 hints: Mapping[str, str], praise: str) -> Callable[..., None]:
    """A whole multiple-choice check made from data: :func:`check_choice`, then ``praise`` after ``✔``.

    Args:
        name: the check's name, as the lesson module exports it (e.g. ``"check_hole_fill"``).
        question: the check's docstring: the question, its options and the right answer, for the teacher.
        correct, options, hints: as for :func:`check_choice`.
        praise: the text shown after ``✔`` when the answer is right.

    Returns:
        The check, as :func:`exercise_check` makes it: ``check(answer)`` prints one line, ``check.verdict(answer)``
        returns the :class:`Verdict`.

    >>> check = choice_check("check_nearer", "Which is nearer, a) 2.0 or b) 0.5 inverse depth?", "a", "ab",
    ...                      {"b": "larger inverse depth means nearer."}, "larger = nearer.")
    >>> check.verdict("b").line
    '✗ Not yet: larger inverse depth means nearer.'
    >>> check(" A ")
    ✔ larger = nearer.
    """
    hints = dict(hints)

    def judge(answer: Any) -> str:
        check_choice(answer, correct, options, hints)
        return praise

    judge.__name__ = judge.__qualname__ = name
    judge.__doc__ = question
    return exercise_check(judge)


def exercise_check(judge: Callable[..., str | None]) -> Callable[..., None]:
    """Turn a judge function into a check that prints one line (or raises AssertionError in strict mode).

    The judge raises :class:`NotYet` with a hint, or returns the text shown after ``✔`` (None: "Correct.").
    Any other exception while judging becomes a hint too, so a check never raises on a wrong answer.
    The returned check has a ``verdict(*args)`` attribute returning the :class:`Verdict` without printing.
    """

    @functools.wraps(judge)
    def verdict(*args: Any, **kwargs: Any) -> Verdict:
        try:
            message = judge(*args, **kwargs)
        except NotYet as exc:
            return Verdict(False, FAIL_PREFIX + str(exc))
        except Exception as exc:  # noqa: BLE001 - a wrong answer of any type must give a hint, not a traceback
            return Verdict(False, f"{FAIL_PREFIX}your answer could not be checked ({type(exc).__name__}: {exc}).")
        return Verdict(True, f"{PASS_MARK} {message or 'Correct.'}")

    @functools.wraps(judge)
    def check(*args: Any, **kwargs: Any) -> None:
        result = verdict(*args, **kwargs)
        if not result.passed and strict_checks():
            raise AssertionError(result.line)
        print(result.line)

    check.verdict = verdict
    return check

"""The exercise protocol (depthkit.exercises): blank detection, hints, strict mode, function comparison, choices."""

import numpy as np
import pytest

from depthkit.exercises import (
    BLANK_HINT,
    Mistake,
    NotYet,
    Verdict,
    check_choice,
    check_value,
    choice_check,
    compare_function,
    exercise_check,
    is_blank,
)


def blank_fn(x):
    ...


def blank_with_doc(x):
    """Return twice x."""


def blank_with_comment(x):
    # write your code here
    ...


def blank_pass(x):
    pass


def double(x):
    return 2 * x


def test_is_blank():
    assert is_blank(...) and is_blank((1, ...)) and is_blank([...]) and is_blank({"a": ...})
    assert is_blank(blank_fn) and is_blank(blank_with_doc) and is_blank(blank_with_comment) and is_blank(blank_pass)
    assert not is_blank(double) and not is_blank(0) and not is_blank(None) and not is_blank((1, 2)) and not is_blank("")


def test_is_blank_without_source():
    ns = {}
    exec("def f(x):\n    '''doc'''\n    ...\ndef g(x):\n    return x + 1\n", ns)
    assert is_blank(ns["f"]) and not is_blank(ns["g"])


@exercise_check
def check_double(fn):
    compare_function(fn, double, lambda rng: (rng.normal(size=int(rng.integers(2, 9))),), name="double",
                     mistakes=[Mistake("you added 2 instead of multiplying by 2.", lambda x: x + 2)])
    return "it doubles."


def test_check_prints_one_line(capsys, monkeypatch):
    monkeypatch.delenv("DEPTHKIT_STRICT_CHECKS", raising=False)
    assert check_double(double) is None
    assert capsys.readouterr().out == "✔ it doubles.\n"
    check_double(blank_fn)
    assert capsys.readouterr().out == f"✗ Not yet: {BLANK_HINT}\n"


@pytest.mark.parametrize("answer, hint", [
    (blank_fn, BLANK_HINT),
    (lambda x: x + 2, "you added 2 instead of multiplying by 2."),
    (lambda x: 1 / 0, "double raised ZeroDivisionError: division by zero"),
    (lambda x: x[:1] * 2, "double returns shape (1,), expected shape"),
    (lambda x: 3 * x, "double returns values that differ from the expected ones (largest difference"),
    (lambda x: x * np.nan, "NaN or infinite"),
    (lambda x: "two", "should be a number or an array of numbers, not a str"),
    (3.0, "the exercise expects a function, but the cell defines a float."),
])
def test_wrong_answers_get_their_hint_and_never_raise(answer, hint):
    verdict = check_double.verdict(answer)
    assert isinstance(verdict, Verdict) and not verdict.passed
    assert verdict.line.startswith("✗ Not yet: ") and hint in verdict.line and "\n" not in verdict.line


def test_student_function_cannot_change_the_inputs():
    def spoiler(x):
        x *= 2
        return x
    assert check_double.verdict(spoiler).passed


def test_strict_mode_raises_with_the_same_text(monkeypatch, capsys):
    monkeypatch.setenv("DEPTHKIT_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match=r"^✗ Not yet: you added 2"):
        check_double(lambda x: x + 2)
    check_double(double)
    assert capsys.readouterr().out == "✔ it doubles.\n"


def test_errors_inside_a_judge_become_a_hint():
    @exercise_check
    def check_broken(answer):
        return answer["key"]
    verdict = check_broken.verdict(3)
    assert not verdict.passed and "could not be checked (TypeError" in verdict.line


def test_compare_function_is_seeded():
    seen = []

    def record(x):
        seen.append(x.copy())
        return 2 * x
    compare_function(record, double, lambda rng: (rng.normal(size=3),), trials=2, seed=5)
    compare_function(record, double, lambda rng: (rng.normal(size=3),), trials=2, seed=5)
    np.testing.assert_array_equal(seen[0], seen[2])
    assert not np.array_equal(seen[0], seen[1])


def test_compare_function_tuples():
    ref = lambda x: (x.sum(), x.max())  # noqa: E731
    make = lambda rng: (rng.normal(size=4),)  # noqa: E731
    compare_function(lambda x: [x.sum(), x.max()], ref, make)  # a list is accepted for a tuple
    with pytest.raises(NotYet, match="should return 2 values"):
        compare_function(lambda x: x.sum(), ref, make)
    with pytest.raises(NotYet, match="swapped"):
        compare_function(lambda x: (x.max(), x.sum()), ref, make,
                         mistakes=[Mistake("swapped", lambda x: (x.max(), x.sum()))])


def test_check_value():
    check_value(0.905, 0.905)
    with pytest.raises(NotYet, match="bad pixels"):
        check_value(0.095, 0.905, mistakes=[Mistake("bad pixels", 0.095)])
    with pytest.raises(NotYet, match="recompute"):
        check_value(0.5, 0.905)
    with pytest.raises(NotYet, match=r"single number|shape"):
        check_value([1, 2], 0.905)
    with pytest.raises(NotYet, match=BLANK_HINT[:20]):
        check_value(..., 1.0)


def test_check_choice():
    check_choice("a", "a", "abc")
    check_choice(" A ", "a", "abc")
    check_choice({"a", "c"}, {"a", "c"}, "abc")
    check_choice("a, c", {"a", "c"}, "abc")
    check_choice("ca", {"a", "c"}, "abc")
    hints = {"b": "b is wrong because", "missing c": "c is right too"}
    with pytest.raises(NotYet, match="b is wrong because"):
        check_choice("b", "a", "abc", hints)
    with pytest.raises(NotYet, match="c is right too"):
        check_choice("a", {"a", "c"}, "abc", hints)
    with pytest.raises(NotYet, match="more than one option is right"):
        check_choice("c", {"a", "c"}, "abc")
    with pytest.raises(NotYet, match="choose among a, b, c; z is not an option"):
        check_choice("z", "a", "abc")
    with pytest.raises(NotYet, match="letter in quotes"):
        check_choice(2, "a", "abc")
    with pytest.raises(NotYet, match="blank"):
        check_choice(..., "a", "abc")


def test_choice_check_is_a_whole_check(capsys, monkeypatch):
    monkeypatch.delenv("DEPTHKIT_STRICT_CHECKS", raising=False)
    hints = {"b": "b is wrong because", "missing c": "c is right too"}
    check = choice_check("check_ac", "Which two? Right: a and c.", {"a", "c"}, "abc", hints, "a and c it is.")
    hints["b"] = "changed after the check was made"  # the check keeps its own copy of the hints
    assert check.__name__ == "check_ac" and check.__doc__ == "Which two? Right: a and c."
    assert check.verdict("A, C") == Verdict(True, "✔ a and c it is.")
    assert check.verdict("b") == Verdict(False, "✗ Not yet: b is wrong because")
    assert check.verdict("a") == Verdict(False, "✗ Not yet: c is right too")
    assert check.verdict(...) == Verdict(False, "✗ Not yet: " + BLANK_HINT)
    check("ca")
    check("z")
    assert capsys.readouterr().out.splitlines() == [
        "✔ a and c it is.", "✗ Not yet: choose among a, b, c; z is not an option."]
    monkeypatch.setenv("DEPTHKIT_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="c is right too"):
        check("a")

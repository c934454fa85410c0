"""The bad-input corpus (:mod:`bad_inputs`) through read_image, ``predict``, ``report`` and the app's upload path.

Every input must give either the correct picture (shape, orientation and colours checked against the expected
array) or one sentence — with a non-zero exit code from the CLI — within 5 s; never a traceback, a hang, or a
resident memory peak above 2 GB. Each path runs in a subprocess with an address-space cap and a timeout, so a
runaway input fails its test instead of the session. ``test_outcome_table`` prints the corpus table
(``pytest tests/test_bad_inputs.py -k table -s``).
"""

import html
import re
import sys
from pathlib import Path

import bad_inputs as bi
import pytest

REPO = Path(__file__).resolve().parents[1]
NAMES = [case.name for case in bi.CASES]
#: Run through ``predict`` one by one (not in the batch): the non-regular files (a hang must not block the
#: others), the empty file (refused before the model loads?), and the bomb and the 50 MP photo (a memory peak
#: must be charged to its own input).
ALONE = ("empty", "decompression_bomb", "fifty_megapixels", *bi.NON_REGULAR)
_CACHE: dict = {}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """``(folder, name -> path)`` with every corpus file, built once per module (about 1 s)."""
    folder = tmp_path_factory.mktemp("bad-inputs") / "corpus"
    return folder, bi.build_corpus(folder)


def _env():
    import os

    env = {k: v for k, v in os.environ.items() if k != "DEPTHKIT_WEIGHTS"}
    env.update(DEPTHKIT_OFFLINE="1", HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8",
               PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def _cli(seconds, *args):
    """``python -m depthkit ARGS`` under the measuring worker (address cap, timeout, peak RSS)."""
    cmd = [sys.executable, "-m", "depthkit", *map(str, args)]
    return bi.run_worker("run", str(seconds), "--", *cmd, timeout=seconds + 60, cwd=REPO, env=_env())[0]


# ------------------------------------------------------------------------------------ the four paths, cached
def _read(name, corpus, tmp):
    key = ("read", name)
    if key not in _CACHE:
        out = tmp / f"{name}.npy"
        try:
            records = bi.run_worker("read", str(corpus[1][name]), str(out), timeout=bi.HANG_LIMIT, cwd=REPO, env=_env())
            _CACHE[key] = (records[0], out)
        except AssertionError as exc:
            _CACHE[key] = ({"failure": str(exc)}, out)
    return _CACHE[key]


def _predict_all(corpus, tmp):
    """One ``predict`` over every regular file (the corpus in a batch), and one run for each of the others."""
    if "predict" not in _CACHE:
        paths = corpus[1]
        out = tmp / "predict"
        regular = [paths[c.name] for c in bi.CASES if c.name not in ALONE]
        batch = _cli(60 + bi.SECONDS_LIMIT * len(regular), "predict", *regular, "--out", out, "--weights", "random")
        alone = {name: _cli(bi.HANG_LIMIT, "predict", paths[name], "--out", out / name, "--weights", "random")
                 for name in ALONE}
        _CACHE["predict"] = (batch, alone, out)
    return _CACHE["predict"]


def _app_all(corpus, tmp):
    if "app" not in _CACHE:
        folder, _ = corpus
        out = tmp / "app"
        out.mkdir(exist_ok=True)
        records = {}
        groups = [[c.name for c in bi.CASES if c.regular], *[[n] for n in bi.NON_REGULAR]]  # a hang stays isolated
        for names in groups:
            try:
                got = bi.run_worker("app", str(folder), str(out), *names, timeout=60 + bi.HANG_LIMIT * len(names),
                                 cwd=REPO, env=_env())
                records.update({r["name"]: r for r in got})
            except AssertionError as exc:
                records.update({n: {"failure": str(exc)} for n in names if n not in records})
        _CACHE["app"] = (records, out)
    return _CACHE["app"]


def _report(corpus, tmp):
    if "report" not in _CACHE:
        out = tmp / "report" / "corpus.html"
        record = _cli(600, "report", corpus[0], "--out", out, "--weights", "random")
        page = out.read_text(encoding="utf-8") if out.is_file() else ""
        _CACHE["report"] = (record, page)
    return _CACHE["report"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("bad-inputs-work")


# ----------------------------------------------------------------------------------------------- judging
def _limits_problem(record):
    """What is wrong with a worker's run itself (it failed, used too much memory or time), or None."""
    if "failure" in record:
        return record["failure"]
    if record["peak_rss"] > bi.MEMORY_LIMIT:
        return f"peak memory {record['peak_rss'] / 2**30:.1f} GB"
    if record["cpu"] > bi.SECONDS_LIMIT or record["seconds"] > bi.HANG_LIMIT:
        return f"took {record['cpu']:.1f} CPU s ({record['seconds']:.1f} s wall)"
    return None


def _judge_read(case, record, out):
    problem = _limits_problem(record)
    if problem is not None:
        return problem
    if record["ok"]:
        if case.picture is None:
            return f"decoded a {record['shape']} picture from a file that must be refused"
        import numpy as np

        return bi.picture_problem(case, np.load(out))
    if case.picture is not None and not case.may_refuse:
        return f"refused a valid picture: {record['error']}"
    return bi.sentence_problem(case, record["error"])


def _error_lines(stderr, path):
    prefix = f"depthkit: error: {path}: "
    return [line[len(prefix):] for line in stderr.splitlines() if line.startswith(prefix)]


def _judge_predict(case, batch, alone, out, path):
    import numpy as np

    record = alone.get(case.name, batch)
    if record["timed_out"]:
        return f"predict hung (> {record['seconds']:.0f} s)"
    if "Traceback" in record["stderr"]:
        return "traceback: " + record["stderr"].strip().splitlines()[-1]
    if record["peak_rss"] > bi.MEMORY_LIMIT:
        return f"peak memory {record['peak_rss'] / 2**30:.1f} GB"
    errors = _error_lines(record["stderr"], path)
    if errors and case.name in alone and (record["cpu"] > bi.SECONDS_LIMIT or record["seconds"] > bi.HANG_LIMIT):
        return (f"predict took {record['cpu']:.1f} CPU s ({record['seconds']:.1f} s wall) to refuse it: check the "
                "paths before loading the model")
    if errors:
        if len(errors) != 1:
            return f"{len(errors)} error lines"
        if record["returncode"] == 0:
            return "exit code 0 after an error"
        if case.picture is not None and not case.may_refuse:
            return f"refused a valid picture: {errors[0]}"
        return bi.sentence_problem(case, errors[0])
    if case.picture is None:
        return "no error line for a file that must be refused"
    npy = (out / case.name if case.name in alone else out) / f"{path.stem}_inverse_depth.npy"
    if not npy.is_file():
        return "neither outputs nor an error line"
    shape = np.load(npy).shape
    if not bi.shape_ok(case, shape):
        return f"inverse depth of shape {shape}, expected {case.picture.shape[:2]}"
    ms = re.search(rf"{re.escape(str(path))}: \d+x\d+ px, (\d+) ms", record["stdout"])
    if ms and int(ms.group(1)) > 1000 * bi.SECONDS_LIMIT:
        return f"took {int(ms.group(1))} ms"
    return None


def _judge_app(case, record, out):
    import numpy as np

    problem = _limits_problem(record)
    if problem is not None:
        return problem
    if record["error"]:
        if case.picture is not None and not case.may_refuse:
            return f"refused a valid picture: {record['error']}"
        if not record["kept_previous"]:
            return "the failed upload removed the previous photo and its depth"
        return bi.sentence_problem(case, record["error"])
    if case.picture is None:
        return "showed a picture for a file that must be refused"
    from dataclasses import replace

    shown = np.load(out / f"{case.name}.npy")  # the app works on a copy scaled to max_side
    return bi.picture_problem(replace(case, may_shrink=True, tolerance=case.tolerance + 3), shown)


def _judge_report(case, record, page, filename):
    if record["timed_out"] or "Traceback" in record["stderr"] or record["returncode"] != 0:
        tail = record["stderr"].strip().splitlines()[-1:] or ["?"]
        return f"the report did not finish (exit {record['returncode']}): {tail[0]}"
    name = html.escape(filename, quote=False)
    blocks = [re.sub(r"<[^>]+>", "", b) for b in re.findall(r"<(?:p|li)>(.*?)</(?:p|li)>", page, re.S) if name in b]
    refusals = [b for b in blocks if "could not" in b or re.search(case.refuse or "^$", b)]
    if case.name == "directory" and not blocks:
        return None  # a sub-folder of the images folder is not one of its inputs: leaving it out is right
    if case.picture is None or (case.may_refuse and refusals):
        if not refusals:
            return f"the report has no line about {filename}"
        sentence = refusals[0].split(":", 1)[-1].strip()
        return bi.sentence_problem(case, sentence)
    if refusals:
        return f"refused a valid picture: {refusals[0]}"
    if not re.search(rf"<h3[^>]*>\s*{re.escape(name)}", page):
        return f"the report shows no picture for {filename}"
    return None


# ------------------------------------------------------------------------------------------------- tests
def test_corpus_covers_the_issue(corpus):
    paths = corpus[1]
    assert len(bi.CASES) >= 25 and len(set(NAMES)) == len(NAMES)
    assert len({c.filename for c in bi.CASES}) == len(bi.CASES)
    assert paths["fifo"].is_fifo() and paths["directory"].is_dir()
    assert paths["symlink_dev_zero"].is_symlink() and paths["symlink_dev_zero"].resolve() == Path("/dev/zero")
    assert paths["empty"].stat().st_size == 0 and paths["decompression_bomb"].stat().st_size < 200
    assert " " in paths["non_ascii_name"].name and not paths["non_ascii_name"].name.isascii()


@pytest.mark.parametrize("name", NAMES)
def test_read_image(name, corpus, work):
    record, out = _read(name, corpus, work)
    problem = _judge_read(bi.BY_NAME[name], record, out)
    assert problem is None, f"read_image({bi.BY_NAME[name].filename!r}): {problem}"


@pytest.mark.parametrize("name", NAMES)
def test_predict_cli(name, corpus, work):
    batch, alone, out = _predict_all(corpus, work)
    problem = _judge_predict(bi.BY_NAME[name], batch, alone, out, corpus[1][name])
    assert problem is None, f"predict {bi.BY_NAME[name].filename!r}: {problem}"


@pytest.mark.parametrize("name", NAMES)
def test_app_upload(name, corpus, work):
    records, out = _app_all(corpus, work)
    problem = _judge_app(bi.BY_NAME[name], records[name], out)
    assert problem is None, f"app upload of {bi.BY_NAME[name].filename!r}: {problem}"


@pytest.mark.parametrize("name", NAMES)
def test_report_cli(name, corpus, work):
    record, page = _report(corpus, work)
    problem = _judge_report(bi.BY_NAME[name], record, page, bi.BY_NAME[name].filename)
    assert problem is None, f"report over the corpus, {bi.BY_NAME[name].filename!r}: {problem}"


def _report_outcome(case, page):
    name = html.escape(case.filename, quote=False)
    if re.search(rf"<h3[^>]*>\s*{re.escape(name)}", page):
        return "picture"
    return "sentence" if name in page else "not listed (a sub-folder is no input)"


def _cells(case, corpus, work) -> tuple[list[str], int]:
    """The table row of one case: what each path gave (or FAIL: why), and the number of failed cells."""
    path = corpus[1][case.name]
    record, npy = _read(case.name, corpus, work)
    batch, alone, out = _predict_all(corpus, work)
    predict_record = alone.get(case.name, batch)
    app_records, app_out = _app_all(corpus, work)
    report_record, page = _report(corpus, work)
    results = (
        (_judge_read(case, record, npy), "picture" if record.get("ok") else "sentence"),
        (_judge_predict(case, batch, alone, out, path),
         f"sentence, exit {predict_record['returncode']}" if _error_lines(predict_record["stderr"], path) else "maps"),
        (_judge_app(case, app_records[case.name], app_out),
         ("sentence, previous photo kept" if app_records[case.name].get("error") else "picture")
         + ("" if case.regular else " (app.run(path): no bytes to upload)")),
        (_judge_report(case, report_record, page, case.filename),
         _report_outcome(case, page)),
    )
    cells = [f"FAIL: {problem}" if problem else ok for problem, ok in results]
    return cells, sum(problem is not None for problem, _ in results)


def test_outcome_table(corpus, work, capsys):
    """Prints the corpus table (input -> outcome of each path); fails if any cell failed."""
    rows, failures = [], 0
    for case in bi.CASES:
        cells, failed = _cells(case, corpus, work)
        failures += failed
        sentence = (_read(case.name, corpus, work)[0].get("error") or "").replace(f"{corpus[0]}/", "")
        rows.append(f"| {case.what} | {' | '.join(cells)} | {sentence} |")
    with capsys.disabled():
        print("\n| input | read_image | predict | app upload | report | read_image's sentence |")
        print("|---|---|---|---|---|---|")
        print("\n".join(rows))
    assert failures == 0, f"{failures} cells of the table failed (see above)"

"""Every code block of README.md and docs/*.md runs as written.

README.md is one walk-through: its Python blocks run in order as one script,
then the ``fastem`` commands of its shell blocks, in the same directory. In
docs/*.md each Python block runs on its own, as a reader would copy it into a
file, in a directory that holds the data files the text talks about. Shell
lines that install or test the package (pip, pytest, asv) are not run here:
CI runs those itself.
"""

import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["docs/" + name for name in sorted(os.listdir(os.path.join(ROOT, "docs")))
        if name.endswith(".md")]
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_ENVIRONMENT_COMMANDS = ("pip", "pytest", "asv", "env", "ASV_PYTHONPATH=$PWD")


def blocks(path, language):
    with open(os.path.join(ROOT, path)) as f:
        return [body for lang, body in _BLOCK.findall(f.read()) if lang == language]


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
                MPLBACKEND="Agg")


def _run_python(code, cwd):
    script = cwd / "block.py"
    script.write_text(code)
    # A Dask cluster's dashboard takes another port when 8787 is busy (another cluster
    # on the machine) and warns: the machine's state, not the block's fault.
    busy = "ignore:Port 8787 is already in use:UserWarning"
    result = subprocess.run([sys.executable, "-W", "error", "-W", busy, str(script)], cwd=cwd,
                            env=_env(), capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{code}\n---\n{result.stderr}"


def _shell_commands(block):
    """The fastem commands of a shell block (comments and environment commands left out)."""
    for line in block.splitlines():
        line = line.split(" #")[0].strip()
        for part in (p.strip() for p in line.split("&&")):
            if part.startswith("fastem "):
                yield part
            elif part and not part.startswith(_ENVIRONMENT_COMMANDS):
                raise AssertionError(f"a shell line this test does not know how to run: {part!r}")


def test_readme_runs_as_written(tmp_path):
    _run_python("\n".join(blocks("README.md", "python")), tmp_path)
    commands = [c for block in blocks("README.md", "bash") for c in _shell_commands(block)]
    assert any(c.startswith("fastem fit") for c in commands)
    for command in commands:
        argv = shlex.split(command)
        if argv[:2] == ["fastem", "demo"]:
            argv += ["--n-samples", "20000"]  # the same command on less data
        result = subprocess.run([sys.executable, "-m", "fastem", *argv[1:]], cwd=tmp_path,
                                env=_env(), capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, f"{command}\n{result.stderr}"


@pytest.fixture
def data_files(tmp_path):
    """The files docs/*.md read (points.npy, part-0..2.npy, w-1.npy, model.npz), made by
    the first block of docs/out-of-core.md, as a reader following the docs makes them."""
    setup = blocks("docs/out-of-core.md", "python")[0]
    assert 'np.save("points.npy"' in setup and '.save("model.npz")' in setup
    _run_python(textwrap.dedent(setup), tmp_path)
    return tmp_path


_DOC_BLOCKS = [
    pytest.param(path, i, id=f"{path}:{i}")
    for path in DOCS for i in range(len(blocks(path, "python")))
]


@pytest.mark.parametrize("path, index", _DOC_BLOCKS)
def test_doc_blocks_run_as_written(data_files, path, index):
    code = blocks(path, "python")[index]
    if path == "docs/out-of-core.md" and "distributed" in code:
        pytest.importorskip("distributed")
    _run_python(textwrap.dedent(code), data_files)


def test_submodules_are_attributes_of_the_package():
    """``fastem.datasets.load_airquality()`` and ``fastem.plot`` work after ``import fastem`` alone."""
    script = ("import sys, fastem; assert 'fastem.plot' not in sys.modules; "
              "print(fastem.datasets.load_airquality()[1][0], fastem.plot.__name__)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Ozone", "fastem.plot"]


def test_every_public_class_has_its_doc_fragments_filled_in():
    # A {name} of fastem.base.DOC_FRAGMENTS left in a docstring means the class lost its
    # @fill_doc (a function defined between the decorator and the class takes it).
    import inspect

    import fastem
    from fastem.base import DOC_FRAGMENTS

    left = [
        f"{name}.{member}: {{{fragment}}}"
        for name in fastem.__all__
        if inspect.isclass(cls := getattr(fastem, name))
        for member, value in [("__doc__", cls)] + list(vars(cls).items())
        for fragment in DOC_FRAGMENTS
        if "{" + fragment + "}" in (getattr(value, "__doc__", None) or "")
    ]
    assert not left, left


def test_every_warning_fastem_issues_is_importable_from_the_package():
    # A user filters or catches a warning by its class: each of fastem's is at the top level.
    import inspect

    import fastem
    from fastem import base, exceptions

    defined = {name for module in (base, exceptions)
               for name, cls in vars(module).items()
               if inspect.isclass(cls) and issubclass(cls, Warning)
               and cls.__module__.startswith("fastem")}
    assert defined, "no warning classes found"
    missing = sorted(name for name in defined if name not in fastem.__all__)
    assert not missing, missing
    for name in defined:
        assert getattr(fastem, name) is getattr(exceptions, name)


def test_the_rows_of_the_start_candidates_are_documented_as_the_code_computes_them():
    """README, docs/convergence.md and docs/reliability.md state the largest data that draw
    k-means++ start candidates (``_CANDIDATE_SUBSAMPLES`` times the tree's subsample) and
    the number of features from which it falls: the tree's subsample falls below 2,000
    points from 9 features on, where they had said 12 (and 16)."""
    import fastem
    from fastem._hierarchical import HIERARCHICAL_SAMPLE_SIZE
    from fastem._init import sample_size

    def limit(p):
        return f"{fastem.GaussianMixture._CANDIDATE_SUBSAMPLES * sample_size('hierarchical', p):,}"

    fewer = next(p for p in range(1, 31) if sample_size("hierarchical", p) < HIERARCHICAL_SAMPLE_SIZE)

    def text(path):
        with open(os.path.join(ROOT, path)) as f:
            return " ".join(f.read().split())

    assert f"{limit(1)} rows (fewer from {fewer} features on;" in text("README.md")
    assert (f"({limit(1)} points of positive weight up to {fewer - 1} features, "
            f"{limit(fewer)} at {fewer}, "
            f"{limit(12)} at 12," in text("docs/convergence.md"))
    assert f"({limit(1)} rows up to {fewer - 1} features)" in text("docs/reliability.md")


def test_every_default_that_differs_from_scikit_learns_is_a_documented_difference():
    """README's and docs/data-input.md's lists of the deliberate differences from scikit-learn
    name every parameter whose default differs: they left out ``max_iter`` (1000 against
    scikit-learn's 100), to a user who swaps the import and keeps the code."""
    import inspect

    mixture = pytest.importorskip("sklearn.mixture")
    import fastem

    differing = set()
    for name in ("GaussianMixture", "BayesianGaussianMixture"):
        ours = inspect.signature(getattr(fastem, name)).parameters
        theirs = inspect.signature(getattr(mixture, name)).parameters
        differing |= {p for p in theirs if p in ours and ours[p].default != theirs[p].default}
    assert {"tol", "init_params", "max_iter"} <= differing

    def section(path, start, end):
        with open(os.path.join(ROOT, path)) as f:
            text = f.read()
        return text[text.index(start):text.index(end, text.index(start))]

    for path, start, end in (
        ("README.md", "The differences from scikit-learn are deliberate", "How a fit converges"),
        ("docs/data-input.md", "## Deliberate differences", "\n## "),
    ):
        listed = section(path, start, end)
        assert not [p for p in sorted(differing) if f"`{p}" not in listed], (path, listed)


def test_the_errors_out_of_core_md_quotes_are_those_chunks_give(tmp_path):
    """docs/out-of-core.md quotes the errors of chunked data word for word; it quoted
    `chunk 1: sample_weight contains 5 negative value(s)` where the error reads
    `chunk 1, its weights: sample_weight ...`."""
    import numpy as np

    import fastem

    with open(os.path.join(ROOT, "docs/out-of-core.md")) as f:
        text = f.read()
    quoted = [" ".join(q.split()) for q in re.findall(r"`((?:chunk \d|the chunked data)[^`]*)`",
                                                        text)]
    assert len(quoted) >= 6, quoted

    points = np.random.default_rng(0).normal(size=(100, 2))
    holes, negative = points.copy(), np.ones(100)
    holes[:10, 0] = np.nan
    negative[:5] = -1

    class Shrinking:  # its second pass yields fewer rows of chunk 1 than validation saw
        passes = 0

        def __iter__(self):
            self.passes += 1  # on the first item: a pass, not iter() alone
            yield points
            yield points if self.passes == 1 else points[:50]

    pd = pytest.importorskip("pandas")
    sources = [
        fastem.Chunks([pd.DataFrame(points, columns=["x", "y"]),
                       pd.DataFrame(points, columns=["y", "x"])]),
        fastem.Chunks([points, points, holes]),
        fastem.Chunks([points, np.ones((10, 3))]),
        fastem.Chunks([points, points], sample_weights=[None, negative]),
        fastem.Chunks([points.astype(np.float32), points.astype(np.float16)]),
        Shrinking(),
    ]
    messages = []
    for source in sources:
        with pytest.raises(ValueError) as error:
            fastem.GaussianMixture(1).fit(source)
        messages.append(" ".join(str(error.value).split()))
    assert not [q for q in quoted if not any(q in m for m in messages)], (quoted, messages)


def test_the_calls_of_fastem_functions_the_docs_write_fit_their_signatures():
    """A call such as `fastem._init.sample_index(n, random_state)` in the docs takes the
    arguments the function does (it takes ``size`` too)."""
    import ast
    import importlib
    import inspect

    def resolve(name):
        parts = name.split(".")
        obj = importlib.import_module(parts[0])
        for i, part in enumerate(parts[1:], 2):
            obj = (getattr(obj, part) if hasattr(obj, part)
                   else importlib.import_module(".".join(parts[:i])))
        return obj

    wrong = []
    for path in ["README.md", *DOCS]:
        with open(os.path.join(ROOT, path)) as f:
            text = f.read()
        for name, arguments in re.findall(r"(?<![\w.])(fastem(?:\.\w+)+)\(([^()`]*)\)", text):
            call = ast.parse(f"f({arguments})", mode="eval").body
            if any(isinstance(a, ast.Constant) and a.value is Ellipsis for a in call.args):
                continue  # f(X, ...): arguments left out on purpose
            try:
                inspect.signature(resolve(name)).bind(
                    *call.args, **{k.arg: k.value for k in call.keywords})
            except TypeError as error:
                wrong.append(f"{path}: {name}({arguments}): {error}")
    assert not wrong, wrong


def _quoted_errors(path, heading, row_start):
    """The errors that a row of a table quotes as ``Type: message`` (not those it says came
    "before"), ``...`` standing for words left out."""
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    table = text[text.index(heading):]
    table = table[:table.index("\n## ")]
    rows = [line for line in table.splitlines() if line.startswith("| " + row_start)]
    assert len(rows) == 1, (row_start, len(rows))
    behaviour = re.split(r"\b[Bb]efore\b", rows[0].split(" | ")[1])[0]
    return re.findall(r"`([A-Z]\w*(?:Error|Warning): [^`]*)`", behaviour)


def _says(error, quote):
    """Whether ``error`` is of the type the quote names and says its words, in order."""
    import builtins

    name, _, words = quote.partition(": ")
    kind = getattr(builtins, name, None)
    if not (type(error).__name__ == name or (kind is not None and isinstance(error, kind))):
        return False
    message, at = " ".join(str(error).split()), 0
    for part in (p.strip(" ,.;") for p in words.split("...")):
        at = message.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True


def test_the_errors_reliability_md_quotes_for_bad_input_are_those_fastem_gives():
    """The "Bad input" table of docs/reliability.md quotes the error of each input: the
    quotes had kept the words of errors since reworded (NaN without the advice of
    missing='em', a complex X as a TypeError where it is scikit-learn's ValueError, a
    predict on other features as 'was fitted with 3')."""
    import numpy as np

    import fastem

    pd = pytest.importorskip("pandas")
    G, B, E = fastem.GaussianMixture, fastem.BayesianGaussianMixture, fastem.ExponentialMixture
    X = np.random.default_rng(0).normal(size=(120, 3))
    f32 = X.astype(np.float32)
    holes, wide, far = X.copy(), X.copy(), X.copy()
    holes[3, 1] = holes[7, 0] = np.nan
    wide[0, 0], far[0, 0] = 1e152, 1e200
    tiny = np.zeros(120)
    tiny[:3] = 1.24e-297 / 3
    fitted = G(2, random_state=0).fit(X)
    asymmetric = np.array([np.eye(3) + np.triu(np.ones((3, 3)), 1) / 2] * 2)
    masked = np.ma.masked_array(np.zeros((2, 3)), mask=[[1, 0, 0], [0, 0, 0]])
    cases = {
        "NaN, +inf": [lambda: G(1).fit(holes)],
        "Empty `X`": [lambda: G(1).fit(np.empty((0, 3)))],
        "0-D `X`": [lambda: G(1).fit(np.float64(3))],
        "1-D `X`": [lambda: G(1).fit(np.arange(10.0))],
        "3-D `X`": [lambda: G(1).fit(np.zeros((4, 5, 3)))],
        "`n_samples < n_components`": [lambda: G(5).fit(X[:3])],
        "`sample_weight` summing": [lambda: G(1).fit(X, sample_weight=tiny)],
        "Complex `X`": [lambda: G(1).fit(X.astype(complex))],
        "Object array with non-numbers": [
            lambda: G(1).fit(np.array([[1, "a"], [2, 3]], dtype=object))],
        "A feature whose range exceeds": [lambda: G(1).fit(wide)],
        "Initial means (`means_init`, `scales_init`, `rates_init`) that span": [
            lambda: G(2, means_init=[[1e160, 0, 0], [0, 0, 0]]).fit(X)],
        "At predict time, data too far": [lambda: fitted.predict(far)],
        "`sample_weight` as an object array": [
            lambda: G(1).fit(X, sample_weight=np.array(["a"] + [1.0] * 119, dtype=object))],
        "`weights_init` not summing to 1": [lambda: G(2, weights_init=[0.3, 0.3]).fit(X)],
        "`means_init` of the wrong shape": [lambda: G(2, means_init=np.zeros((3, 3))).fit(X)],
        "`BayesianGaussianMixture` with a `weight_concentration_prior`": [
            lambda: B(3, weight_concentration_prior=1e-40).fit(f32)],
        "Two components that start alike": [
            lambda: G(3, means_init=[[1, 1, 1], [2, 2, 2], [1 + 1e-8, 1, 1]]).fit(f32)],
        "`weights_init`, `means_init`, `precisions_init`, `scales_init`, `rat": [
            lambda: G(2, precisions_init="eye").fit(X),
            lambda: G(2, means_init=np.zeros((2, 3), complex)).fit(X),
            lambda: G(2, means_init=masked).fit(X)],
        "float32 data with a user-given value": [
            lambda: E(1, scales_init=[[1e-46] * 3]).fit(np.abs(f32))],
        "`precisions_init` not symmetric": [lambda: G(2, precisions_init=asymmetric).fit(X)],
        "Different `n_features` at predict time": [lambda: fitted.predict(X[:, :2])],
        "Prediction before `fit`": [lambda: G(2).predict(X)],
        "`n_components` < 1": [lambda: G(0).fit(X), lambda: G(2.5).fit(X)],
        "`tol`, `reg_covar` negative": [lambda: G(1, reg_covar=np.inf).fit(X)],
        "`warm_start` or `accelerate` not a boolean": [lambda: G(1, warm_start="yes").fit(X)],
        "`random_state` negative": [lambda: G(1, random_state=-1).fit(X)],
        "`min_scale` or `min_rate` of 1": [lambda: E(1, min_scale=10).fit(np.abs(X))],
        "A Python int beyond float64's range": [lambda: G(1, reg_covar=10**400).fit(X)],
        "A string choice in the wrong case": [lambda: G(1, covariance_type="Full").fit(X)],
        "A pandas or Dask DataFrame column of strings": [
            lambda: G(1).fit(pd.DataFrame({"x": [1.0, 2, 3], "kind": ["a", "b", "c"]})),
            lambda: G(1).fit(pd.DataFrame({"x": [1.0, 2, 3],
                                           "visits": pd.array([1, None, 3], dtype="Int64")}))],
        "A DataFrame or Arrow table with repeated column names": [
            lambda: G(1).fit(pd.DataFrame(X, columns=["x", "x", "y"]))],
        "A dict, set, string or number where a list": [lambda: fastem.Chunks({"a": X})],
        '`Chunks("data.npy")`': [lambda: fastem.Chunks("data.npy")],
    }
    wrong = []
    for row, calls in cases.items():
        quotes = _quoted_errors("docs/reliability.md", "## Bad input", row)
        assert len(quotes) == len(calls), (row, quotes)
        for quote, call in zip(quotes, calls):
            with pytest.raises(Exception) as error:
                call()
            if not _says(error.value, quote):
                wrong.append(f"{row}: quoted {quote!r}, given {type(error.value).__name__}: "
                             f"{error.value}")
    assert not wrong, "\n".join(wrong)


def test_the_speed_up_of_onedal_answered_intel_is_that_of_its_table():
    """docs/performance.md's table of oneDAL with its check of the CPU's vendor answered
    Intel gives each full configuration's time in two runs, both ways; the text around it
    (performance.md, README.md, scripts/bench_vs_onedal.py) said the full iterations took
    0.55-0.85 of their time, 1.5-2x faster, where the table's runs give 0.46 (full D=2)
    to 0.88 (full D=16)."""
    with open(os.path.join(ROOT, "docs/performance.md")) as f:
        performance = f.read()
    section = performance[performance.index("**oneDAL at its best on an AMD CPU.**"):]
    ratios = []
    for row in re.findall(r"^\| full [^\n]*", section[:section.index("Answered")], re.M):
        cells = [c.strip() for c in row.strip("|").split("|")]
        as_runs, as_intel = ([float(v) for v in cells[k].split(", ")] for k in (1, 3))
        ratios += [b / a for a, b in zip(as_runs, as_intel)]
    assert len(ratios) == 8
    low, high = min(ratios), max(ratios)
    assert f"full iterations took {low:.2f}-{high:.2f} of their time" in " ".join(
        section.split())
    faster = f"{1 / high:.1f}-{1 / low:.1f}x"
    with open(os.path.join(ROOT, "README.md")) as f:
        assert f"its full iterations ran {faster} faster" in " ".join(f.read().split())
    with open(os.path.join(ROOT, "scripts/bench_vs_onedal.py")) as f:
        assert f"'full' iterations took {faster} as long" in " ".join(f.read().split())

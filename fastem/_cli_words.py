"""The words of the command line in the library's messages.

The estimators' warnings and errors name their Python parameters
(``max_iter=3``, ``reg_covar``) and Python code (``X.astype(np.float64)``),
which the Python API keeps. A user of ``fastem fit`` has options instead
(``--max-iter 3``, ``--reg-covar``, ``--dtype float64``): :func:`cli_words`
rewrites a message for the command that ran, at the command line's edge.

Only whole identifiers outside quotes are rewritten: a message quotes what
came from the user (a path, a column name) with repr quotes, and a column
named ``tol`` stays ``'tol'``. A parameter is named by the option of the
command whose ``dest`` it is, or that :data:`_OPTION_OF` gives for the names
that differ. ``name=value`` becomes ``--option value``; a bare name is
rewritten only where it cannot be an English word (it has a ``_``, or is
listed in :data:`_OPTION_OF`): ``missing`` alone is a word, ``missing='em'``
is ``--missing em``. A parameter or code that the command has no option for
is left as the library says it, and so is code: what a call's parentheses hold
(``set_params(missing='em')``) or a shape's names hold (``(n_samples, n_features)``).
"""

import bisect
import re
import shlex

__all__ = ["cli_words"]

# {Python name: dest of the option that sets it}, where the command line's name differs
# (``n_components`` is fit's dest, select's ``k``); a name here is rewritten also bare.
_OPTION_OF = {
    "n_components": "k",
    "random_state": "seed",
    "covariance_type": "covariance",
    "covariance_types": "covariance",
    "weight_concentration_prior_type": "bayesian",
    "tol": "tol",
}

# Python code with a command-line equivalent: (pattern, replacement, dest of the option
# it needs, or None), applied in this order to the text outside quotes, before names.
_CODE = (
    (r"fit it, or start partial_fit, on float64 data: X\.astype\(np\.float64\)",
     "--dtype float64", "dtype"),
    (r"\b(?:fit|select on) X\.astype\(np\.float64\)", "rerun with --dtype float64", "dtype"),
    (r"\bX\.astype\(np\.float64\)", "--dtype float64", "dtype"),
    # no option sets init_params: another start is another seed
    (r"\binit_params or random_state\b", "random_state", "seed"),
    (r" \(set_params\(random_state=\.\.\.\)\)", "", "seed"),
    (r"\bn_samples >= n_components\b", "as many data rows as components", None),
    # the command line weights every row 1
    (r"\bsample\(s\) of positive weight\b", "data row(s)", None),
    (r" to select_n_components\.", ".", None),
    (r"(?<![\w.])select_n_components\b(?!\()", "fastem select", None),
    (r"\bresult\.converged and the ", "The ", None),
    (r" of result\.table\b", " of the table", None),
)

_QUOTED = r"""(?<!\w)(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")(?!\w)"""
# a quoted text, else a name=value (value quoted, or up to a space or punctuation, not
# ending in a full stop), else a bare identifier that is not an attribute, a call, a
# part of an option (--max-iter), of a path or of a keyword argument it cannot rewrite
_TOKEN = re.compile(
    rf"(?P<quoted>{_QUOTED})"
    rf"|(?<![\w.\-/])(?P<name>[A-Za-z_]\w*)="
    rf"(?P<value>{_QUOTED}|[^\s,;()\[\]{{}}'\"]*[^\s,;()\[\]{{}}'\".])"
    r"|(?<![\w.\-/])(?P<word>[A-Za-z_]\w*)(?![\w(=/\-]|\.\w)"
)


def _options(parser):
    """{dest: (first option string, takes a value)} of ``parser``'s options."""
    return {action.dest: (action.option_strings[0], action.nargs != 0)
            for action in parser._actions if action.option_strings}


def _option(name, options):
    """The option string of the Python parameter ``name`` and whether it takes a value,
    or None when the command has none."""
    return options.get(name) or options.get(_OPTION_OF.get(name))


# a tuple of names, as a shape is given: (n_samples, n_features)
_NAMES_TUPLE = re.compile(r"\((?:[A-Za-z_]\w*, )+[A-Za-z_]\w*\)")
# an aside that gives the Python API's words beside the command line's
_PYTHON_ASIDE = re.compile(r"\bin Python\b|\bfastem\.\w")


def _code_spans(text):
    """The spans ``(start, end)`` of ``text`` (its quotes blanked) that are code: what the
    parentheses of a call hold (``np.asarray(x, dtype=float)``), of a tuple of names (a
    shape), or of an aside on the Python API (``(missing='em' in Python)``,
    ``(header=False in fastem.Chunks)``), not those of prose (``(tol=1e-08)``). A
    parenthesis left open holds the rest of the text. In one pass over ``text``: a
    message may list many thousands of names."""
    spans = [(m.start() + 1, m.end()) for m in _NAMES_TUPLE.finditer(text)]
    openings = []
    for i, character in enumerate(text):
        if character == "(":
            openings.append(i)
        elif character == ")" and openings:
            spans.extend(_code_between(text, openings.pop(), i))
    for opening in reversed(openings):
        spans.extend(_code_between(text, opening, len(text)))
    return spans


def _code_between(text, opening, closing):
    """``[(opening + 1, closing)]`` where the parentheses at ``opening`` and ``closing``
    hold code (see :func:`_code_spans`), else ``[]``."""
    call = opening > 0 and (text[opening - 1].isalnum() or text[opening - 1] in "_.")
    if call or _PYTHON_ASIDE.search(text, opening, closing):
        return [(opening + 1, closing)]
    return []


def _in_code(spans, position):
    """Whether ``position`` lies in one of the ``spans`` (starts, ends) that are code."""
    starts, ends = spans
    return bisect.bisect_right(starts, position) > bisect.bisect_right(ends, position)


def _rewrite(match, options, code):
    if match["quoted"] or _in_code(code, match.start()):
        return match[0]
    if match["name"]:
        found = _option(match["name"], options)
        if found is None:
            return match[0]
        option, takes_value = found
        value = match["value"]
        if value[0] in "'\"":
            value = shlex.quote(value[1:-1])
        if takes_value:
            return f"{option} {value}"
        return option if value == "True" else match[0]
    word = match["word"]
    if "_" not in word and word not in _OPTION_OF:  # may be a word of English
        return match[0]
    found = _option(word, options)
    return match[0] if found is None else found[0]


def cli_words(message, parser):
    """``message`` with the Python parameters and code that ``parser`` (a command's
    :class:`argparse.ArgumentParser`) has options for named by those options."""
    options = _options(parser)
    parts = re.split(f"({_QUOTED})", message)
    for i in range(0, len(parts), 2):  # the text outside quotes
        for pattern, replacement, needs in _CODE:
            if needs is None or needs in options:
                parts[i] = re.sub(pattern, replacement, parts[i])
    text = "".join(parts)
    masked = re.sub(_QUOTED, lambda match: "x" * len(match[0]), text)
    spans = _code_spans(masked)
    code = (sorted(start for start, _ in spans), sorted(end for _, end in spans))
    return _TOKEN.sub(lambda match: _rewrite(match, options, code), text)

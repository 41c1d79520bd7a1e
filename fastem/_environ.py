"""fastem's on/off switches in the environment (``FASTEM_COMPILE_AHEAD``, ``FASTEM_COMPILE_NOTICE``)."""

import os
import warnings

__all__ = ["switched_on"]

# Spellings of a switch, compared stripped and case-insensitive. Unset or empty, a switch is on.
_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")


def switched_on(name):
    """Whether the switch ``name`` of the environment is on (bool).

    Off for ``0``, ``false``, ``no`` and ``off``; on for ``1``, ``true``,
    ``yes``, ``on``, an empty value and no variable, each compared stripped
    and case-insensitive. Any other value is taken as on, with a
    RuntimeWarning that names the variable, its value and the spellings.
    """
    value = os.environ.get(name, "")
    word = value.strip().lower()
    if word in _OFF:
        return False
    if word and word not in _ON:
        warnings.warn(
            f"{name}={value!r} is neither on ({', '.join(_ON)}) nor off ({', '.join(_OFF)}); "
            f"taken as on. Set {name}=0 to turn it off.",
            RuntimeWarning, stacklevel=2,
        )
    return True

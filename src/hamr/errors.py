"""The errors that are the input's fault.

:class:`InputError` is the base of every error a user can cause with a file, a setting or an option: the data
(:class:`hamr.data.DataError`), a ``key=value`` option (:class:`hamr.options.OptionError`), a config file, a bench
protocol, a model folder, ``hamr compare``'s arguments. :class:`SettingError` is a run setting or a method argument
that cannot be used (``RunConfig``, ``HAMRArguments`` ...). Both are ``ValueError`` subclasses, so code that
catches ``ValueError`` keeps working.

The command line prints these as one ``error: ...`` line (exit code 2) and shows their traceback only with
``hamr --debug``. Any other exception, a plain ``ValueError`` from inside hamr, torch or numpy included, is not the
input's fault as far as hamr knows: it is shown with its traceback (exit code 1), so that a bug is never reported as
a bad input.
"""

from __future__ import annotations


class InputError(ValueError):
    """The input's fault (a file, a setting, an option); the message names it and what was expected."""


class SettingError(InputError):
    """A run setting or method argument that cannot be used; the message names the field and what it must be."""


def print_error(console, exc: BaseException) -> None:
    """The command line's one ``error: ...`` line on ``console`` (a ``rich`` Console): the message as written (rich
    markup in it is not interpreted, so ``[...]`` in a path stays) and never hard-wrapped at the terminal's width, so a
    file name or a quoted column name is not split over two lines."""
    from rich.markup import escape

    console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)

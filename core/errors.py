"""The project's own error types.

``InputError`` means "the user's input is wrong": the CLI turns it into exit
status 2 with one line on stderr, the API into a 4xx JSON body, the pages into
a visible alert. Anything else escaping is a bug.
"""

__all__ = ["InputError", "NotFittedError"]


class InputError(ValueError):
    """Bad user input (file, parameter, id). The message names the problem and the fix."""


class NotFittedError(RuntimeError):
    """``predict`` was called before ``fit``."""

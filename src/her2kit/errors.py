"""The one error tree of her2kit.

Every error her2kit raises on purpose derives from :class:`Her2kitError`, so a
caller (the CLI, the web service, a user's script) can catch one class and
print one line. The message is that line: it names the field or argument, what
was expected and what was received.

::

    Her2kitError
    ├── Her2kitInputError (also ValueError)   bad input: counts, percentages, JSON, units
    │   └── ImageInputError                   unreadable, truncated, wrong channels, too large
    ├── GuidelineError                        a rule set asked for that does not exist
    ├── OutputError                           a result could not be written
    └── ServiceUnavailableError               an outside service (ClinicalTrials.gov) gave
                                              no usable answer: not bad input
"""

from __future__ import annotations

__all__ = [
    "GuidelineError",
    "Her2kitError",
    "Her2kitInputError",
    "ImageInputError",
    "OutputError",
    "ServiceUnavailableError",
]


class Her2kitError(Exception):
    """Base of every error her2kit raises on purpose."""


class Her2kitInputError(Her2kitError, ValueError):
    """Input that her2kit refuses: the message names the field and the problem.

    Parameters
    ----------
    message : str
        One line, without a trailing period, naming the problem.
    field : str, optional
        Dotted path of the offending input field (``"ish.nuclei[3][1]"``).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class ImageInputError(Her2kitInputError):
    """An image that cannot be used: unreadable, truncated, wrong shape or too large."""


class GuidelineError(Her2kitError, ValueError):
    """A guideline rule set that her2kit does not know."""


class OutputError(Her2kitError, OSError):
    """A result that could not be written; nothing partial is left behind."""


class ServiceUnavailableError(Her2kitError):
    """An outside service gave no usable answer (offline, timeout, malformed reply)."""

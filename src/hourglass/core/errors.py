"""Errors a user can cause and fix. The CLI prints them as one line and exits 2."""


class UserError(Exception):
    """Bad input or configuration: the message says what is wrong and how to fix it."""


class DivergedError(UserError):
    """Training produced a non-finite loss; the run keeps its last good checkpoint."""

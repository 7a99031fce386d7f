"""Errors whose message is for the user: the CLI prints them without a stack trace."""


class UserError(Exception):
    """Something the user can act on (bad file, missing package, unknown layer)."""


class LoadError(UserError):
    """A load was refused; the published layer is unchanged."""

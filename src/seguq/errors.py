"""The one exception type that reaches the user as a one-line message."""


class SeguqError(Exception):
    """Bad input or a refused operation.

    The message is one line that names the file, option or value and says what is wrong;
    the command line prints it without a traceback and exits non-zero.
    """

"""The one exception type users see.

Anything raised as `SdanncError` reaches the user as a single line and exit code 2 (see cli.py);
anything else is a bug in sdannc and keeps its traceback.
"""


class SdanncError(Exception):
    """A problem with the user's input: a file, a node, a layer or a resource.

    The message names what is wrong and, where there is one, what to do about it.
    """

    exit_code = 2

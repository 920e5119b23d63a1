"""Errors raised for bad input: one line, naming the file and what was expected."""


class MindpainError(Exception):
    """An input problem the user can fix; the CLI prints it as one line and exits 2.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    path : str or path-like, optional
        The file or folder the problem is about; it is put first in the message.
    """

    def __init__(self, message, path=None):
        self.path = None if path is None else str(path)
        text = " ".join(str(message).split())
        super().__init__(f"{self.path}: {text}" if self.path else text)

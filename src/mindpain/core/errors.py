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
        shown = None if self.path is None else visible(self.path)
        super().__init__(f"{shown}: {text}" if shown else text)


def visible(text: str) -> str:
    r"""Return ``text`` with invisible characters escaped (``\ufeff``, ``\t``, ``\n``).

    A name in a message is then what the file system holds, even where a byte-order mark,
    a tab or a zero-width space would not show.

    Examples
    --------
    >>> visible("\ufeffmaps.txt")
    '\\ufeffmaps.txt'
    >>> visible("plain name.nii.gz")
    'plain name.nii.gz'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)

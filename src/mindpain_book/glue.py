"""What the chapters glue into their prose: short Markdown texts.

Every number and sentence the prose shows comes from computation through myst-nb's ``glue``;
:func:`glue_md` is the chapters' one way to glue a piece of text shown with ``{glue:md}``
(a plain value is glued with ``myst_nb.glue`` directly).
"""

from __future__ import annotations


def glue_md(key: str, text: str) -> None:
    """Glue ``text`` under ``key`` as Markdown, without showing it in the cell's output.

    Parameters
    ----------
    key : str
        Name the prose refers to, as in ``{glue:md}`key```.
    text : str
        Markdown (inline markup and links render in the sentence it is glued into).
    """
    from IPython.display import Markdown
    from myst_nb import glue

    glue(key, Markdown(text), display=False)

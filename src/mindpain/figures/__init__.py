"""The plotting layer: figure functions take results and return a matplotlib Figure.

One module per chapter (:mod:`~mindpain.figures.data`, :mod:`~mindpain.figures.first_level`,
:mod:`~mindpain.figures.signatures`, :mod:`~mindpain.figures.trial`,
:mod:`~mindpain.figures.meditators`, :mod:`~mindpain.figures.design`), the offline brain viewer
(:mod:`~mindpain.figures.viewer`) and the one shared style (:mod:`~mindpain.figures.style`).
Nothing here computes a result that a table reports.
"""

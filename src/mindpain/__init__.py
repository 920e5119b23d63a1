"""mindpain: pain signatures in mindfulness training, re-created end to end.

The package carries one module per pipeline stage; data flow one way::

    twin / BIDS  ->  first_level  ->  scoring  ->  trial / meditators  ->  figures
"""

__version__ = "0.1.0"

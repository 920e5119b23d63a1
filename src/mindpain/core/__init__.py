"""Foundations every stage stands on: vocabulary, configuration, errors, files and images.

Nothing here imports a pipeline stage. Import the module you need, for example
``from mindpain.core.errors import MindpainError``:

* :mod:`~mindpain.core.vocabulary`: the study's words (arms, sessions, outcomes, contrasts),
  each typed once;
* :mod:`~mindpain.core.config`: the one configuration object, resolved from arguments and
  ``MINDPAIN_*`` settings;
* :mod:`~mindpain.core.errors`: the one-line errors the commands print;
* :mod:`~mindpain.core.io`: tables and JSON written atomically, read with one ``n/a`` policy;
* :mod:`~mindpain.core.folders`: output folders the package owns (markers, locks);
* :mod:`~mindpain.core.checksums`: file checksums and the code fingerprints of results;
* :mod:`~mindpain.core.images`: the header check every image read goes through;
* :mod:`~mindpain.core.datasets`: real data the package can fetch (pinned, sha256-checked).
"""

__all__ = ["checksums", "config", "datasets", "errors", "folders", "images", "io",
           "vocabulary"]

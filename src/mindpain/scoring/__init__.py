"""Signature responses of contrast maps (CANlab semantics), many maps x many signatures.

The rules (``STUDY.md``, CANlab ``apply_mask(..., 'pattern_expression')``):

* **missing data, image by image**: a voxel where the *image* is NaN or exactly 0 has no
  data in that image and enters nothing for that image;
* **the pattern**: voxels where the *weights* are 0 or NaN are outside the pattern and
  enter no sum, norm or correlation;
* ``dot``: sum over v of w_v * x_v over the pattern voxels with data;
* ``cosine``: dot / (‖x‖ · ‖w restricted to the voxels with data in that image‖),
  0 when either norm is 0;
* ``correlation``: Pearson r between x and w over the pattern voxels with data in that
  image (NaN when fewer than 2 voxels or a constant);
* **local (subregion) scores**: the same metric restricted to each region of a signature
  (``region`` column; ``"whole"`` = the whole pattern); region dot products add up to the
  whole.
* **spaces**: by default the *weights* are resampled to each map's grid (linear, NaN→0),
  as CANlab does; ``resample="data-to-weights"`` resamples each map to the weights' grid
  instead (then 0 produced by interpolation at the edge of the data counts as missing).
  Region weights are resampled region by region, so they still add up to the whole.

* **no data in the pattern**: a map whose data (non-zero, finite voxels) all lie outside a
  signature's pattern (or a region's) has no response to it: ``response`` is n/a,
  ``n_voxels`` is 0, and a one-line :class:`NoPatternDataWarning` names the maps.
* **orientation**: a NIfTI file whose sform and qform codes are both 0 has no position in
  the brain; it is refused (one-line error naming the file).

Every row is keyed by the map's BIDS entities (one column per entity found in the file
names: ``participant_id`` (sub), ``session`` (ses), ``task``, ``acq``, ``run``,
``contrast``, ``stat``, ...) and its absolute ``path``, so no two rows collide.

One module per concern: :mod:`~mindpain.scoring.maps` (reading maps, their BIDS names and
the key columns), :mod:`~mindpain.scoring.plan` (signature columns and their weights on a
grid), :mod:`~mindpain.scoring.metrics` (the metrics on a plan's voxels:
:func:`pattern_response`), :mod:`~mindpain.scoring.engine` (the chunked engine:
:func:`score_maps`), :mod:`~mindpain.scoring.outputs` (sidecar, safe writing and resumable
batches: :func:`score_to_file`) and :mod:`~mindpain.scoring.cli` (map lists, BIDS
derivatives and ``mindpain score``). The names below are importable from
``mindpain.scoring`` itself.
"""

from mindpain.scoring.cli import find_statmaps, parse_entity_filters, read_map_list, score_cli
from mindpain.scoring.engine import (
    DEFAULT_CHUNK,
    RESAMPLE_DIRECTIONS,
    BadMapsError,
    NoPatternDataWarning,
    ResamplingWarning,
    score_image,
    score_maps,
)
from mindpain.scoring.maps import (
    BIDS_ENTITY_ORDER,
    COLUMN_DESCRIPTIONS,
    COLUMNS,
    entity_columns,
    map_stem,
    parse_entities,
    read_map,
)
from mindpain.scoring.metrics import pattern_response
from mindpain.scoring.outputs import (
    GENERATED_BY,
    RESUME_BLOCK,
    check_output,
    is_scores_sidecar,
    score_to_file,
    settings_sidecar,
    write_scores,
)
from mindpain.scoring.plan import WHOLE

__all__ = ["BIDS_ENTITY_ORDER", "COLUMNS", "COLUMN_DESCRIPTIONS", "DEFAULT_CHUNK",
           "GENERATED_BY", "RESAMPLE_DIRECTIONS", "RESUME_BLOCK", "WHOLE", "BadMapsError",
           "NoPatternDataWarning", "ResamplingWarning", "check_output", "entity_columns",
           "find_statmaps", "is_scores_sidecar", "map_stem", "parse_entities",
           "parse_entity_filters", "pattern_response", "read_map", "read_map_list",
           "score_cli", "score_image", "score_maps", "score_to_file", "settings_sidecar",
           "write_scores"]

"""Describe a BIDS dataset of the heat task: ratings per session, one run, the sample.

The chapters' summaries of what :mod:`mindpain.bids` (the package's one BIDS reader) reads:
mean ratings per participant and session (:func:`session_ratings`), one run's events and
design in numbers (:func:`select_run`, :func:`run_summary`), the participant flow and the
demographics table, one voxel's signal with the run's design fitted to it
(:func:`voxel_timeseries`), and where the twin's parameters come from
(:func:`status_counts`). They work the same on the simulated twin and on real data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mindpain.bids import (
    EVENT_COLUMNS,
    RATING_COLUMNS,
    check_columns,
    load_bold,
    load_run_events,
    run_repetition_time,
)
from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import ARMS, SESSIONS


def session_ratings(events: pd.DataFrame, trial_type: str = "hot") -> pd.DataFrame:
    """Mean intensity and unpleasantness ratings per participant and session.

    Parameters
    ----------
    events : pandas.DataFrame
        Long events table from :func:`load_events`.
    trial_type : str
        Which stimuli to average (``"hot"`` by default).

    Returns
    -------
    pandas.DataFrame
        ``participant_id, session, intensity, unpleasantness, n_trials``; the ratings are
        means over the rated trials of all runs of the session (0-100 scale).

    Examples
    --------
    >>> events = pd.DataFrame({"participant_id": "sub-01", "session": "pre", "run": 1,
    ...                        "onset": [0.0, 20.0], "duration": 10.0,
    ...                        "trial_type": ["hot", "hot"], "intensity_rating": [40.0, 60.0],
    ...                        "unpleasantness_rating": [30.0, 50.0]})
    >>> row = session_ratings(events).iloc[0]
    >>> float(row["intensity"]), float(row["unpleasantness"]), int(row["n_trials"])
    (50.0, 40.0, 2)
    """
    check_columns(events, ("participant_id", "session", "trial_type", *RATING_COLUMNS),
                   "the events table")
    rows = events[events["trial_type"] == trial_type]
    if rows.empty:
        raise MindpainError(f"the events table has no {trial_type!r} trials; expected "
                            f"trial_type values such as hot, warm, rating")
    out = (rows.groupby(["participant_id", "session"], sort=False)
           .agg(intensity=("intensity_rating", "mean"),
                unpleasantness=("unpleasantness_rating", "mean"),
                n_trials=("intensity_rating", "count"))
           .reset_index())
    order = {s: i for i, s in enumerate(SESSIONS)}
    out = out.sort_values(["participant_id", "session"],
                          key=lambda s: s.map(order).fillna(len(order)) if s.name == "session"
                          else s)
    return out.reset_index(drop=True)


def select_run(events: pd.DataFrame, participant_id: str, session: str, run: int) -> pd.DataFrame:
    """Return the events of one run from the long table of :func:`load_events`.

    Raises
    ------
    mindpain.core.errors.MindpainError
        If the table has no events for that run.
    """
    check_columns(events, ("participant_id", "session", "run"), "the events table")
    sel = ((events["participant_id"] == participant_id) & (events["session"] == session)
           & (events["run"] == int(run)))
    if not sel.any():
        raise MindpainError(f"no events for {participant_id}, session {session}, run {run}")
    return events.loc[sel].drop(columns=["participant_id", "session", "run"]).reset_index(
        drop=True)


def run_summary(events_one_run: pd.DataFrame, tr: float, n_volumes: int) -> dict:
    """Describe one run's design in numbers (Python ints and floats, ready to glue).

    Parameters
    ----------
    events_one_run : pandas.DataFrame
        Events of one run (from :func:`select_run`).
    tr : float
        Repetition time (s).
    n_volumes : int
        Number of volumes of the run.

    Returns
    -------
    dict
        ``tr, n_volumes, minutes, n_hot, n_warm, stimulus_s, rating_s`` and, when the events
        have a ``temperature`` column, ``hot_temperature`` and ``warm_temperature`` (means).

    Examples
    --------
    >>> ev = pd.DataFrame({"onset": [0.0, 12.0], "duration": [10.0, 6.0],
    ...                    "trial_type": ["hot", "rating"]})
    >>> run_summary(ev, tr=2.0, n_volumes=30)["minutes"]
    1.0
    """
    check_columns(events_one_run, EVENT_COLUMNS, "the events of one run")
    kind = events_one_run["trial_type"]
    stim = events_one_run.loc[kind.isin(["hot", "warm"]), "duration"]
    rate = events_one_run.loc[kind == "rating", "duration"]
    out = {"tr": float(tr), "n_volumes": int(n_volumes), "minutes": float(n_volumes * tr / 60),
           "n_hot": int((kind == "hot").sum()), "n_warm": int((kind == "warm").sum()),
           "stimulus_s": float(stim.mean()) if len(stim) else float("nan"),
           "rating_s": float(rate.mean()) if len(rate) else float("nan")}
    if "temperature" in events_one_run:
        for name in ("hot", "warm"):
            out[f"{name}_temperature"] = float(events_one_run.loc[kind == name,
                                                                  "temperature"].mean())
    return out


def participant_flow(participants: pd.DataFrame) -> dict:
    """Count participants for a participant-flow (CONSORT-style) diagram.

    Parameters
    ----------
    participants : pandas.DataFrame
        Table from :func:`load_participants`.

    Returns
    -------
    dict
        ``baseline`` (meditation-naive participants scanned at baseline), ``randomized``,
        ``completed`` and ``baseline_only`` (dicts arm -> count), ``n_completed`` and
        ``n_baseline_only`` (totals over arms) and ``ltm`` (long-term meditators). All
        values are Python ints.

    Examples
    --------
    >>> table = pd.DataFrame({"participant_id": ["sub-1", "sub-2", "sub-3"],
    ...                       "group": ["MBSR", "MBSR", "LTM"],
    ...                       "completed_post": [True, False, False]})
    >>> flow = participant_flow(table)
    >>> flow["baseline"], flow["completed"]["MBSR"], flow["ltm"]
    (2, 1, 1)
    """
    check_columns(participants, ("group", "completed_post"), "the participants table")
    naive = participants[participants["group"].isin(ARMS)]
    done = naive["completed_post"].astype(bool)
    randomized = {a: int((naive["group"] == a).sum()) for a in ARMS}
    completed = {a: int(((naive["group"] == a) & done).sum()) for a in ARMS}
    baseline_only = {a: randomized[a] - completed[a] for a in ARMS}
    return {"baseline": len(naive), "randomized": randomized, "completed": completed,
            "baseline_only": baseline_only, "n_completed": sum(completed.values()),
            "n_baseline_only": sum(baseline_only.values()),
            "ltm": int((participants["group"] == "LTM").sum())}


def demographics_table(participants: pd.DataFrame, formatted: bool = True) -> pd.DataFrame:
    """Sample size, age, sex and completion per group (and all naive participants).

    Parameters
    ----------
    participants : pandas.DataFrame
        Table from :func:`load_participants`; ``age`` and ``sex`` are optional (their
        cells are then empty).
    formatted : bool
        ``True``: text cells ready to show (``age`` as mean ± SD). ``False``: numbers,
        columns ``n, age_mean, age_sd, female_percent, n_completed_post``.

    Returns
    -------
    pandas.DataFrame
        One row per group present (MBSR, HEP, WL, all naive, LTM). Long-term meditators
        have one session, so their completion cell is empty.

    Examples
    --------
    >>> table = pd.DataFrame({"participant_id": ["sub-1", "sub-2"], "group": ["HEP", "HEP"],
    ...                       "completed_post": [True, False], "age": [40, 50],
    ...                       "sex": ["F", "M"]})
    >>> demographics_table(table, formatted=False).loc["HEP", "female_percent"]
    np.float64(50.0)
    """
    check_columns(participants, ("group", "completed_post"), "the participants table")
    age = (pd.to_numeric(participants["age"], errors="coerce") if "age" in participants
           else pd.Series(np.nan, index=participants.index))
    if "sex" in participants:
        sex = participants["sex"].astype(str).str.strip().str.upper().str[:1]
        female = sex.where(sex.isin(["F", "M"])).eq("F").where(sex.isin(["F", "M"]))
    else:
        female = pd.Series(np.nan, index=participants.index)
    subsets = {a: participants["group"] == a for a in ARMS}
    subsets["All naive"] = participants["group"].isin(ARMS)
    subsets["LTM"] = participants["group"] == "LTM"
    rows = {}
    for name, sel in subsets.items():
        if not sel.any():
            continue
        post = (int(participants.loc[sel, "completed_post"].astype(bool).sum())
                if name != "LTM" else np.nan)
        rows[name] = {"n": int(sel.sum()), "age_mean": age[sel].mean(),
                      "age_sd": age[sel].std(ddof=1), "female_percent": 100 * female[sel].mean(),
                      "n_completed_post": post}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "group"
    if not formatted:
        return table

    def fmt(value, spec):
        return "" if pd.isna(value) else format(value, spec)

    shown = pd.DataFrame(index=table.index.rename(None))
    shown["N"] = table["n"].astype(int)
    shown["Age, years (mean ± SD)"] = [
        "" if pd.isna(m) else f"{m:.1f} ± {fmt(s, '.1f') or 'n/a'}"
        for m, s in zip(table["age_mean"], table["age_sd"], strict=True)]
    shown["Female, %"] = [fmt(v, ".0f") for v in table["female_percent"]]
    shown["Pre and post scans, n"] = [fmt(v, ".0f") or "one session"
                                      for v in table["n_completed_post"]]
    return shown


# ---------------------------------------------------------------- one voxel of one run
#: Default voxel of :func:`voxel_timeseries`: right anterior insula (NPS region rIns).
DEFAULT_VOXEL_MM = (40.0, 8.0, 0.0)


def as_bold_image(bold_img):
    """Return a 4D BOLD image from a path or an image; a one-line error otherwise.

    Parameters
    ----------
    bold_img : str, path-like or nibabel image
        A BOLD run.

    Returns
    -------
    nibabel.nifti1.Nifti1Image
    """
    from nilearn.image import load_img

    img = load_img(bold_img)
    if img.ndim != 4:
        raise MindpainError(f"expected a 4D BOLD image, got {img.ndim}D with shape {img.shape}",
                            bold_img if not hasattr(bold_img, "shape") else None)
    return img


def nearest_brain_voxel(bold_img, xyz_mm=DEFAULT_VOXEL_MM):
    """Find the in-brain voxel nearest a world coordinate.

    A voxel is in the brain when its mean signal over time is not zero (the twin and
    skull-stripped data are zero outside the brain).

    Parameters
    ----------
    bold_img : str, path-like or nibabel image
        4D BOLD run.
    xyz_mm : sequence of 3 floats
        Target coordinate in the image's world space (mm).

    Returns
    -------
    ijk : tuple of int
        Voxel indices.
    xyz : tuple of float
        The voxel centre's world coordinate (mm).
    """
    img = as_bold_image(bold_img)
    mean = np.asarray(img.dataobj, dtype=np.float32).mean(axis=-1)
    inside = np.argwhere(mean != 0)
    if inside.size == 0:
        raise MindpainError("the image is zero everywhere; expected a BOLD run")
    world = inside @ img.affine[:3, :3].T + img.affine[:3, 3]
    best = int(np.argmin(((world - np.asarray(xyz_mm, float)) ** 2).sum(1)))
    return tuple(int(v) for v in inside[best]), tuple(float(v) for v in world[best])


def voxel_timeseries(bold_img, events: pd.DataFrame, tr: float, voxel_mm=DEFAULT_VOXEL_MM,
                     high_pass: float = 1 / 128) -> dict:
    """Fit a run's HRF-convolved design to one voxel.

    The data of :func:`mindpain.figures.data.plot_voxel_timeseries`. The design (nilearn
    ``make_first_level_design_matrix``: Glover HRF for each ``trial_type``, cosine drifts
    above ``high_pass``, a constant) is fitted to the voxel's percent signal change by
    least squares.

    Parameters
    ----------
    bold_img : str, path-like or nibabel image
        4D BOLD run.
    events : pandas.DataFrame
        Events of the same run (``onset, duration, trial_type``).
    tr : float
        Repetition time (s); volume *k* is acquired at ``k * tr``.
    voxel_mm : sequence of 3 floats
        Target coordinate (mm); the nearest in-brain voxel is used. Default: the right
        anterior insula (40, 8, 0), a positive region of the NPS.
    high_pass : float
        High-pass cut-off of the cosine drift regressors (Hz).

    Returns
    -------
    dict
        ``ijk`` and ``xyz`` (the voxel), ``target`` (``voxel_mm``), ``frame_times`` (s),
        ``percent`` (signal change, %), ``fit`` (fitted values, %), ``design`` (the design
        matrix) and ``betas`` (column -> fitted amplitude, Python floats).
    """
    from nilearn.glm.first_level import make_first_level_design_matrix

    for col in ("onset", "duration", "trial_type"):
        if col not in events:
            raise MindpainError(f"events lack column {col!r}; expected onset, duration, "
                                "trial_type")
    img = as_bold_image(bold_img)
    ijk, xyz = nearest_brain_voxel(img, voxel_mm)
    y = np.asarray(img.dataobj[ijk], dtype=float)
    frame_times = np.arange(len(y)) * tr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = make_first_level_design_matrix(
            frame_times, events[["onset", "duration", "trial_type"]], hrf_model="glover",
            drift_model="cosine", high_pass=high_pass)
    percent, fitted, beta = percent_signal_fit(y, X)
    return {"ijk": ijk, "xyz": xyz, "target": tuple(float(v) for v in voxel_mm),
            "frame_times": frame_times, "percent": percent, "fit": fitted,
            "design": X, "betas": {c: float(b) for c, b in zip(X.columns, beta, strict=True)}}


def percent_signal_fit(signal, design) -> tuple:
    """Fit ``design`` by least squares to ``signal`` in percent of its mean.

    The scaling the first level uses (percent signal change); ordinary least squares, so
    the fit differs only slightly from the first level's AR(1) estimate.

    Parameters
    ----------
    signal : array_like
        One voxel's time series (n volumes).
    design : array_like or pandas.DataFrame
        Design matrix (n volumes x regressors).

    Returns
    -------
    tuple
        ``(percent, fitted, beta)``: the signal in percent signal change, the fitted
        values and the regressors' amplitudes.

    Examples
    --------
    >>> percent, fitted, beta = percent_signal_fit([99.0, 101.0, 99.0, 101.0],
    ...                                            [[1, -1], [1, 1], [1, -1], [1, 1]])
    >>> [round(float(b), 6) for b in beta]
    [0.0, 1.0]
    """
    y = np.asarray(signal, dtype=float)
    x = np.asarray(design, dtype=float)
    percent = 100.0 * (y / y.mean() - 1.0)
    beta, *_ = np.linalg.lstsq(x, percent, rcond=None)
    return percent, x @ beta, beta


def voxel_fit(spec, design, coords_mm) -> dict:
    """Observed and fitted signal of one run at the voxel nearest ``coords_mm``.

    The run's own first-level design matrix fitted to the voxel by
    :func:`percent_signal_fit` (chapter 2; chapter 1's :func:`voxel_timeseries` builds the
    design from the events instead).

    Parameters
    ----------
    spec : mindpain.bids.RunSpec
        The run.
    design : pandas.DataFrame
        Its design matrix (``*_desc-design_matrix.tsv``).
    coords_mm : sequence of float
        Coordinates (mm) in the run's space; the voxel whose centre is nearest is used.

    Returns
    -------
    dict
        ``time`` (s), ``observed`` and ``fitted`` (percent signal change), ``events``,
        ``coords`` (mm of the voxel) and ``r2``.
    """
    img = load_bold(spec.bold)
    tr = run_repetition_time(spec)
    events = load_run_events(spec.events, img.shape[3] * tr, renamed=spec.trial_types)
    ijk = np.rint(np.linalg.solve(img.affine, np.r_[coords_mm, 1])[:3]).astype(int)
    observed, fitted, _ = percent_signal_fit(img.dataobj[ijk[0], ijk[1], ijk[2], :], design)
    r2 = 1 - np.sum((observed - fitted) ** 2) / np.sum((observed - observed.mean()) ** 2)
    return {"time": np.arange(len(observed)) * tr, "observed": observed, "fitted": fitted,
            "events": events, "coords": (img.affine @ np.r_[ijk, 1])[:3], "r2": float(r2)}


# ---------------------------------------------------------------- the twin's parameters
def check_parameter_table(parameters_table: pd.DataFrame, columns) -> None:
    """Raise a one-line error unless the twin's parameter table has ``columns``.

    Parameters
    ----------
    parameters_table : pandas.DataFrame
        ``mindpain.twin.params.load_parameters(preset).table()``.
    columns : sequence of str
        Columns the caller needs (checked in this order).

    Raises
    ------
    mindpain.core.errors.MindpainError
        Naming the first missing column.
    """
    for col in columns:
        if col not in parameters_table:
            raise MindpainError(f"parameter table lacks column {col!r}; expected "
                                "load_parameters(preset).table()")


def status_counts(parameters_table: pd.DataFrame) -> pd.DataFrame:
    """Count the twin's parameters by section and status.

    Parameters
    ----------
    parameters_table : pandas.DataFrame
        ``mindpain.twin.params.load_parameters(preset).table()`` (columns ``section, status``).

    Returns
    -------
    pandas.DataFrame
        Sections (in file order) by statuses (reported, derived, context, assumed), ints,
        with a final ``total`` row.

    Examples
    --------
    >>> table = pd.DataFrame({"section": ["design", "design", "task"],
    ...                       "status": ["reported", "assumed", "assumed"]})
    >>> status_counts(table).loc["total"].tolist()
    [1, 0, 0, 2]
    """
    from mindpain.core.vocabulary import PARAMETER_STATUSES as STATUSES

    check_parameter_table(parameters_table, ("section", "status"))
    sections = list(dict.fromkeys(parameters_table["section"]))
    counts = (pd.crosstab(parameters_table["section"], parameters_table["status"])
              .reindex(index=sections, columns=list(STATUSES), fill_value=0).astype(int))
    counts.loc["total"] = counts.sum()
    counts.columns.name = None
    return counts

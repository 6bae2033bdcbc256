"""Snakemake adapter: pseudo-positive windows for one relabel round."""

from sedcycle.steps import log_to
from sedcycle.steps.training import pseudo_labels

sm = snakemake  # noqa: F821 - injected by the script directive
with log_to(sm.log[0]):
    params = dict(sm.params)
    # relabel.pseudo_target_precision: the threshold param holds it, and the tp/fp tables and
    # train features to calibrate on are inputs
    calibration = {k: sm.input[k] for k in ("tp", "fp", "features") if k in sm.input.keys()}
    if isinstance(params["threshold"], dict):
        calibration.update(params["threshold"])
        params["threshold"] = calibration.pop("default")
    pseudo_labels(
        list(sm.input.predictions),
        sm.output[0],
        folds_csv=sm.input.folds,
        **calibration,
        **params,
    )

# Detections (target `detections`, not in `all`; docs/detections.md): the settings, checked
# when the Snakefile is read, and the per-species thresholds tables detect_events reads.

DETECTIONS = config["detections"]
if DETECTIONS["stop_threshold"] > DETECTIONS["start_threshold"]:
    raise ValueError(
        f"config detections.stop_threshold {DETECTIONS['stop_threshold']} is above "
        f"detections.start_threshold {DETECTIONS['start_threshold']}: an event goes on while "
        "its score stays >= the stop threshold, so it must be <= the start threshold"
    )


def detection_thresholds(stage):
    """The per-species thresholds tables detect_events reads for ``stage``, in order (a later
    one overrides an earlier one's species): config detections.thresholds; else with review
    verdicts (rules/review.smk) the start thresholds fitted to them; or none."""
    if DETECTIONS["thresholds"]:
        return [DETECTIONS["thresholds"]]
    return ["review/detection_thresholds.csv"] if VERDICTS else []

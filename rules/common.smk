# Helper functions for the .smk files: stage names, per-round and training settings.


def round_config(round_number):
    """relabel settings of one round: the defaults, then that round's overrides."""
    overrides = config["relabel"].get("rounds", {})
    merged = {
        k: v for k, v in config["relabel"].items() if k not in ("rounds", "n_rounds")
    }
    merged.update(overrides.get(round_number, overrides.get(str(round_number), {})))
    return merged


def previous_stage(round_number):
    round_number = int(round_number)
    return "stage1" if round_number == 1 else f"round{round_number - 1}"


def model_settings():
    model = config["model"]
    return {
        "backbone": model["backbone"],
        "pretrained": model["pretrained"],
        "pretrained_path": model["pretrained_path"],
        "amp": model["amp"],
        "channels_last": model["channels_last"],
        "device": model["device"],
        "n_species": N_SPECIES,
        "window": config["windows"]["window"],
    }


def stage1_settings():
    stage1 = config["stage1"]
    return {
        **model_settings(),
        "loss": "clipwise",
        "epochs": stage1["epochs"],
        "batch_size": stage1["batch_size"],
        "lr": stage1["lr"],
        "fp_fraction": stage1["fp_fraction"],
        "seed": stage1["seed"],
    }


def round_settings(round_number):
    settings = round_config(round_number)
    return {
        **model_settings(),
        "loss": "masked",
        **{
            key: settings[key]
            for key in (
                "epochs",
                "batch_size",
                "lr",
                "fp_fraction",
                "labelled_crop_prob",
                "scale_positives",
                "seed",
            )
        },
    }


def ensemble_stages():
    stages = [STAGES[-1] if s == "last" else s for s in config["ensemble"]["stages"]]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ValueError(
            f"config ensemble.stages names {unknown}, but this run has only {STAGES} "
            f"(relabel.n_rounds = {N_ROUNDS})"
        )
    return stages

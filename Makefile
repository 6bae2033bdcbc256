# sedcycle: `make demo` sets up .venv and runs the synthetic demo; `make test` sets up and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: setup demo test lint format bench quality quality-replicate quality-fixes quality-soft-seeds quality-mixup quality-mixup-seeds quality-one-tp clean-results setup-cluster test-cluster

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# .venv plus the SLURM and cluster-generic executor plugins (requirements-cluster.lock), in a
# venv of its own that sees .venv's packages: installed in .venv, the slurm plugin would add
# about 10 s to every snakemake call on a machine with sbatch but no reachable controller.
CLUSTER_VENV := .venv-cluster

setup-cluster: $(CLUSTER_VENV)/.installed

$(CLUSTER_VENV)/.installed: $(VENV)/.installed requirements-cluster.lock
	$(BIN)/python -m venv --without-pip $(CLUSTER_VENV)  # pip, setuptools: .venv's
	$(CLUSTER_VENV)/bin/python -c 'import sys, sysconfig; open(sysconfig.get_path("purelib") \
		+ "/sedcycle-base.pth", "w").write(f"import site; site.addsitedir({sys.argv[1]!r})\n")' \
		"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
	$(CLUSTER_VENV)/bin/python -m pip install --quiet --no-deps -r requirements-cluster.lock
	$(CLUSTER_VENV)/bin/python -m pip check
	printf '#!/bin/sh\nexec "$$(dirname "$$0")/python" -m snakemake "$$@"\n' \
		> $(CLUSTER_VENV)/bin/snakemake
	chmod +x $(CLUSTER_VENV)/bin/snakemake
	touch $@

# Installs and starts a one-node SLURM (root and apt-get needed), runs the workflow through it.
test-cluster: setup-cluster
	SEDCYCLE_CLUSTER_TEST=1 $(BIN)/python -m pytest -q -m cluster

demo: setup
	$(BIN)/snakemake --cores $(CORES)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint --cores 1 --configfile tests/data/tiny.yaml --directory $$(mktemp -d)

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile rules/

test: lint
	$(BIN)/python -m pytest -q --durations=10

# Benchmarks against named baselines (bench/), 5-11 min on 2 cores: writes bench/results.md.
# DEMO_DIR: a finished demo's working directory, whose benchmarks/*.tsv give the demo's minutes.
DEMO_DIR ?= .

bench: setup
	$(BIN)/python bench/run_all.py --demo-workdir $(DEMO_DIR)

# The quality benchmark: bench/quality.yaml over 3 training seeds, as it is, with a stage 2
# then strict k-of-n pseudo-labels (3-epoch and 6-epoch rounds), looser agreement, and controls
# without any pseudo-label; writes bench/quality.md (runs in bench/quality_runs/; README
# "Quality benchmark" gives the minutes). quality-replicate runs the 6-epoch strict variant,
# stage2_then_strict and the 6-epoch control on new seeds 3 and 4; quality-fixes runs the
# soft-target and METHOD.md-fix ablations over all 5 seeds (reusing the runs of the other two
# where they exist); quality-soft-seeds runs the soft-target variants and both controls on
# new seeds 5-7, on which none of them was chosen, and pools them with seeds 0-4 (the runs of
# quality-fixes) in bench/quality_soft_8_seeds.md, with each stage-1 fold model's score;
# quality-mixup reruns seeds 0-2 and 5-7 from a stage 1 trained with mixup
# (stage1.mixup_alpha 0.4), then soft targets (mean and out-of-fold teacher), strict
# pseudo-labels and both controls; quality-mixup-seeds replicates the soft targets of both
# teachers and both controls on new seeds 3, 4 and 8 and pools all nine seeds;
# quality-one-tp repeats recipe and headline with one tp row a recording
# (bench/quality_one_tp.yaml).
QUALITY_VARIANTS = stage2_then_strict stage2_then_strict_6_epochs no_pseudo_labels \
    no_pseudo_labels_6_epochs stage2_then_2_of_3_at_0.8 stage2_then_3_of_3_at_0.6
quality: setup
	$(BIN)/python bench/quality.py --variants $(QUALITY_VARIANTS)

quality-replicate: setup
	$(BIN)/python bench/quality.py --seeds 3 4 --fresh --variants stage2_then_strict_6_epochs \
	    stage2_then_strict no_pseudo_labels_6_epochs stage2_then_strict_unknown_weight_0.1 \
	    --out bench/quality_seeds_3_4.md

quality-fixes: setup
	$(BIN)/python bench/quality.py --seeds 0 1 2 3 4 --fresh --variants stage2_then_strict \
	    no_pseudo_labels no_pseudo_labels_6_epochs stage2_then_strict_soft_1 stage2_then_soft_1 \
	    stage2_then_soft_1_5_rounds stage2_then_strict_no_scaling stage2_then_strict_random_crops \
	    --out bench/quality_fixes.md

quality-soft-seeds: setup
	$(BIN)/python bench/quality.py --seeds 5 6 7 --fresh --variants stage2_then_soft_1 \
	    stage2_then_soft_1_5_rounds no_pseudo_labels no_pseudo_labels_6_epochs \
	    --out bench/quality_seeds_5_7.md
	$(BIN)/python bench/quality.py --summary-only --seeds 0 1 2 3 4 5 6 7 --fresh \
	    --variants stage2_then_soft_1 stage2_then_soft_1_5_rounds no_pseudo_labels \
	    no_pseudo_labels_6_epochs --folds --out bench/quality_soft_8_seeds.md

quality-mixup: setup
	$(BIN)/python bench/quality.py --seeds 0 1 2 5 6 7 --fresh --variants \
	    mixup_0.4_stage2_then_soft_1 mixup_0.4_no_pseudo_labels mixup_0.4_no_pseudo_labels_6_epochs \
	    mixup_0.4_stage2_then_strict mixup_0.4_stage2_then_soft_oof_1 --folds --teachers \
	    --out bench/quality_mixup.md

MIXUP_POOLED = mixup_0.4_stage2_then_soft_1 mixup_0.4_stage2_then_soft_oof_1 \
    mixup_0.4_no_pseudo_labels mixup_0.4_no_pseudo_labels_6_epochs
quality-mixup-seeds: quality-mixup
	$(BIN)/python bench/quality.py --seeds 3 4 8 --fresh --variants $(MIXUP_POOLED) --folds \
	    --teachers --out bench/quality_mixup_seeds_3_4_8.md
	$(BIN)/python bench/quality.py --summary-only --seeds 0 1 2 3 4 5 6 7 8 --fresh \
	    --variants $(MIXUP_POOLED) --folds --teachers --out bench/quality_mixup_9_seeds.md

quality-one-tp: setup
	$(BIN)/python bench/quality.py --config bench/quality_one_tp.yaml \
	    --root bench/quality_runs_one_tp --variants stage2_then_strict \
	    --out bench/quality_one_tp.md

clean-results:
	rm -rf data/synthetic features models predictions pseudo scores logs benchmarks npz \
		folds.csv scores.json scores.csv figures report.html submission.csv predictions.csv predictions_windows.parquet .snakemake
